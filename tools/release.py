"""The release manifest: which version of the pipeline a tree holds, and
whether its files are exactly as that release shipped them.

``tools/release.json`` names the version and the SHA-256 of every shipped file
(the noxfile, ``tools/``, the locks, the two workflows). A pull request that
upgrades the pipeline brings a new manifest and files that match it: the
policy gate then reports one change, "pipeline X -> Y (as released)", instead
of a list of edited files; a file that differs from its release, or one the
release does not ship, is reported as an edit of the pipeline's own code.

    python -m tools.release --check     # the manifest matches this tree
    python -m tools.release --write     # record this tree as the release (a maintainer's step)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tools import git
from tools.errors import PipelineError
from tools.layout import PIPELINE_FILES

MANIFEST = "tools/release.json"
SHIPPED = (
    *PIPELINE_FILES,
    "locks/",
    ".github/workflows/pipeline.yml",
    ".github/workflows/pipeline-trusted.yml",
)
ROOT = Path(__file__).resolve().parents[1]


class ReleaseError(PipelineError):
    """The release manifest is missing, unreadable, or out of date."""


@dataclass(frozen=True)
class Release:
    version: str
    files: dict[str, str]  # shipped path -> sha256


def shipped_files(root: Path, tracked: bool = False) -> dict[str, str]:
    """Every shipped file under ``root`` (but the manifest itself) and its digest:
    git's tracked files when ``tracked`` (a checkout holds caches beside them),
    else every file (a tree read out of git holds nothing else)."""
    if tracked:
        paths = [root / name for name in git.paths("ls-files", "-z", "--", *SHIPPED, cwd=root)]
    else:
        paths = []
        for entry in SHIPPED:
            base = root / entry
            paths += [base] if base.is_file() else sorted(base.rglob("*")) if base.is_dir() else []
    found: dict[str, str] = {}
    for path in paths:
        name = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and name != MANIFEST:
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def read(root: Path) -> Release | None:
    """The manifest ``root`` holds; None without one, or with one that is not a manifest."""
    try:
        document = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        version, lines = document["version"], document["files"]
        files = dict(reversed(str(line).split("  ", 1)) for line in lines)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Release(version, files) if isinstance(version, str) else None


def manifest(version: str, files: dict[str, str]) -> str:
    # One `<sha256>  <path>` line per file, as sha256sum writes them: a digest
    # beside a name like `secrets.py` in a key-value form reads as a leaked key.
    lines = [f"{digest}  {name}" for name, digest in files.items()]
    return json.dumps({"version": version, "files": lines}, indent=2) + "\n"


def as_released(root: Path) -> Release | None:
    """``root``'s release when every shipped file is exactly as it shipped, and
    no other file stands beside them; None otherwise."""
    release = read(root)
    if release is None or shipped_files(root) != release.files:
        return None
    return release


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(prog="release", description=__doc__.splitlines()[0])
    action = options.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true")
    action.add_argument("--write", action="store_true")
    options.add_argument("--version", help="the version to record (default: the manifest's)")
    args = options.parse_args(argv)
    current = read(ROOT)
    if args.write:
        version = args.version or (current.version if current else None)
        if not version:
            print("release: error: no manifest yet: pass --version", file=sys.stderr)
            return 2
        files = shipped_files(ROOT, tracked=True)
        (ROOT / MANIFEST).write_text(manifest(version, files), encoding="utf-8")
        print(f"release: {MANIFEST} records {version}: {len(files)} files")
        return 0
    if current is None:
        print(f"release: error: {MANIFEST} is missing or unreadable", file=sys.stderr)
        return 1
    actual = shipped_files(ROOT, tracked=True)
    stale = sorted(
        name
        for name in set(actual) | set(current.files)
        if actual.get(name) != current.files.get(name)
    )
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        print(
            f"release: error: {MANIFEST} does not match {shown}: "
            "run `python -m tools.release --write`",
            file=sys.stderr,
        )
        return 1
    print(f"release: {current.version}, {len(actual)} files as recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
