"""Put the pipeline into another repository, or upgrade it there.

    nox -s adopt -- PATH [--force] [--no-run] [-- PIPELINE OPTIONS]

Run from a clone of this project. It installs the pipeline's files as this
clone's HEAD commit holds them, merges the pipeline's dependency groups and a
``[tool.pipeline]`` table (the layout it found) into the repository's
``pyproject.toml`` with tomlkit (every comment and byte of the user's kept),
records the commit in ``.pipeline/adopted.json``, and leaves everything as a
working-tree change for review (new files are added with ``git add -N``, so
``git diff`` shows them too). Run again from a newer clone, it merges each
pipeline file three ways (``git merge-file``) against the recorded commit: the
user's edits are kept, conflicts are written with conflict markers and listed.

It never overwrites what it did not install: an existing file of the same
name, a ``tools/`` package of the user's, a dependency group of the same name,
a ``.gitignore`` that would hide a pipeline file are listed with the one action
to take, and the command exits 1 while any is unresolved. Bad input (not a git
repository, a dirty working tree without ``--force``, a ``pyproject.toml`` that
is not TOML, no Python at all) is one line and exit 2, with nothing changed.

Why code of our own rather than copier: copier's update replays the template
over the project with its own answers file and needs the template as a git
repository with tags; what has to be merged here is a handful of files plus two
TOML tables, and the three-way merge is git's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from tools import git, layout, release, reports, settings, verdict
from tools.deps import discovery
from tools.deps.declared import PIPELINE
from tools.errors import PipelineError
from tools.pipeline import summary
from tools.text import console, console_line

ROOT = Path(__file__).resolve().parents[1]
RECORD = ".pipeline/adopted.json"
# What an adopting repository gets beyond the release's own files: the rule
# pack with its fixtures, and the gitleaks configuration.
CODEOWNERS = ".github/CODEOWNERS"
INSTALLED = (*release.SHIPPED, ".semgrep/", ".gitleaks.toml", CODEOWNERS)
CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
# What the pipeline writes into the checkout and must never be committed.
IGNORED = ("/reports/", "/.nox/")
WORKFLOW = ".github/workflows/pipeline.yml"
WORKFLOW_BRANCHES = "    branches: [main]\n"


class AdoptError(PipelineError):
    """The target cannot be adopted as it stands; nothing was changed."""


@dataclass
class Plan:
    """What adoption does to the target: every write, and what it cannot do."""

    writes: dict[str, bytes | None] = field(default_factory=dict)  # path -> content (None: delete)
    done: list[tuple[str, str]] = field(default_factory=list)  # (what happened, path)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (path, the action to take)
    found: list[tuple[str, str]] = field(default_factory=list)  # (what, value): the layout
    upgrade: str | None = None  # the release it upgrades from, if any
    first: bool = True  # no release recorded yet

    def write(self, path: str, content: bytes | None, what: str) -> None:
        self.writes[path] = content
        self.done.append((what, path))


# -- the two sides: this clone's commits, and the target's working tree -------


def source_commit() -> str:
    return git.output("rev-parse", "HEAD", cwd=ROOT)


def files_at(commit: str) -> dict[str, bytes]:
    """The installed files as ``commit`` of this clone holds them."""
    names = git.paths("ls-tree", "-r", "-z", "--name-only", commit, "--", *INSTALLED, cwd=ROOT)
    return {name: git.run_bytes("show", f"{commit}:{name}", cwd=ROOT) for name in names}


def read_record(target: Path) -> dict[str, str] | None:
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise AdoptError(f"{RECORD} is unreadable ({error}): restore it from git") from None
    if not isinstance(record, dict) or not isinstance(record.get("commit"), str):
        raise AdoptError(f"{RECORD} names no commit: restore it from git")
    return record


def check_target(target: Path, force: bool) -> list[str]:
    """The target's tracked files, once it is known to be a clean repository
    holding Python."""
    if not target.is_dir():
        raise AdoptError(f"{target} is not a directory")
    top = git.answer("rev-parse", "--show-toplevel", cwd=target)
    if top is None or Path(top).resolve() != target.resolve():
        raise AdoptError(f"{target} is not the top of a git repository")
    if target.resolve() == ROOT:
        raise AdoptError("the target is this clone itself: name another repository")
    if not force and git.output("status", "--porcelain", cwd=target):
        raise AdoptError(
            f"{target} has uncommitted changes: commit or stash them (or pass --force)"
        )
    tracked = git.paths("ls-files", "-z", cwd=target)
    markers = {"pyproject.toml", "setup.py", "setup.cfg"}
    if not any(name.endswith(".py") or name in markers for name in tracked):
        raise AdoptError(f"{target} holds no Python: no .py file, pyproject.toml or setup.py")
    return tracked


def read_pyproject(target: Path) -> tuple[str, tomlkit.TOMLDocument]:
    """The target's pyproject.toml, as text and as the document adoption merges
    into ("" and an empty one without a file): TOML, with tables where tables go."""
    path = target / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as error:
        raise AdoptError(f"pyproject.toml is not TOML ({error}): fix it first") from None
    for key in ("project", "tool", "dependency-groups"):
        if not isinstance(document.get(key, {}), dict):
            raise AdoptError(f"pyproject.toml: {key} must be a table: fix it first")
    return text, document


# -- files --------------------------------------------------------------------


def merge3(ours: bytes, base: bytes, theirs: bytes, name: str) -> tuple[bytes, bool]:
    """git's three-way merge of one file; True when it left conflicts."""
    with tempfile.TemporaryDirectory(prefix="adopt-") as scratch:
        paths = []
        for label, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(scratch) / label
            path.write_bytes(content)
            paths.append(str(path))
        labels = ("-L", f"{name} (yours)", "-L", "recorded", "-L", f"{name} (this release)")
        result = git.run("merge-file", "-p", *labels, *paths)
    if result.returncode < 0 or result.returncode > 127:
        raise AdoptError(f"git merge-file failed on {name}")
    return result.stdout.encode("utf-8", "surrogateescape"), result.returncode != 0


