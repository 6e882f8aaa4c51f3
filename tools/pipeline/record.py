"""The run record, `reports/pipeline.json`: what ran, how it ended, and why.

A gate's verdict is the conjunction of what nox saw (the session's result)
and what the gate itself recorded (`reports/gates/<gate>.json`): a session
that succeeded without a readable record, or whose reports are missing, is
failed, never counted as clean.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.gates._gate import record_path

SCHEMA_VERSION = 1
PASSED, FAILED, SKIPPED, CANCELLED = "passed", "failed", "skipped", "cancelled"
_PREREQUISITE = re.compile(r"Prerequisite session (?P<name>\S+) was not successful")


@dataclass
class GateRun:
    gate: str
    status: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    findings: dict[str, int] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    blocking: list[dict[str, object]] = field(default_factory=list)


@dataclass
class PipelineRun:
    repository: str
    commit: str | None
    branch: str | None
    started_at: str
    ended_at: str
    duration_s: float
    status: str
    gates: list[GateRun]
    reason: str | None = None  # why the run failed before any gate could run
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def read_gate_record(gate: str) -> dict | None:
    try:
        record = json.loads(record_path(gate).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("gate") == gate else None


def gate_run(gate: str, nox_result: dict | None, *, log_tail: str = "") -> GateRun:
    """Combine nox's result for a gate session with the gate's own record."""
    if nox_result is None:
        return GateRun(gate, CANCELLED, reason="cancelled before it finished")
    outcome = nox_result.get("result")
    # nox says "aborted" both for a session whose prerequisite failed and for
    # one that stopped itself with session.error(): only the first is a skip.
    if prerequisite := _PREREQUISITE.search(nox_result.get("reason") or ""):
        return GateRun(gate, SKIPPED, reason=f"needs {prerequisite['name']}")
    if outcome == "skipped":
        return GateRun(gate, SKIPPED, reason=nox_result.get("reason") or "skipped by nox")
    record = read_gate_record(gate)
    run = GateRun(gate, FAILED, duration_s=nox_result.get("duration"))
    if record is not None:
        run.started_at, run.ended_at = record.get("started_at"), record.get("ended_at")
        run.findings = record.get("findings") or {}
        run.reports = record.get("reports") or []
        run.notes = record.get("notes") or []
        run.blocking = record.get("blocking") or []
    if outcome != "success":
        run.reason = (record or {}).get("reason") or last_words(log_tail)
    elif record is None:
        run.reason = f"no readable gate record at {record_path(gate)}: the result cannot be trusted"
    elif record.get("status") != PASSED:
        run.reason = record.get("reason") or "the gate recorded a failure"
    elif missing := [report for report in run.reports if not Path(report).is_file()]:
        run.reason = f"report missing: {', '.join(missing)}"
    else:
        run.status = PASSED
    return run


def last_words(log: str) -> str:
    """The last line a failed session printed that is not nox's own bookkeeping."""
    for line in reversed(log.splitlines()):
        if line.strip() and not line.startswith("nox > "):
            return line.strip()
    return "the nox session failed before the gate ran; see its log"


def overall_status(gates: list[GateRun], *, interrupted: bool) -> str:
    if interrupted:
        return CANCELLED
    return PASSED if gates and all(gate.status == PASSED for gate in gates) else FAILED
