"""A repository's history as the text the secrets scan reads.

Read with git plumbing only, so that nothing in the repository can change what
is read: `rev-list` lists the commits, `diff-tree --raw` names each commit's
changed files against each of its parents, and `cat-file --batch` hands over the
stored bytes of every file version, commit and tag. None of these consults
`.gitattributes`, diff drivers, textconv or external diff programs (the options
that would turn them off are passed all the same, and the git configuration that
could rewrite history for this process, replace refs, grafts and commit-graph
files, is turned off). A file is then read by ``tools.blobtext``: as text, or as
the text runs of a binary, with what its archives hold.

What a commit brings is every line of each changed file that its parent's
version of the file lacks (a set difference, so a moved line is not new), plus
``CONTEXT`` lines around each run of new lines so that a key split over lines
keeps its armour (`-----BEGIN ... KEY-----`). A merge commit is diffed against
each parent, and what it brings is what every parent lacks: the lines of a
conflict resolution or of an "evil merge". A line one parent brings was read
in that parent's own commits.

Each commit's own object (author, committer and the whole message) and every
annotated tag object pointing at a scanned commit are read as text too.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools import blobtext
from tools.errors import GateError
from tools.text import last_line

# Lines kept around each run of new lines. A PEM key's body changes while its
# BEGIN/END lines stay: with 1 line of context the armour comes along. Findings
# that lie wholly in context lines are dropped (they were read before).
CONTEXT = 1
# Where a commit's and a tag's own text is reported: git never tracks a path
# inside `.git/`, so these can be no file's name.
MESSAGE_PATH = ".git/COMMIT_EDITMSG"
TAG_PATH = ".git/TAG_EDITMSG"
SUBMODULE_MODE = b"160000"
KNOWN_VERSIONS = 1024
# `-c` settings for every git call: whatever the system, global and repository
# configuration say, nothing is converted and no other history is substituted.
GIT_OVERRIDES = (
    "core.attributesFile=/dev/null",
    "diff.external=",
    "core.useReplaceRefs=false",
    "core.commitGraph=false",
    "core.quotePath=false",
)
# Environment variables that could change what git reads or runs.
GIT_ENV_DROPPED = ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_REPLACE_REF_BASE")


@dataclass(frozen=True)
class Entry:
    """One text to scan: a file version's new lines, a commit or a tag object."""

    kind: str  # "file", "message" or "tag"
    commit: str | None  # the commit (the tag object, for a tag); None outside git
    path: str  # the file, "!member" appended inside archives; MESSAGE_PATH, TAG_PATH
    rows: list[tuple[int, bytes, bool]]  # (line, text, new): context rows are not new


@dataclass
class Coverage:
    """What was read: the record of what the scan covered."""

    commits: int = 0
    merges: int = 0
    parent_diffs: int = 0  # one per (commit, parent); a root commit's against nothing
    messages: int = 0
    tags: int = 0
    files: int = 0  # file versions that brought new lines
    binary_files: int = 0
    archive_members: int = 0
    unreadable_members: int = 0
    bytes_read: int = 0  # stored bytes of every file version, commit and tag read