def plan_files(
    target: Path,
    tracked: list[str],
    new: dict[str, bytes],
    old: dict[str, bytes] | None,
    plan: Plan,
) -> None:
    """Each installed file: added, updated, kept, merged, or a conflict."""
    if old is None:
        own = sorted(name for name in tracked if name.startswith("tools/"))
        if own or "tools.py" in tracked:
            plan.conflicts.append(
                (
                    "tools/",
                    "the pipeline's code is the `tools` package: move your own tools/ "
                    "(or tools.py) elsewhere, for example scripts/, and run adopt again",
                )
            )
            new = {name: content for name, content in new.items() if not name.startswith("tools/")}
    for name, theirs in new.items():
        path = target / name
        ours = path.read_bytes() if path.is_file() else None
        plan_file(
            name,
            ours,
            old.get(name) if old is not None else None,
            theirs,
            first=old is None,
            plan=plan,
        )
    for name, base in (old or {}).items():
        path = target / name
        if name in new or not path.is_file():
            continue
        if path.read_bytes() == base:
            plan.write(name, None, "removed (no longer part of the pipeline)")
        else:
            plan.conflicts.append(
                (
                    name,
                    f"{name} was dropped by this release but edited here: "
                    "delete it, or keep it and rename it",
                )
            )


def plan_file(
    name: str, ours: bytes | None, base: bytes | None, theirs: bytes, *, first: bool, plan: Plan
) -> None:
    """One installed file: yours, the recorded release's, and this release's."""
    if ours == theirs:
        return
    if ours is None:
        if not first and base is not None:
            plan.done.append(("kept deleted (you removed it)", name))
        else:
            plan.write(name, theirs, "added")
    elif first:
        plan.conflicts.append((name, f"{name} is yours: move it aside and run adopt again"))
    elif base is None or ours == base:
        plan.write(name, theirs, "updated")
    elif theirs == base:
        plan.done.append(("kept (your edit)", name))
    else:
        merged, conflicted = merge3(ours, base, theirs, name)
        plan.write(name, merged, "merged with your edit")
        if conflicted:
            plan.conflicts.append((name, f"resolve the conflict markers in {name}"))


