"""Judging each gate of a run: what nox saw, checked against the gate's own record.

A gate's verdict is the conjunction of what nox saw (the session's result) and
what the gate itself recorded (``reports/gates/<gate>.json``): a session that
succeeded without a readable record, or whose reports are missing, is failed,
never counted as clean.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.errors import RecordError
from tools.reports import record_path
from tools.text import mask_secrets
from tools.verdict import GateRecord, Status

_PREREQUISITE = re.compile(r"Prerequisite session (?P<name>\S+) was not successful")


def read_gate_record(gate: str) -> GateRecord | None:
    try:
        record = GateRecord.loads(record_path(gate).read_bytes())
    except (OSError, RecordError):
        return None
    return record if record.gate == gate else None


def judge(gate: str, nox_result: dict | None, *, log_tail: str = "") -> GateRecord:
    """The gate's verdict in this run, from nox's result and the gate's own record."""
    if nox_result is None:
        return GateRecord(gate, Status.CANCELLED, reason="cancelled before it finished")
    outcome = nox_result.get("result")
    # nox says "aborted" both for a session whose prerequisite failed and for
    # one that stopped itself with session.error(): only the first is a skip.
    if prerequisite := _PREREQUISITE.search(nox_result.get("reason") or ""):
        return GateRecord(gate, Status.SKIPPED, reason=f"needs {prerequisite['name']}")
    if outcome == "skipped":
        return GateRecord(gate, Status.SKIPPED, reason=nox_result.get("reason") or "skipped by nox")
    duration = nox_result.get("duration")
    recorded = read_gate_record(gate)
    run = recorded or GateRecord(gate, Status.FAILED)
    run.duration_s = duration if isinstance(duration, int | float) else None
    if outcome != "success":
        run.status = Status.FAILED
        run.reason = (recorded.reason if recorded else None) or mask_secrets(last_words(log_tail))
    elif recorded is None:
        run.reason = f"no readable gate record at {record_path(gate)}: the result cannot be trusted"
    elif recorded.status != Status.PASSED:
        run.reason = recorded.reason or "the gate recorded a failure"
    elif missing := [report for report in run.reports if not Path(report).is_file()]:
        run.status, run.reason = Status.FAILED, f"report missing: {', '.join(missing)}"
    return run


def last_words(log: str) -> str:
    """The last line a failed session printed that is not nox's own bookkeeping."""
    for line in reversed(log.splitlines()):
        if line.strip() and not line.startswith("nox > "):
            return line.strip()
    return "the nox session failed before the gate ran; see its log"


def overall_status(gates: list[GateRecord], *, interrupted: bool) -> Status:
    if interrupted:
        return Status.CANCELLED
    return (
        Status.PASSED if gates and all(g.status == Status.PASSED for g in gates) else Status.FAILED
    )
