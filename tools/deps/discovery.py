"""Which of the repository's files declare dependencies, read into manifests.

Every tracked file (the working tree outside git) whose name says it declares
dependencies: requirements files anywhere (``requirements*.txt``,
``*-requirements.txt``, ``constraints*.txt``, any ``.txt`` under a
``requirements/`` folder), and the files ``tools.deps.forms`` reads
(pyproject.toml, setup.cfg, setup.py, Pipfile, and the locks); plus every file
a requirements file pulls in with ``-r``/``-c``, and the pipeline's own tool
locks under ``locks/``, which are the pipeline's, not the project's.

Files under a test-fixture folder (``fixtures/``, ``testdata/``...) are test
data, not declarations: they are listed as skipped, with that reason. A
repository says explicitly what to audit with ``[tool.pipeline.deps] manifests``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tools import git
from tools.deps import forms, requirements_txt
from tools.deps.declared import PIPELINE, Manifest
from tools.errors import PinError

REQUIREMENTS_NAME = re.compile(
    r"(?:.*[-_.])?requirements(?:[-_.].*)?\.txt|constraints(?:[-_.].*)?\.txt", re.IGNORECASE
)
FIXTURE_FOLDERS = frozenset({"fixtures", "testdata", "test_data", "test-data"})
PIPELINE_LOCKS = "locks/"
LOCK_HEADER = "# pins-sha256: "
# Locks that pin a manifest beside them: its ranges are read from the lock.
LOCKED_BY = {
    "pyproject.toml": re.compile(r"uv\.lock|poetry\.lock|pylock(?:\.[^/]+)?\.toml"),
    "Pipfile": re.compile(r"Pipfile\.lock"),
}
WALK_SKIP = frozenset({".git", ".nox", ".venv", "venv", "node_modules", "reports", "__pycache__"})


@dataclass
class Discovered:
    manifests: list[Manifest] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    local: list[tuple[str, str]] = field(default_factory=list)  # (where, the path it names)


def tracked_files(root: Path) -> list[str]:
    """The repository's files as git tracks them; outside git, the working tree."""
    if git.answer("rev-parse", "--is-inside-work-tree", cwd=root) == "true":
        return git.paths("ls-files", "-z", cwd=root)
    found = []
    for folder, names, files in os.walk(root):
        names[:] = [name for name in names if name not in WALK_SKIP]
        base = Path(folder).relative_to(root)
        found += [(base / name).as_posix() for name in files]
    return found


def declares(path: str) -> bool:
    name = PurePosixPath(path).name
    parent = PurePosixPath(path).parent.name
    return (
        forms.reader(name) is not None
        or bool(REQUIREMENTS_NAME.fullmatch(name))
        or (parent == "requirements" and name.endswith(".txt"))
    )


def is_pipeline_lock(root: Path, path: str) -> bool:
    if not path.startswith(PIPELINE_LOCKS) or not path.endswith(".txt") or path.count("/") != 1:
        return False
    with (root / path).open(encoding="utf-8", errors="replace") as handle:
        return handle.readline().startswith(LOCK_HEADER)


def read_text(root: Path, path: str) -> str:
    full = root / path
    if full.is_symlink() and not full.resolve().is_relative_to(root.resolve()):
        raise PinError(f"{path} is a link out of the repository")
    try:
        return full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PinError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise PinError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise PinError(f"cannot read {path}: {error.strerror or error}") from None


def discover(root: Path, explicit: list[str] | None = None) -> Discovered:
    """Every manifest to audit: ``explicit`` paths (any form), else all the
    repository declares; the pipeline's own locks either way."""
    tracked = tracked_files(root)
    found = Discovered()
    if explicit is not None:
        candidates = [relative(root, path) for path in explicit]
    else:
        candidates = []
        for path in tracked:
            if not declares(path) or path.startswith(PIPELINE_LOCKS):
                continue
            if FIXTURE_FOLDERS & set(PurePosixPath(path).parts[:-1]):
                found.skipped.append((path, "under a test-fixture folder (test data)"))
                continue
            candidates.append(path)
    queue = list(candidates)
    seen: set[str] = set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        manifest = read(root, path, found)
        if manifest is not None:
            found.manifests.append(manifest)
            queue += manifest.includes
    for path in sorted(tracked):
        if path.startswith(PIPELINE_LOCKS) and is_pipeline_lock(root, path):
            manifest = read_requirements(root, path, found)
            manifest.owner = PIPELINE
            found.manifests.append(manifest)
    link_locks(found.manifests)
    return found


def relative(root: Path, path: str) -> str:
    """A manifest named on the command line or in settings, relative to the repository."""
    given = Path(path)
    if given.is_absolute():
        try:
            given = given.resolve().relative_to(root.resolve())
        except ValueError:
            raise PinError(f"{path} lies outside the repository") from None
    return given.as_posix()


def read(root: Path, path: str, found: Discovered) -> Manifest | None:
    name = PurePosixPath(path).name
    if reader := forms.reader(name):
        return reader(read_text(root, path), path)
    return read_requirements(root, path, found)


def read_requirements(root: Path, path: str, found: Discovered) -> Manifest:
    parsed = requirements_txt.read(read_text(root, path), path)
    locked = bool(parsed.declared) and all(entry.exact for entry in parsed.declared)
    manifest = Manifest(
        path, "requirements", declared=parsed.declared, problems=parsed.problems, is_lock=locked
    )
    found.local += [(f"{path}:{line}", target) for line, target in parsed.local]
    includes = []
    for line, written in parsed.includes:
        included = requirements_txt.included_path(path, written)
        if not (root / included).is_file():
            raise PinError(f"{path}:{line}: includes {written}, which does not exist")
        includes.append(included)
    manifest.includes = includes
    return manifest


def link_locks(manifests: list[Manifest]) -> None:
    """Point each pyproject.toml and Pipfile at the lock beside it, if any."""
    for manifest in manifests:
        pattern = LOCKED_BY.get(PurePosixPath(manifest.path).name)
        if pattern is None:
            continue
        folder = PurePosixPath(manifest.path).parent
        locks = sorted(
            other.path
            for other in manifests
            if PurePosixPath(other.path).parent == folder
            and pattern.fullmatch(PurePosixPath(other.path).name)
        )
        manifest.locked_by = locks[0] if locks else None