def plan_workflow(target: Path, branch: str, plan: Plan) -> None:
    """The workflow's push trigger names the repository's default branch."""
    if branch == "main" or WORKFLOW not in plan.writes:
        return
    content = plan.writes[WORKFLOW]
    if content is None or WORKFLOW_BRANCHES.encode() not in content:
        return
    quoted = json.dumps(branch)
    plan.writes[WORKFLOW] = content.replace(
        WORKFLOW_BRANCHES.encode(), f"    branches: [{quoted}]\n".encode()
    )
    plan.done.append((f"push trigger set to {quoted}", WORKFLOW))


def plan_codeowners(target: Path, new: dict[str, bytes], plan: Plan) -> None:
    """The pipeline's policy paths in the repository's CODEOWNERS: its file kept,
    missing entries appended."""
    ours = new[CODEOWNERS].decode("utf-8")
    existing = next((name for name in CODEOWNERS_PLACES if (target / name).is_file()), None)
    if existing is None:
        plan.write(CODEOWNERS, ours.encode(), "added (name your security team in it)")
        return
    text = (target / existing).read_text(encoding="utf-8", errors="replace")
    # A pattern already owned keeps its owners: a later line would override them.
    have = {pattern for _line, pattern in owner_lines(text)}
    missing = [line for line, pattern in owner_lines(ours) if pattern not in have]
    if missing:
        block = "\n# The pipeline's policy files (nox -s adopt): name your security team.\n"
        tail = "" if text.endswith("\n") else "\n"
        plan.write(
            existing,
            (text + tail + block + "\n".join(missing) + "\n").encode(),
            f"{len(missing)} entries appended",
        )


def owner_lines(text: str) -> list[tuple[str, str]]:
    """Each rule line of a CODEOWNERS text, with its path pattern (a leading
    ``/`` dropped, so ``/tools/`` and ``tools/`` are one pattern)."""
    return [
        (line, line.split()[0].lstrip("/"))
        for line in text.splitlines()
        if line.strip() and line[0] != "#"
    ]


def plan_gitignore(target: Path, new: dict[str, bytes], plan: Plan) -> None:
    path = target / ".gitignore"
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    lines = {line.strip() for line in text.splitlines()}
    missing = [
        entry
        for entry in IGNORED
        if entry not in lines and entry.strip("/") not in lines and entry.lstrip("/") not in lines
    ]
    if missing:
        tail = "" if not text or text.endswith("\n") else "\n"
        addition = "# What the pipeline writes (nox -s adopt)\n" + "\n".join(missing) + "\n"
        plan.write(".gitignore", (text + tail + addition).encode(), "lines appended")
    hidden = git.run(
        "check-ignore", "--no-index", "--stdin", "-z", cwd=target, input="\0".join(new) + "\0"
    ).stdout.split("\0")
    hidden = [name for name in hidden if name and name != RECORD]
    if hidden:
        shown = ", ".join(hidden[:3]) + (f" and {len(hidden) - 3} more" if len(hidden) > 3 else "")
        plan.conflicts.append((".gitignore", f"it ignores {shown}: un-ignore them (a `!` line)"))


# -- pyproject.toml ------------------------------------------------------------


def pipeline_groups(document: Any) -> dict[str, Any]:
    groups = document.get("dependency-groups", {}) if document is not None else {}
    return {name: value.unwrap() for name, value in groups.items() if name.startswith("pipeline-")}