def git_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in GIT_ENV_DROPPED}
    # Untranslated messages; no replace objects; no grafts; never a prompt.
    return env | {
        "LC_ALL": "C",
        "LANGUAGE": "C",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_GRAFT_FILE": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }


def git_argv(*args: str) -> list[str]:
    overrides = [part for setting in GIT_OVERRIDES for part in ("-c", setting)]
    return ["git", "--no-pager", *overrides, *args]


def run_git(args: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(
            git_argv(*args),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=git_env(),
            check=False,
        )
    except FileNotFoundError:
        raise GateError("git is not installed: the history cannot be read") from None
    except subprocess.TimeoutExpired:
        raise GateError(f"git {args[0]} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        why = last_line(result.stderr.decode("utf-8", "replace"))
        raise GateError(f"git {args[0]} failed (exit {result.returncode}): {why}")
    return result.stdout


class Objects:
    """`git cat-file --batch`: stored bytes by object id, one process for all."""

    def __init__(self, timeout: float) -> None:
        try:
            self.process = subprocess.Popen(
                git_argv("cat-file", "--batch"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=git_env(),
            )
        except FileNotFoundError:
            raise GateError("git is not installed: the history cannot be read") from None
        self.requests, self.answers = self.process.stdin, self.process.stdout
        # A hung read (a partial clone fetching a missing object) ends the process.
        self.watchdog = threading.Timer(timeout, self.process.kill)
        self.watchdog.start()
        self.bytes_read = 0
        # Row texts of recent file versions: a version read as a commit's new
        # file is the next commit's old one (saves 1 s of 3,000 commits).
        self.known: OrderedDict[str, frozenset[bytes]] = OrderedDict()

    def read(self, oid: str) -> tuple[str, bytes]:
        """(type, bytes) of an object; a missing one is an error: never skipped."""
        try:
            self.requests.write(oid.encode() + b"\n")
            self.requests.flush()
            header = self.answers.readline().split()
        except (BrokenPipeError, OSError):
            header = []
        if len(header) != 3:
            why = " ".join(part.decode("utf-8", "replace") for part in header[1:]) or "no answer"
            raise GateError(f"git cannot read object {oid} ({why}): the history is incomplete")
        size = int(header[2])
        data = self.answers.read(size + 1)[:size]  # then the newline after it
        if len(data) != size:
            raise GateError(f"git cat-file stopped while reading {oid}: re-run the gate")
        self.bytes_read += size
        return header[1].decode(), data

    def lines(self, oid: str) -> frozenset[bytes]:
        """Every row text of a file version, archive members included: what a
        later version's line must not be among to be new."""
        if oid not in self.known:
            _, data = self.read(oid)
            self.remember(oid, blobtext.unpack(data, oid))
        self.known.move_to_end(oid)
        return self.known[oid]

    def remember(self, oid: str, unpacked: blobtext.Unpacked) -> None:
        self.known[oid] = frozenset(text for part in unpacked.texts for _, text in part.rows)
        if len(self.known) > KNOWN_VERSIONS:
            self.known.popitem(last=False)

    def close(self) -> None:
        self.watchdog.cancel()
        self.requests.close()
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> Objects:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class Change:
    old: str | None  # the parent's version (the rename source's, for a rename); None if added
    new: str
    path: str


def commits(revisions: Sequence[str], timeout: float) -> list[tuple[str, tuple[str, ...]]]:
    """(commit, parents) of every commit ``revisions`` select (`rev-list` syntax)."""
    out = run_git(["rev-list", "--parents", *revisions, "--"], timeout=timeout)
    listed = []
    for line in out.decode().splitlines():
        commit, *parents = line.split()
        listed.append((commit, tuple(parents)))
    return listed


def parent_diffs(
    listed: Sequence[tuple[str, tuple[str, ...]]], timeout: float
) -> Iterator[list[Change]]:
    """The changes of each (commit, parent) pair, in order: a root commit's
    against nothing. One `diff-tree --stdin` for the whole history."""
    requests = [
        " ".join((commit, parent) if parent else (commit,))
        for commit, parents in listed
        for parent in parents or ("",)
    ]
    out = run_git(
        [
            "diff-tree",
            "--stdin",
            "-r",
            "-z",
            "--raw",
            "--no-abbrev",
            "-M",
            "--root",
            "--always",  # an empty diff still echoes its commit, so answers stay in step
            "--no-textconv",
            "--no-ext-diff",
        ],
        timeout=timeout,
        stdin="".join(request + "\n" for request in requests).encode(),
    )
    sections = _raw_sections(out.split(b"\0"))
    if len(sections) != len(requests):
        raise GateError(
            f"git diff-tree answered {len(sections)} of {len(requests)} diffs: re-run the gate"
        )
    yield from sections


def _raw_sections(tokens: list[bytes]) -> list[list[Change]]:
    """Parse `diff-tree -z --raw` output: a commit id, then entries
    `:oldmode newmode oldsha newsha status`, each followed by its path (two
    paths, source first, for a rename or copy)."""
    sections: list[list[Change]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token:
            continue
        if not token.startswith(b":"):
            sections.append([])
            continue
        old_mode, new_mode, old, new, status = token[1:].split(b" ")
        paths = tokens[index : index + (2 if status[:1] in b"RC" else 1)]
        index += len(paths)
        if status[:1] == b"D" or new_mode == SUBMODULE_MODE:
            continue  # nothing new: a deletion, or a submodule's commit id
        had_blob = status[:1] != b"A" and old_mode != SUBMODULE_MODE
        sections[-1].append(
            Change(old.decode() if had_blob else None, new.decode(), os.fsdecode(paths[-1]))
        )
    return sections


def new_rows(rows: blobtext.Rows, old: frozenset[bytes]) -> list[tuple[int, bytes, bool]]:
    """The rows not in ``old``, with ``CONTEXT`` rows either side of each run."""
    fresh = [index for index, (_, text) in enumerate(rows) if text not in old]
    keep: dict[int, bool] = {}
    for index in fresh:
        for near in range(max(0, index - CONTEXT), min(len(rows), index + CONTEXT + 1)):
            keep.setdefault(near, False)
        keep[index] = True
    return [(*rows[index], keep[index]) for index in sorted(keep)]


class Reader:
    """Reads the commits of a range into entries, counting what it read."""

    def __init__(self, objects: Objects, coverage: Coverage) -> None:
        self.objects, self.coverage = objects, coverage

    def file_entries(self, commit: str, diffs: list[list[Change]]) -> Iterator[Entry]:
        by_parent = [{change.path: change for change in diff} for diff in diffs]
        # A path a parent's version equals brings nothing that parent lacks.
        paths = set(by_parent[0]).intersection(*by_parent[1:])
        for path in sorted(paths):
            changes = [changed[path] for changed in by_parent]
            old: frozenset[bytes] = frozenset().union(
                *(self.objects.lines(change.old) for change in changes if change.old)
            )
            _, data = self.objects.read(changes[0].new)
            try:
                unpacked = blobtext.unpack(data, path)
            except blobtext.Unscannable as error:
                raise GateError(f"{path} in commit {commit[:12]}: {error}") from None
            self.objects.remember(changes[0].new, unpacked)
            brought = False
            for text in unpacked.texts:
                rows = new_rows(text.rows, old)
                if rows:
                    brought = True
                    yield Entry("file", commit, path + text.suffix, rows)
            if brought:
                self.coverage.files += 1
                self.coverage.binary_files += unpacked.texts[0].binary
                self.coverage.archive_members += unpacked.members
                self.coverage.unreadable_members += unpacked.unreadable

    def object_entry(self, kind: str, oid: str) -> tuple[Entry, bytes]:
        _, data = self.objects.read(oid)
        rows = [(number, text, True) for number, text in blobtext.lines(data)[1]]
        return Entry(kind, oid, MESSAGE_PATH if kind == "message" else TAG_PATH, rows), data


def read(revisions: Sequence[str], *, timeout: float) -> tuple[Iterator[Entry], Coverage]:
    """The entries of every commit ``revisions`` select, and the coverage they
    fill in as they are consumed (the commit count is known at once)."""
    listed = commits(revisions, timeout)
    coverage = Coverage(commits=len(listed))
    return _entries(listed, timeout, coverage), coverage


def _entries(
    listed: list[tuple[str, tuple[str, ...]]], timeout: float, coverage: Coverage
) -> Iterator[Entry]:
    if not listed:
        return
    diffs = iter(parent_diffs(listed, timeout))
    with Objects(timeout) as objects:
        reader = Reader(objects, coverage)
        for commit, parents in listed:
            own = [next(diffs) for _ in parents or ("",)]
            coverage.parent_diffs += len(own)
            coverage.merges += len(parents) > 1
            yield from reader.file_entries(commit, own)
            entry, _ = reader.object_entry("message", commit)
            coverage.messages += 1
            yield entry
        yield from _tag_entries(reader, {commit for commit, _ in listed}, timeout)
        coverage.bytes_read = objects.bytes_read


def _tag_entries(reader: Reader, scanned: set[str], timeout: float) -> Iterator[Entry]:
    """Every annotated tag object (tags of tags included) that leads to a
    scanned commit: other tags belong to other histories."""
    out = run_git(
        ["for-each-ref", "--format=%(objectname) %(objecttype)", "refs/tags"], timeout=timeout
    )
    for line in out.decode().splitlines():
        oid, kind = line.split()
        chain: list[Entry] = []
        while kind == "tag" and len(chain) < 16:  # a tag of a tag of ...: a short chain
            entry, data = reader.object_entry("tag", oid)
            chain.append(entry)
            headers = dict(
                header.split(b" ", 1) for header in data.split(b"\n\n", 1)[0].split(b"\n")
            )
            oid, kind = headers[b"object"].decode(), headers[b"type"].decode()
        if kind == "commit" and oid in scanned:
            reader.coverage.tags += len(chain)
            yield from chain


def working_tree(root: Path, skip: Sequence[str]) -> tuple[Iterator[Entry], Coverage]:
    """Outside git: every regular file under ``root`` (symlinks not followed),
    minus the folders named in ``skip`` and any `.git`."""
    coverage = Coverage()
    return _tree_entries(root, set(skip) | {".git"}, coverage), coverage


def _tree_entries(root: Path, skip: set[str], coverage: Coverage) -> Iterator[Entry]:
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if (here / name).relative_to(root).as_posix() not in skip and name != ".git"
        )
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            data = path.read_bytes()
            coverage.bytes_read += len(data)
            try:
                unpacked = blobtext.unpack(data, relative)
            except blobtext.Unscannable as error:
                raise GateError(f"{relative}: {error}") from None
            coverage.files += 1
            coverage.binary_files += unpacked.texts[0].binary
            coverage.archive_members += unpacked.members
            coverage.unreadable_members += unpacked.unreadable
            for text in unpacked.texts:
                rows = [(number, line, True) for number, line in text.rows]
                if rows:
                    yield Entry("file", None, relative + text.suffix, rows)
