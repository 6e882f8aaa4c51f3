"""What a scanning gate scans, decided from git, never from the tool's own walk.

Tools left to walk the checkout themselves honour ``.gitignore`` even for
tracked files (one ``.gitignore`` line blinded ruff and Semgrep), skip what
they find too large, follow no links, and read names they cannot decode as
empty files. So a gate takes every tracked file of the kinds it scans (``git
ls-files``, which no ignore file filters), minus what its policy excludes,
each exclusion with its reason; a link is scanned at its target when the
target is inside the repository, and is a skip when it points outside; a
file too large, or whose name is not UTF-8, is a skip. The gate hands the
tool the list, and records it all in its ``Ledger``.

In pull-request mode (a base), a gate that scans changed files takes only
the tracked files that differ from the merge base of the base and HEAD
(working-tree edits included), and its ledger says "N changed of M".
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tools import git, policy
from tools.ledger import Ledger, Skip

SYMLINK = "120000"


@dataclass(frozen=True)
class Tracked:
    path: str  # as git stores it; bytes that are not UTF-8 kept as surrogates
    mode: str  # git's: 100644, 100755, 120000 (a link)


@dataclass
class Selection:
    targets: list[str] = field(default_factory=list)  # what the tool is handed
    ledger: Ledger = field(default_factory=lambda: Ledger("files"))


@functools.cache
def merge_base() -> str | None:
    """Where the pull request forked from its base; None without a base (or
    when the two share no history: then every file counts as changed)."""
    base = policy.base_ref()
    if not base:
        return None
    return git.answer("merge-base", policy.resolve(base), "HEAD")


@functools.cache
def changed_paths() -> frozenset[str] | None:
    """The files a pull request changes; None outside pull-request mode."""
    if not policy.base_ref():
        return None
    fork = merge_base()
    if fork is None:
        return frozenset(entry.path for entry in tracked(Path.cwd()))
    return frozenset(git.paths("diff", "--name-only", "-z", "--no-renames", fork, "--"))


def tracked(root: Path) -> list[Tracked]:
    """Every file git tracks here, with its mode; outside git, the working tree."""
    if git.answer("rev-parse", "--is-inside-work-tree", cwd=root) == "true":
        entries = []
        for line in git.paths("ls-files", "-z", "-s", cwd=root):
            meta, _, path = line.partition("\t")
            entries.append(Tracked(path, meta.split(" ", 1)[0]))
        return entries
    found = []
    for folder, names, files in os.walk(root):
        names[:] = [n for n in names if n not in {".git", ".nox", ".venv", "reports"}]
        for name in files:
            full = Path(folder) / name
            mode = SYMLINK if full.is_symlink() else "100644"
            found.append(Tracked(full.relative_to(root).as_posix(), mode))
    return found


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style glob: without a ``/`` it matches a name at any depth;
    with one, a path from the repository's root; either way everything under a
    folder it matches."""
    text = pattern.strip().removeprefix("./")
    anchored = "/" in text.rstrip("/")
    text = text.rstrip("/")
    regex = ""
    index = 0
    while index < len(text):
        if text.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif text.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif text[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif text[index] == "?":
            regex, index = regex + "[^/]", index + 1
        else:
            regex, index = regex + re.escape(text[index]), index + 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{regex}(?:/.*)?")


def matching(path: str, patterns: dict[str, str]) -> str | None:
    """The reason of the first pattern ``path`` falls under, if any."""
    for pattern, why in patterns.items():
        if glob_regex(pattern).fullmatch(path):
            return why
    return None


def shown_name(path: str) -> str:
    """A name git holds in bytes that are not UTF-8, with those bytes as ``\\xff``."""
    raw = path.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def readable_name(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: bytes git holds that are not UTF-8
        return False
    return not any(ord(char) < 32 for char in path)


def select(
    root: Path,
    *,
    kind: Callable[[str], bool],
    exclusions: dict[str, str],
    accepted: dict[str, str] | None = None,
    max_bytes: int | None = None,
    changed: frozenset[str] | None = None,
) -> Selection:
    """The files of ``kind`` a gate scans, and its ledger before the tool runs;
    with ``changed`` (pull-request mode), those of them a pull request changed."""
    accepted = accepted or {}
    chosen = Selection()
    ledger = chosen.ledger
    root_resolved = root.resolve()
    entries = [entry for entry in tracked(root) if kind(entry.path)]
    ledger.total = len(entries)
    if changed is not None:
        ledger.changed_only = True
        entries = [entry for entry in entries if entry.path in changed]
        ledger.unchanged = ledger.total - len(entries)

    def skip(path: str, why: str) -> None:
        ledger.skipped.append(Skip(path, why, matching(path, accepted)))

    for entry in entries:
        path = entry.path
        if not readable_name(path):
            skip(shown_name(path), "its name is not UTF-8 text")
            continue
        if why := matching(path, exclusions):
            ledger.excluded.append(Skip(path, why))
            continue
        target = path
        if entry.mode == SYMLINK:
            link = root / path
            resolved = link.resolve()
            if not resolved.is_relative_to(root_resolved):
                skip(path, "a link out of the repository")
                continue
            if not resolved.is_file():
                skip(path, "a link to no file")
                continue
            target = resolved.relative_to(root_resolved).as_posix()
            ledger.notes.append(f"{path} links to {target}: scanned at its target")
        full = root / target
        if not full.is_file():
            skip(path, "tracked, but missing from the checkout")
            continue
        if max_bytes is not None and full.stat().st_size > max_bytes:
            skip(path, f"over {max_bytes // 1_000_000} MB, the gate's size limit")
            continue
        if target not in chosen.targets:
            chosen.targets.append(target)
    return chosen


def suffix_in(*suffixes: str) -> Callable[[str], bool]:
    return lambda path: PurePosixPath(path).suffix in suffixes
