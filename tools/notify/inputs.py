"""What the notification reports: the run's identity and its outcome.

The outcome comes from ``reports/pipeline.json`` (written by ``nox -s
pipeline``) when it exists; a CI job that ran the gates as separate jobs has no
such file and passes GitHub's job results in instead, through
``PIPELINE_STATUS`` and ``PIPELINE_GATE_RESULTS``. The run's identity comes from
GitHub's ``GITHUB_*`` variables in Actions, from git locally.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools import identity

PIPELINE_RECORD = Path("reports/pipeline.json")
SUPPORTED_SCHEMA = 1
# A pipeline record is a few KiB; anything far larger is not one.
MAX_RECORD_BYTES = 5 * 1024 * 1024

STATUS_ENV = "PIPELINE_STATUS"
GATE_RESULTS_ENV = "PIPELINE_GATE_RESULTS"

RUN_STATUSES = frozenset({"passed", "failed", "cancelled", "skipped", "unknown"})
GATE_STATUSES = frozenset({"passed", "failed", "cancelled", "skipped"})
# GitHub's job results (`needs.<job>.result`) in the pipeline's own words.
GITHUB_RESULTS = {
    "success": "passed",
    "failure": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
}
GATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class BadInput(Exception):
    """The run's outcome could not be read. The message is one line; the
    notification still goes out, with what could be read, naming ``source``
    (the broken input) but never its content."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class GateResult:
    gate: str
    status: str
    findings: dict[str, int] = field(default_factory=dict)
    blocking_rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    status: str
    gates: list[GateResult]
    source: str  # "pipeline.json", "environment" or "none"
    repository: str | None = None
    commit: str | None = None
    branch: str | None = None
    started_at: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class RunContext:
    repository: str | None
    commit: str | None
    ref: str | None
    actor: str | None
    run_id: str | None
    run_attempt: str | None
    run_url: str | None


def run_context() -> RunContext:
    """The run's identity: GitHub Actions' variables when present, else git."""
    repository = identity.env("GITHUB_REPOSITORY")
    server, run_id, attempt = (
        identity.env("GITHUB_SERVER_URL"),
        identity.env("GITHUB_RUN_ID"),
        identity.env("GITHUB_RUN_ATTEMPT"),
    )
    run_url = None
    if server and repository and run_id:
        run_url = f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
        if attempt:
            run_url += f"/attempts/{attempt}"
    return RunContext(
        repository=identity.repository(),
        commit=identity.commit(),
        ref=identity.ref(),
        actor=identity.env("GITHUB_ACTOR"),
        run_id=run_id,
        run_attempt=attempt,
        run_url=run_url,
    )


def _read_record(path: Path) -> dict[str, object]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadInput(f"{path} is unreadable ({error.strerror})", str(path)) from None
    if len(raw) > MAX_RECORD_BYTES:
        raise BadInput(f"{path} is {len(raw)} bytes, too large to be a pipeline record", str(path))
    try:
        record = json.loads(raw)
    except ValueError as error:  # bad JSON, bad UTF-8, or an integer of thousands of digits
        # The position only: the file's content stays out of logs.
        where = f"line {error.lineno}" if isinstance(error, json.JSONDecodeError) else "content"
        raise BadInput(f"{path} is not valid JSON ({where})", str(path)) from None
    if not isinstance(record, dict):
        raise BadInput(f"{path} is not a JSON object", str(path))
    return record


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {
        level: count
        for level, count in value.items()
        if level in {"error", "warning", "note"} and type(count) is int and count >= 0
    }