def found_layout(target: Path, tracked: list[str], plan: Plan) -> dict[str, list[str]]:
    """The layout adoption writes into [tool.pipeline], and what it shows."""
    defaults = settings.Settings()
    tests = layout.test_paths(target, defaults)
    packages = layout.source_packages(target, defaults) or layout.top_level_modules(tracked)
    source = [package.path for package in packages]
    plan.found.append(("source", ", ".join(source) or "none found"))
    plan.found.append(("tests", ", ".join(tests) or "none found (the test gate will say so)"))
    return {"source": source, "tests": tests}


def first_settings(ours: Any, found: dict[str, list[str]]) -> Any:
    """[tool.pipeline] of a first adoption: the layout found, and the S rules policy."""
    table = tomlkit.table()
    table.add(tomlkit.comment("The layout `nox -s adopt` found; every key is optional."))
    table["source"] = found["source"]
    table["tests"] = found["tests"]
    # The S rules policy (rules that flag safe code, each with the pack rule
    # that catches its dangerous case); the rest keeps the gates' defaults.
    policy = tomlkit.table()
    for code, why in ours["tool"]["pipeline"]["lint"]["ignore"].unwrap().items():
        policy[code] = why
    lint = tomlkit.table()
    lint.add(tomlkit.comment("ruff's S rules that only flag safe code, each with the rule"))
    lint.add(tomlkit.comment("of .semgrep/ that catches the dangerous case (see the README)."))
    lint["ignore"] = policy
    table["lint"] = lint
    return table


def plan_pyproject(
    theirs: tuple[str, Any], new: bytes, old: bytes | None, found: dict[str, list[str]], plan: Plan
) -> None:
    original, document = theirs
    ours = tomlkit.parse(new.decode("utf-8"))
    base = tomlkit.parse(old.decode("utf-8")) if old is not None else None
    theirs_groups, base_groups = pipeline_groups(ours), pipeline_groups(base)
    groups = document.get("dependency-groups")
    if groups is None:
        groups = document["dependency-groups"] = tomlkit.table()
    for name, wanted in theirs_groups.items():
        have = groups.get(name)
        have = have.unwrap() if have is not None else None
        if have == wanted:
            continue
        if have is None or (old is not None and have == base_groups.get(name)):
            groups[name] = wanted
        elif old is None:
            plan.conflicts.append(
                (
                    f"pyproject.toml [dependency-groups] {name}",
                    f"rename your group {name}: the pipeline's tools use it",
                )
            )
        elif wanted != base_groups.get(name):
            plan.conflicts.append(
                (
                    f"pyproject.toml [dependency-groups] {name}",
                    f"you edited {name}: set it to this release's pins",
                )
            )
    tool = document.get("tool")
    if tool is None:
        tool = document["tool"] = tomlkit.table(is_super_table=True)
    if "pipeline" not in tool:
        tool["pipeline"] = first_settings(ours, found)
    else:
        plan.found.append(("[tool.pipeline]", "yours, kept as it is"))
    text = tomlkit.dumps(document)
    if text != original:
        what = "merged (your content kept)" if original else "added"
        plan.write("pyproject.toml", text.encode("utf-8"), what)


def default_branch(target: Path) -> str:
    remote = git.answer("symbolic-ref", "--short", "refs/remotes/origin/HEAD", cwd=target)
    if remote and "/" in remote:
        return remote.split("/", 1)[1]
    return git.answer("symbolic-ref", "--short", "HEAD", cwd=target) or "main"


def python_fit(target: Path, project: Any, plan: Plan) -> None:
    pipeline_python = (ROOT / "locks/python-version").read_text(encoding="utf-8").strip()
    wanted = str(project.get("requires-python", "")).strip()
    pinned = target / ".python-version"
    note = f"gates and tests run on {pipeline_python} (locks/python-version)"
    if pinned.is_file():
        note += f"; your .python-version ({console(pinned.read_text('utf-8', 'replace').strip())}) "
        note += "is left alone"
    if wanted:
        try:
            fits = SpecifierSet(wanted).contains(pipeline_python)
        except InvalidSpecifier:
            fits = True
        note = f"requires-python {wanted!r}: " + note
        if not fits:
            plan.conflicts.append(
                (
                    "requires-python",
                    f"{wanted!r} excludes {pipeline_python}, "
                    "the Python the test gate runs your tests on: widen it",
                )
            )
    plan.found.append(("python", note))


