"""gitleaks over the texts ``tools.history`` reads, findings mapped back.

Each text is written to a scratch tree and the tree is scanned with `gitleaks
dir`, always with the project's config, `--redact`, `--no-banner` and a leaks
exit code no failure produces. gitleaks itself skips nothing it is given:

- Every text is scanned under a neutral name (its number), which no path
  allowlist of gitleaks' defaults matches (they skip `*.png`, `*.pdf`,
  `*.bin`, lock files, `node_modules/`, `vendor/`, `*gitleaks.toml`, ...) and
  which no file-name sniffing treats as an archive.
- Every text starts with the two bytes `BM`: gitleaks skips a file whose first
  bytes a file-type library calls an application (`%PDF`, `PK`, ELF, wasm),
  and `BM` makes that library say "image", which gitleaks reads.
- gitleaks counts the bytes it read; the gate checks that the count is every
  byte it wrote, so any skip it did not foresee fails the gate.
- `gitleaks:allow` and `.gitleaksignore` are the gate's to apply
  (``tools.suppressions``): gitleaks runs with `--ignore-gitleaks-allow` and an
  empty ignore folder, so that a crafted `.gitleaksignore` naming scratch paths
  can silence nothing.

File texts are also scanned a second time under their own file name (after
their number: `12-deploy.yaml`), concurrently, so that rules that apply to some
files only (Kubernetes YAML, Terraform, `.p12` files: all decided by the name)
still see it; findings of the two runs on the same span are one finding. One
flat folder per run: on a 3,000-commit history, a folder per text cost 1 s of
mkdir and 1 s of cleanup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import GateError
from tools.history import Entry
from tools.text import last_line
from tools.toolrun import run_tool

# Leaks get an exit code no failure produces, so a crash never reads as leaks
# nor leaks as a crash: gitleaks exits 1 on errors (and, by default, on leaks)
# and 126 on a bad flag, and a Go panic (a bad regex in the config) exits 2.
LEAKS_EXIT = 3
HEADER = b"BM\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The line that says why gitleaks failed: a panic, or its fatal/error log entry.
FAILURE_LINE = re.compile(r"^(?:panic: .*|.*\b(?:FTL|ERR)\b.*)$", re.MULTILINE)
BYTES_SCANNED = re.compile(r"\bscanned ~(\d+) bytes")
NAME_PART = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class Located:
    """A finding at its place in history. ``lines`` is the text of the rows the
    match spans, kept only to look for an allow marker: it is never reported."""

    rule: str
    description: str
    kind: str
    commit: str | None
    path: str
    line: int | None
    lines: tuple[bytes, ...]


@dataclass
class _Text:
    kind: str
    commit: str | None
    path: str
    rows: list[tuple[int, bool]]  # (line, new) of each row, in the order written


@dataclass
class Scratch:
    """The scratch tree: `neutral/<n>` for every text, `named/<n>-<name>` for files."""

    folder: Path
    texts: list[_Text] = field(default_factory=list)
    neutral_bytes: int = 0

    def __post_init__(self) -> None:
        for tree in ("neutral", "named", "no-ignore"):
            (self.folder / tree).mkdir()

    @property
    def neutral(self) -> Path:
        return self.folder / "neutral"

    @property
    def named(self) -> Path:
        return self.folder / "named"

    def add(self, entry: Entry) -> None:
        number = str(len(self.texts))
        body = HEADER + b"".join(text + b"\n" for _, text, _ in entry.rows)
        (self.neutral / number).write_bytes(body)
        self.neutral_bytes += len(body)
        if entry.kind == "file":
            (self.named / f"{number}-{file_name(entry.path)}").write_bytes(body)
        self.texts.append(
            _Text(
                entry.kind, entry.commit, entry.path, [(line, new) for line, _, new in entry.rows]
            )
        )

    def row_texts(self, number: int, first: int, last: int) -> tuple[bytes, ...]:
        rows = (self.neutral / str(number)).read_bytes().split(b"\n")[1:]
        return tuple(rows[first : last + 1])


def file_name(path: str) -> str:
    """The last part of ``path`` (of an archive member's, inside an archive),
    with only name-safe characters: rules see its name and extension."""
    return NAME_PART.sub("_", path.replace("!", "/").rsplit("/", 1)[-1])[-100:] or "_"


@dataclass(frozen=True)
class _Hit:
    rule: str
    description: str
    generic: bool
    number: int
    start: tuple[int, int]  # (line, column) in the scratch file
    end: tuple[int, int]

    def overlaps(self, other: _Hit) -> bool:
        """Two matches of one secret: they start on the same line of the same
        text and their spans meet. (Matches starting on different lines are
        different secrets, however far a multi-line match reaches.)"""
        return (
            self.number == other.number
            and self.start[0] == other.start[0]
            and self.start <= other.end
            and other.start <= self.end
        )

    def preference(self) -> tuple[bool, int, str]:
        # A provider's own rule says more than a generic one; then the match
        # that recognised more around the secret (`"private_key": ...` and its
        # service account over a bare PEM key); then the rule id, for a stable pick.
        width = (self.end[0] - self.start[0]) * 1_000_000 + self.end[1] - self.start[1]
        return (self.generic, -width, self.rule)


def gitleaks_argv(binary: Path, config: Path, report: Path, no_ignore: Path) -> list[str]:
    return [
        str(binary),
        "dir",
        "--no-banner",
        f"--config={config.resolve()}",
        "--redact",
        "--ignore-gitleaks-allow",
        f"--gitleaks-ignore-path={no_ignore}",
        f"--exit-code={LEAKS_EXIT}",
        "--report-format=json",
        f"--report-path={report}",
        ".",
    ]


def _gitleaks(
    tree: Path, report: Path, *, binary: Path, config: Path, no_ignore: Path, timeout: float
) -> tuple[list[dict], int]:
    """One `gitleaks dir` run over ``tree``: (its findings, the bytes it read)."""
    result = run_tool(
        gitleaks_argv(binary, config, report, no_ignore), timeout=timeout, what="gitleaks", cwd=tree
    )
    log = ANSI.sub("", result.stderr + result.stdout)
    if result.returncode not in (0, LEAKS_EXIT):
        failure = FAILURE_LINE.search(log)
        why = failure.group(0).strip() if failure else last_line(log)
        raise GateError(f"gitleaks failed (exit {result.returncode}): {why}")
    try:
        findings = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GateError(f"gitleaks wrote no readable report ({error}): re-run the gate") from None
    if not isinstance(findings, list) or (result.returncode == LEAKS_EXIT) != bool(findings):
        raise GateError("gitleaks' exit code and report disagree: re-run the gate")
    counted = BYTES_SCANNED.search(log)
    if counted is None:
        raise GateError("gitleaks did not say how many bytes it scanned: cannot trust the scan")
    return findings, int(counted.group(1))


def scan(
    entries: Iterable[Entry], *, binary: Path, config: Path, folder: Path, timeout: float
) -> tuple[list[Located], int]:
    """(every finding in ``entries``, one per secret; the bytes gitleaks read)."""
    scratch = Scratch(folder)
    for entry in entries:
        scratch.add(entry)
    no_ignore = folder / "no-ignore"
    options = {"binary": binary, "config": config, "no_ignore": no_ignore, "timeout": timeout}
    with ThreadPoolExecutor(max_workers=2) as pool:
        neutral = pool.submit(_gitleaks, scratch.neutral, folder / "neutral.json", **options)
        named = pool.submit(_gitleaks, scratch.named, folder / "named.json", **options)
        neutral_findings, scanned = neutral.result()
        named_findings, _ = named.result()
    if scanned != scratch.neutral_bytes:
        raise GateError(
            f"gitleaks read {scanned} of the {scratch.neutral_bytes} bytes written for it: "
            "it skipped some, so the scan cannot be trusted"
        )
    hits = list(_hits(neutral_findings, len(scratch.texts)))
    hits += _hits(named_findings, len(scratch.texts))
    return [_locate(scratch, hit) for hit in one_per_secret(_new(scratch, hits))], scanned


def _hits(findings: list[dict], count: int) -> Iterator[_Hit]:
    for finding in findings:
        number = Path(str(finding.get("File", ""))).name.split("-", 1)[:1]
        if not number or not number[0].isdigit() or int(number[0]) >= count:
            raise GateError(f"gitleaks reported a file the gate never wrote: {number}")
        rule = str(finding.get("RuleID", "unknown"))
        yield _Hit(
            rule=rule,
            description=str(finding.get("Description") or rule),
            generic="generic" in (finding.get("Tags") or []) or rule.startswith("generic"),
            number=int(number[0]),
            start=(int(finding.get("StartLine", 0)), int(finding.get("StartColumn", 0))),
            end=(int(finding.get("EndLine", 0)), int(finding.get("EndColumn", 0))),
        )


def _rows(hit: _Hit) -> range:
    """Indexes of the rows a hit spans (scratch line 1 is the header); empty for
    a finding about a file's name alone."""
    return range(max(hit.start[0] - 2, 0), hit.end[0] - 1) if hit.start[0] >= 2 else range(0)


def _new(scratch: Scratch, hits: list[_Hit]) -> list[_Hit]:
    """Hits that touch a new row: one lying wholly in context rows was read in
    the commit that brought those rows."""
    kept = []
    for hit in hits:
        rows = scratch.texts[hit.number].rows
        span = _rows(hit)
        if not span or any(rows[index][1] for index in span if index < len(rows)):
            kept.append(hit)
    return kept


def one_per_secret(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping matches of one text (two rules, or the two runs, on the same
    span) are one finding: the most specific rule's."""
    kept: list[_Hit] = []
    for hit in sorted(hits, key=_Hit.preference):
        if not any(hit.overlaps(other) for other in kept):
            kept.append(hit)
    return sorted(kept, key=lambda hit: (hit.number, hit.start, hit.rule))


def _locate(scratch: Scratch, hit: _Hit) -> Located:
    text = scratch.texts[hit.number]
    span = _rows(hit)
    line = text.rows[span.start][0] if span and span.start < len(text.rows) else None
    lines = scratch.row_texts(hit.number, span.start, span.stop - 1) if span else ()
    return Located(hit.rule, hit.description, text.kind, text.commit, text.path, line, lines)
