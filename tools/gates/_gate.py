"""What every gate shares: findings, the gate record, and the fail-closed edge.

A gate module implements ``run(args) -> Outcome`` and hands it to ``main``.
``main`` times the run, turns a ``GateError`` (the tool crashed, timed out,
wrote no report, could not reach its data) into one clear line, and always
writes ``reports/gates/<gate>.json`` so the pipeline can tell a clean gate
from a broken one. Exit codes: 0 passed, 1 blocking findings, 2 gate error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tools.settings import SettingsError

REPORTS = Path("reports")
RECORDS = REPORTS / "gates"
RECORD_SCHEMA_VERSION = 1
# Enough for a person to act on; the full list is in the gate's own report.
MAX_BLOCKING_IN_RECORD = 50

EXIT_PASSED, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class GateError(Exception):
    """The gate could not produce a trustworthy verdict. The message is one line
    saying what went wrong and what to do about it."""


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # SARIF level: "error", "warning" or "note"
    path: str
    line: int | None
    message: str  # never the matched text: records travel to the SOC
    blocking: bool

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.blocking]


@dataclass
class GateRecord:
    gate: str
    status: str  # "passed" or "failed"
    started_at: str
    ended_at: str
    duration_s: float
    findings: dict[str, int]
    blocking: list[dict[str, object]]
    reports: list[str]
    notes: list[str]
    reason: str | None = None
    schema_version: int = RECORD_SCHEMA_VERSION


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_path(gate: str) -> Path:
    return RECORDS / f"{gate}.json"


def venv_state(name: str) -> Path | None:
    """Where a gate keeps what it learned between runs (a verdict, a parse):
    inside the venv running it, so a new venv starts afresh. None outside a
    venv, where it would land in a system Python's prefix: nothing is kept."""
    return Path(sys.prefix) / name if sys.prefix != sys.base_prefix else None


def tool_path(name: str) -> str:
    """A tool from this interpreter's venv first, then from PATH: the gate's
    pinned tool wins even when the venv is not activated."""
    venv_bin = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")])) or name


def run_tool(
    argv: Sequence[str], *, timeout: float, what: str, capture: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion; a missing binary or a timeout is a GateError.
    argv[0] is looked up with ``tool_path``. With ``capture=False`` the tool's
    output goes straight to the console."""
    argv = [tool_path(argv[0]), *argv[1:]]
    try:
        return subprocess.run(
            argv, capture_output=capture, text=True, timeout=timeout, check=False, **kwargs
        )  # type: ignore[call-overload]
    except PermissionError as error:
        raise GateError(f"{what} cannot be run ({error.filename}): permission denied") from None
    except FileNotFoundError as error:
        raise GateError(
            f"{what} is not installed ({error.filename}): run the gate through nox"
        ) from None
    except subprocess.TimeoutExpired:
        raise GateError(f"{what} did not finish within {timeout:.0f} s") from None


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no detail"


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def main(
    gate: str,
    run: Callable[[argparse.Namespace], Outcome],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    args = parser.parse_args(argv)
    started, clock = utc_now(), time.monotonic()
    REPORTS.mkdir(exist_ok=True)
    record_path(gate).unlink(missing_ok=True)
    reason: str | None = None
    errored = False
    try:
        outcome = run(args)
    except (GateError, SettingsError) as error:
        outcome, reason, errored = Outcome(), str(error), True
        print(f"{gate}: error: {reason}", file=sys.stderr)
    except Exception as error:  # the edge: a crash is a failed gate, never findings
        outcome, errored = Outcome(), True
        reason = f"internal error: {type(error).__name__}: {first_line(str(error))}"
        print(f"{gate}: error: {reason}", file=sys.stderr)
    blocking = outcome.blocking
    if reason is None and blocking:
        rules = sorted({finding.rule for finding in blocking})
        reason = f"{len(blocking)} blocking finding(s): {', '.join(rules)}"
        for finding in blocking:
            print(f"{gate}: {finding.rule} {finding.location()} {finding.message}", file=sys.stderr)
    for note in outcome.notes:
        print(f"{gate}: {note}")
    record = GateRecord(
        gate=gate,
        status="failed" if reason else "passed",
        started_at=started,
        ended_at=utc_now(),
        duration_s=round(time.monotonic() - clock, 3),
        findings=dict(Counter(finding.level for finding in outcome.findings)),
        blocking=[
            {"rule": f.rule, "path": f.path, "line": f.line, "message": f.message}
            for f in blocking[:MAX_BLOCKING_IN_RECORD]
        ],
        reports=outcome.reports,
        notes=outcome.notes,
        reason=reason,
    )
    RECORDS.mkdir(parents=True, exist_ok=True)
    record_path(gate).write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    if reason is None:
        print(f"{gate}: passed ({sum(record.findings.values())} non-blocking finding(s))")
        return EXIT_PASSED
    print(f"{gate}: FAILED: {reason}", file=sys.stderr)
    return EXIT_ERROR if errored else EXIT_FINDINGS