# -- the run --------------------------------------------------------------------


def make_plan(target: Path, tracked: list[str]) -> Plan:
    pyproject = read_pyproject(target)
    commit = source_commit()
    record = read_record(target)
    new = files_at(commit)
    old = None
    if record and record["commit"] == commit:
        old = new
    elif record:
        known = git.answer(
            "rev-parse", "-q", "--verify", f"{record['commit']}^{{commit}}", cwd=ROOT
        )
        if known is None:
            raise AdoptError(
                f"this clone lacks commit {record['commit'][:12]}, which adopted "
                "the pipeline there: fetch it (git fetch --unshallow) and run again"
            )
        old = files_at(record["commit"])
    plan = Plan(
        upgrade=record.get("version", "?") if record and old is not new else None,
        first=record is None,
    )
    branch = default_branch(target)
    plan.found.append(("default branch", branch))
    found = found_layout(target, tracked, plan)
    try:
        declared = discovery.discover(target).manifests
        manifests = [m.path for m in declared if m.owner != PIPELINE]
        plan.found.append(("dependencies", ", ".join(manifests) or "none declared"))
    except PipelineError as error:
        plan.found.append(("dependencies", f"the deps gate will refuse them: {error}"))
    python_fit(target, pyproject[1].get("project", {}), plan)
    shipped = {name: content for name, content in new.items() if name != CODEOWNERS}
    previous = {n: c for n, c in old.items() if n != CODEOWNERS} if old is not None else None
    plan_files(target, tracked, shipped, previous, plan)
    plan_workflow(target, branch, plan)
    plan_codeowners(target, new, plan)
    plan_gitignore(target, shipped, plan)
    base_pyproject = (
        git.run_bytes("show", f"{record['commit']}:pyproject.toml", cwd=ROOT) if record else None
    )
    plan_pyproject(
        pyproject,
        git.run_bytes("show", f"{commit}:pyproject.toml", cwd=ROOT),
        base_pyproject,
        found,
        plan,
    )
    through_links(target, plan)
    version = json.loads(new[release.MANIFEST])["version"]
    wanted = {"version": version, "commit": commit}
    if record != wanted:
        plan.write(
            RECORD,
            (json.dumps(wanted, indent=2) + "\n").encode(),
            f"records {version} ({commit[:12]})",
        )
    return plan


def through_links(target: Path, plan: Plan) -> None:
    """A write through a symbolic link would land outside the repository, or in
    another of its files: each link is a conflict, and nothing is written through it."""
    links: set[str] = set()
    for name in list(plan.writes):
        parts = Path(name).parts
        for depth in range(1, len(parts) + 1):
            link = "/".join(parts[:depth])
            if (target / link).is_symlink():
                links.add(link)
                del plan.writes[name]
                break
    blocked = tuple(links) + tuple(f"{link}/" for link in links)
    plan.done = [(what, name) for what, name in plan.done if not name.startswith(blocked)]
    for link in sorted(links):
        what = "the pipeline installs files there: replace it with a real folder or file"
        plan.conflicts.append((link, f"a symbolic link, where {what}"))


def apply(target: Path, plan: Plan) -> None:
    added = []
    for name, content in plan.writes.items():
        path = target / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            added.append(name)
        path.write_bytes(content)
        if name.startswith("tools/") or name == "noxfile.py":
            path.chmod(0o644)
    if added:
        # Intent to add: `git diff` shows the new files beside the edits.
        git.run("add", "-N", "--", *added, cwd=target)