def _rule_ids(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [
        item["rule"]
        for item in value
        if isinstance(item, dict) and isinstance(item.get("rule"), str)
    ]


def _text(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and value else None


def load_record(path: Path = PIPELINE_RECORD) -> Outcome | None:
    """The outcome in ``path``, None when there is no such file. A file that is
    there but is not a pipeline record raises BadInput."""
    if not path.exists():
        return None
    record = _read_record(path)
    if record.get("schema_version") != SUPPORTED_SCHEMA:
        version = record.get("schema_version")
        shown = version if type(version) is int else "missing or not an integer"
        raise BadInput(f"{path} has schema_version {shown}, expected {SUPPORTED_SCHEMA}", str(path))
    status = record.get("status")
    if status not in RUN_STATUSES:
        raise BadInput(f"{path} has no valid status (passed, failed or cancelled)", str(path))
    gates_in = record.get("gates")
    if not isinstance(gates_in, list):
        raise BadInput(f"{path} has no gates list", str(path))
    gates = []
    for index, gate in enumerate(gates_in):
        if not (
            isinstance(gate, dict)
            and isinstance(gate.get("gate"), str)
            and GATE_NAME.fullmatch(gate["gate"])
            and gate.get("status") in GATE_STATUSES
        ):
            raise BadInput(f"{path}: gate #{index + 1} lacks a valid name or status", str(path))
        gates.append(
            GateResult(
                gate=gate["gate"],
                status=gate["status"],
                findings=_counts(gate.get("findings")),
                blocking_rules=_rule_ids(gate.get("blocking")),
            )
        )
    duration = record.get("duration_s")
    return Outcome(
        status=str(status),
        gates=gates,
        source="pipeline.json",
        repository=_text(record, "repository"),
        commit=_text(record, "commit"),
        branch=_text(record, "branch"),
        started_at=_text(record, "started_at"),
        duration_s=float(duration) if isinstance(duration, int | float) and duration >= 0 else None,
    )


def _github_result(value: str, what: str, source: str) -> str:
    result = value.strip().lower()
    if result in GITHUB_RESULTS:
        return GITHUB_RESULTS[result]
    if result in GATE_STATUSES:
        return result
    raise BadInput(
        f"{what} is {value[:40]!r}: expected success, failure, cancelled or skipped", source
    )


def parse_gate_results(text: str) -> list[GateResult]:
    """``lint=success scans=failure, test=skipped`` -> one GateResult per pair."""
    gates = []
    for pair in re.split(r"[\s,]+", text.strip()):
        if not pair:
            continue
        name, sep, result = pair.partition("=")
        if not sep or not GATE_NAME.fullmatch(name):
            raise BadInput(
                f"{GATE_RESULTS_ENV}: {pair[:40]!r} is not a name=result pair", GATE_RESULTS_ENV
            )
        gates.append(
            GateResult(
                gate=name,
                status=_github_result(result, f"{GATE_RESULTS_ENV} {name}", GATE_RESULTS_ENV),
            )
        )
    return gates


def _derived_status(gates: list[GateResult]) -> str:
    statuses = {gate.status for gate in gates}
    for status in ("failed", "cancelled"):
        if status in statuses:
            return status
    if "passed" in statuses:
        return "passed"
    return "skipped" if statuses == {"skipped"} else "unknown"


def from_environment() -> Outcome:
    """The outcome a CI job passed in; status "unknown" when it passed nothing.
    A value that is there but unreadable raises BadInput."""
    gates = parse_gate_results(os.environ.get(GATE_RESULTS_ENV, ""))
    status_value = identity.env(STATUS_ENV)
    if status_value is not None:
        status = _github_result(status_value, STATUS_ENV, STATUS_ENV)
    else:
        status = _derived_status(gates)
    source = "environment" if status_value is not None or gates else "none"
    return Outcome(status=status, gates=gates, source=source)


def read_outcome(path: Path = PIPELINE_RECORD) -> tuple[Outcome, list[BadInput]]:
    """The run's outcome and the inputs that proved broken on the way: the
    record when it is there and sound, else the environment, else "unknown"."""
    problems: list[BadInput] = []
    try:
        record = load_record(path)
    except BadInput as error:
        problems.append(error)
    else:
        if record is not None:
            return record, problems
    try:
        return from_environment(), problems
    except BadInput as error:
        problems.append(error)
        return Outcome(status="unknown", gates=[], source="none"), problems
