"""What the notification reports: the run's identity and its outcome.

The outcome comes from ``reports/pipeline.json`` (written by ``nox -s
pipeline``) when it exists; a CI job that ran the gates as separate jobs has no
such file and passes GitHub's job results in instead, through
``PIPELINE_STATUS`` and ``PIPELINE_GATE_RESULTS``. The run's identity comes from
GitHub's ``GITHUB_*`` variables in Actions, from git locally.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tools import identity, reports
from tools.errors import NotifyError, RecordError
from tools.gates.policy import GATE, WEAKENED
from tools.policy import Change
from tools.reports import PIPELINE_JSON
from tools.verdict import GATE_NAME, GateRecord, PipelineRecord, Status

PIPELINE_RECORD = PIPELINE_JSON
# A pipeline record is a few KiB; anything far larger is not one.
MAX_RECORD_BYTES = 5 * 1024 * 1024

STATUS_ENV = "PIPELINE_STATUS"
GATE_RESULTS_ENV = "PIPELINE_GATE_RESULTS"

GATE_STATUSES = frozenset(Status)
# GitHub's job results (`needs.<job>.result`) in the pipeline's own words.
GITHUB_RESULTS = {
    "success": "passed",
    "failure": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
}


class BadInput(NotifyError):
    """The run's outcome could not be read. The message is one line; the
    notification still goes out, with what could be read, naming ``source``
    (the broken input) but never its content."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class Outcome:
    status: str
    gates: list[GateRecord]
    source: str  # "pipeline.json", "environment" or "none"
    repository: str | None = None
    commit: str | None = None
    branch: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    policy_changes: tuple[Change, ...] = ()


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


def load_record(path: Path = PIPELINE_RECORD) -> Outcome | None:
    """The outcome in ``path``, None when there is no such file. A file that is
    there but cannot be trusted as this run's record raises BadInput: a link, a
    file the repository commits (a pull request can plant one claiming a pass),
    one too large to be a record, or one naming another commit than this one."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink():
        raise BadInput(f"{path} is a link, not this run's record", str(path))
    if identity.git("ls-files", "--", str(path)):
        raise BadInput(f"{path} is committed in the repository, not written by this run", str(path))
    try:
        raw = reports.read_bounded(path, MAX_RECORD_BYTES)
    except OSError as error:
        raise BadInput(f"{path} is unreadable ({error.strerror or error})", str(path)) from None
    if len(raw) > MAX_RECORD_BYTES:
        raise BadInput(f"{path} is too large to be a pipeline record", str(path))
    try:
        record = PipelineRecord.loads(raw)
    except RecordError as error:
        # What is wrong, never the file's content: it stays out of logs.
        raise BadInput(f"{path} {error}", str(path)) from None
    for name, expected in (
        ("HEAD", identity.git("rev-parse", "--verify", "-q", "HEAD")),
        ("GITHUB_SHA", identity.env("GITHUB_SHA")),
    ):
        if expected and record.commit != expected:
            raise BadInput(f"{path} names another commit than {name}: not this run's", str(path))
    return Outcome(
        status=str(record.status),
        gates=record.gates,
        source="pipeline.json",
        repository=record.repository,
        commit=record.commit,
        branch=record.branch,
        started_at=record.started_at,
        duration_s=record.duration_s,
        policy_changes=weakening_changes(record.gates),
    )


def weakening_changes(gates: list[GateRecord]) -> tuple[Change, ...]:
    """The policy changes the ``policy`` gate blocked on: the record keeps a
    gate's blocking findings, and those are the changes that do not tighten."""
    return tuple(
        Change(where=finding.path, what=finding.message, tightens=False)
        for gate in gates
        if gate.gate == GATE.name
        for finding in gate.blocking
        if finding.rule == WEAKENED
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


def parse_gate_results(text: str) -> list[GateRecord]:
    """``lint=success sast=failure, test=skipped`` -> one GateRecord per pair."""
    gates = []
    for pair in re.split(r"[\s,]+", text.strip()):
        if not pair:
            continue
        name, sep, result = pair.partition("=")
        if not sep or not GATE_NAME.fullmatch(name):
            raise BadInput(
                f"{GATE_RESULTS_ENV}: {pair[:40]!r} is not a name=result pair", GATE_RESULTS_ENV
            )
        status = _github_result(result, f"{GATE_RESULTS_ENV} {name}", GATE_RESULTS_ENV)
        gates.append(GateRecord(gate=name, status=Status(status)))
    return gates


def _derived_status(gates: list[GateRecord]) -> str:
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