def run_pipeline(target: Path, nox_python: str, options: list[str]) -> int:
    """The pipeline there, every gate run whatever the others say (--keep-going):
    a first run is for seeing everything; then what each gate covered."""
    print(f"adopt: running the pipeline in {console_line(str(target))}", flush=True)
    wanted = options if "--keep-going" in options else ["--keep-going", *options]
    argv = [nox_python, "-m", "nox", "-s", "pipeline", "--", *wanted]
    result = subprocess.run(argv, cwd=target, check=False)  # the noxfile just installed
    try:
        record = verdict.PipelineRecord.loads((target / reports.PIPELINE_JSON).read_text("utf-8"))
    except (OSError, PipelineError) as error:
        print(f"adopt: the pipeline left no readable record: {console(str(error))}")
        return result.returncode or 1
    for gate in record.gates:
        covered = summary.covered_text(gate)
        shown = covered if covered != "-" else "; ".join(gate.notes[:1]) or gate.reason or "-"
        print(f"adopt: {console(gate.gate)}: {gate.status} ({console(shown)})")
    return result.returncode


def show(plan: Plan, target: Path) -> None:
    for what, value in plan.found:
        print(f"adopt: found {what}: {console(value)}")
    # New files by folder (a first adoption adds a hundred); every other change by name.
    added: dict[str, int] = {}
    for what, name in plan.done:
        if what == "added" and "/" in name.rstrip("/"):
            folder = name.split("/", 1)[0] + "/"
            added[folder] = added.get(folder, 0) + 1
        else:
            print(f"adopt: {console(name)}: {what}")
    if added:
        shown = ", ".join(f"{console(folder)} ({count})" for folder, count in added.items())
        print(f"adopt: added files under {shown}")
    if not plan.writes and plan.conflicts:
        print("adopt: nothing written")
    elif not plan.writes:
        print("adopt: nothing to change: the pipeline is installed as this release ships it")
    else:
        print(
            f"adopt: {len(plan.writes)} file(s) changed in the working tree, nothing "
            f"committed: review with `git diff` in {console_line(str(target))}"
        )
    for name, action in plan.conflicts:
        print(f"adopt: UNRESOLVED {console(name)}: {console(action)}", file=sys.stderr)


def main(argv: Iterable[str] | None = None) -> int:
    options = argparse.ArgumentParser(prog="adopt", description=__doc__.splitlines()[0])
    options.add_argument("target", type=Path)
    options.add_argument("--force", action="store_true", help="adopt into a dirty working tree")
    options.add_argument("--no-run", action="store_true", help="do not run the pipeline after")
    options.add_argument("--nox-python", default=sys.executable, help=argparse.SUPPRESS)
    given = list(argv) if argv is not None else sys.argv[1:]
    pipeline_options = given[given.index("--") + 1 :] if "--" in given else []
    args = options.parse_args(given[: given.index("--")] if "--" in given else given)
    target = args.target.resolve()
    try:
        plan = make_plan(target, check_target(target, args.force))
    except PipelineError as error:
        print(f"adopt: error: {console(str(error))}", file=sys.stderr)
        return 2
    except Exception as error:
        # The edge: one line, not a traceback; nothing has been written yet.
        print(f"adopt: internal error: {type(error).__name__}: {console(str(error))}",
              file=sys.stderr)  # fmt: skip
        return 2
    if plan.first and plan.conflicts:
        # Half a pipeline is of no use, and would make the next run's tree dirty.
        plan.writes.clear()
        plan.done.clear()
    apply(target, plan)
    show(plan, target)
    if plan.conflicts:
        print(
            f"adopt: {len(plan.conflicts)} unresolved: fix each and run adopt again",
            file=sys.stderr,
        )
        return 1
    if args.no_run:
        return 0
    if run_pipeline(target, args.nox_python, pipeline_options) == 0:
        return 0
    if plan.first or plan.upgrade:
        # Old code has findings nobody is changing: hold the line, do not switch gates off.
        print(
            "adopt: findings in code nobody is changing can be recorded as debt: run "
            "`nox -s baseline` there and review .pipeline/baseline.json (see the README)"
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
