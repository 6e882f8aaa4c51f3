"""Gate policy: everything that decides how the gates judge a change.

A pull request is judged by its base's policy, never its own: with a base
(``PIPELINE_BASE_REF``, or ``nox -s pipeline -- --base REF``) the base's policy
files are taken out of git (``materialize``) into a folder of their own, and
every gate runs from there (``PIPELINE_POLICY_ROOT``: its code, its locks, its
rules, allowlists and settings) against the pull request's checkout. A pull
request's change to any of them takes effect once merged; the ``policy`` gate
reports each change in plain words.

A base that has no pipeline yet (the pull request that adopts it) is judged by
the pipeline's shipped defaults: its files as the pull request brings them,
without the project's own settings, ignores and baseline.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tools import git
from tools.errors import PipelineError

# Every file that is policy, in one list: the pipeline's code and locks, its
# rules, their exclusions, the allowlists and ignores, the settings (in
# pyproject.toml: [tool.pipeline], [tool.ruff] and the pipeline-* groups), the
# project's ruff and zizmor configurations, the workflows and their owners.
POLICY_PATHS = (
    "noxfile.py",
    "tools/",
    "locks/",
    ".semgrep/",
    ".semgrepignore",
    ".gitleaks.toml",
    ".gitleaksignore",
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    ".github/workflows/",
    ".github/zizmor.yml",
    ".github/CODEOWNERS",
    ".pipeline/",
)
ROOT_ENV = "PIPELINE_POLICY_ROOT"
BASE_ENV = "PIPELINE_BASE_REF"
# The checkout a base's noxfile judges, when the pipeline runs it from the base's tree.
TARGET_ENV = "PIPELINE_TARGET"
# In a materialized tree: the commit it was taken from, written once it is whole.
COMMIT_MARK = ".policy-commit"
# What marks a tree that holds the pipeline: without it, a base is one the pipeline
# is being adopted into.
PIPELINE_MARK = "tools/gates/__init__.py"
# What the adopting pull request brings of the project's own, and is not honoured
# until merged: its settings, its accepted secrets, its baseline.
PROJECT_OWN = (".gitleaksignore", ".pipeline/")
# Left in a materialized tree that stands for a base without a pipeline.
ADOPTING_MARK = ".adopting"
# Set in the run that scans the base's versions of a pull request's changed
# files (tools.baseline): it must not start another, and may find no file.
BASE_SIDE_ENV = "PIPELINE_BASE_SIDE"


class PolicyError(PipelineError):
    """The base's policy cannot be read."""


@dataclass(frozen=True)
class Change:
    """One change to gate policy, in plain words."""

    where: str  # the file it is in
    what: str  # "rule flask-debug-true: ERROR -> WARNING"
    tightens: bool  # strictly: nothing the gates caught before passes now


def root() -> Path:
    """Where the policy the gates apply lives: the base's, in a pull request;
    the checkout itself otherwise."""
    return Path(os.environ.get(ROOT_ENV) or ".")


def path(name: str) -> Path:
    return root() / name


def base_ref() -> str | None:
    """The pull request's base: PIPELINE_BASE_REF, else, in GitHub Actions on a pull
    request, the branch it targets (``origin/<GITHUB_BASE_REF>``, which a checkout
    with ``fetch-depth: 0`` holds)."""
    given = (os.environ.get(BASE_ENV) or "").strip()
    if given:
        return given
    target = (os.environ.get("GITHUB_BASE_REF") or "").strip()
    return f"origin/{target}" if target and os.environ.get("GITHUB_ACTIONS") == "true" else None


def partial_scan() -> bool:
    """A scan of part of the repository: a pull request's changed files, or
    the base's versions of them. Finding no file to scan is then no error."""
    return bool(base_ref() or os.environ.get(BASE_SIDE_ENV))


@dataclass(frozen=True)
class Materialized:
    folder: Path
    commit: str  # the base's commit
    adopting: bool  # the base has no pipeline: the shipped defaults judge


def resolve(ref: str, cwd: Path | None = None) -> str:
    if ref.startswith("-"):
        raise PolicyError(f"base ref {ref!r} is not a revision")
    found = git.answer("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd)
    if not found:
        raise PolicyError(
            f"base ref {ref!r} does not resolve to a commit here: fetch it "
            "(actions/checkout with `fetch-depth: 0`)"
        )
    return found


def _tree_has(commit: str, name: str, cwd: Path | None) -> bool:
    return git.run("cat-file", "-e", f"{commit}:{name}", cwd=cwd).returncode == 0


def _extract(commit: str, dest: Path, cwd: Path | None) -> None:
    """The policy files of ``commit`` under ``dest``, straight from git's objects."""
    present = [name for name in POLICY_PATHS if _tree_has(commit, name.rstrip("/"), cwd)]
    if not present:
        return
    result = git.run_bytes("archive", "--format=tar", commit, "--", *present, cwd=cwd)
    with tarfile.open(fileobj=io.BytesIO(result), mode="r:") as archive:
        # "data": no absolute names, no links out of dest, no devices.
        archive.extractall(dest, filter="data")


def extract(ref: str, dest: Path, cwd: Path | None = None) -> str:
    """The policy files of ``ref``, as its commit holds them, under ``dest``: read
    as data, never run. Returns the commit."""
    commit = resolve(ref, cwd)
    dest.mkdir(parents=True, exist_ok=True)
    _extract(commit, dest, cwd)
    return commit


def materialize(ref: str, dest: Path, cwd: Path | None = None) -> Materialized:
    """The base's policy at ``dest``, read from git: nothing the checkout holds
    (its working tree, its attributes) takes part."""
    base = resolve(ref, cwd)
    dest.mkdir(parents=True, exist_ok=True)
    if _tree_has(base, PIPELINE_MARK, cwd):
        _extract(base, dest, cwd)
        return Materialized(dest, base, adopting=False)
    head = resolve("HEAD", cwd)
    _extract(head, dest, cwd)
    for name in PROJECT_OWN:
        target = dest / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    _without_settings(dest / "pyproject.toml")
    (dest / ADOPTING_MARK).write_text("the base has no pipeline: shipped defaults\n", "utf-8")
    return Materialized(dest, base, adopting=True)


def materialize_once(ref: str, dest: Path, cwd: Path | None = None) -> Path:
    """``materialize``, unless ``dest`` already holds that commit's tree whole."""
    commit = resolve(ref, cwd)
    mark = dest / COMMIT_MARK
    if mark.is_file() and mark.read_text(encoding="utf-8").strip() == commit:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    materialize(ref, dest, cwd)
    mark.write_text(commit + "\n", encoding="utf-8")
    return dest


def tree_commit(folder: Path) -> str | None:
    """The commit a materialized tree was taken from; None for a checkout."""
    mark = folder / COMMIT_MARK
    return mark.read_text(encoding="utf-8").strip() if mark.is_file() else None


def _without_settings(pyproject: Path) -> None:
    """pyproject.toml without [tool.pipeline]: the shipped defaults apply."""
    if not pyproject.is_file():
        return
    kept, skipping = [], False
    for line in pyproject.read_text(encoding="utf-8").splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[") and not header.startswith("[["):
            skipping = header.strip("[] ").startswith("tool.pipeline")
        if not skipping:
            kept.append(line)
    pyproject.write_text("".join(kept), encoding="utf-8")


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"{path.name} is not TOML: {error}") from None
