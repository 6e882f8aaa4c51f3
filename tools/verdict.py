"""The verdict model: one status type, one finding type, one gate record and
one run record, each written and read back by the same code.

A gate writes its ``GateRecord`` to ``reports/gates/<gate>.json``; the pipeline
reads it back, judges it against what nox saw, and embeds it in the run's
``PipelineRecord`` (``reports/pipeline.json``), which notify reads. Reading is
strict: a record that is not what this module writes is a ``RecordError``,
never a half-read dict.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tools.errors import RecordError

GATE_SCHEMA_VERSION = 1
RUN_SCHEMA_VERSION = 1
LEVELS = ("error", "warning", "note", "none")
# A gate's name travels into summaries and payloads: letters, digits, `_.-` only.
GATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # SARIF level: "error", "warning" or "note"
    path: str
    line: int | None
    message: str  # never the matched text: records travel to the SOC
    blocking: bool
    fingerprint: str | None = None  # what the finding is, wherever it sits (tools.fingerprint)
    state: str | None = None  # "new" or "existing", once judged (tools.baseline)

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "path": self.path, "line": self.line, "message": self.message}

    @classmethod
    def from_json(cls, value: object) -> Finding:
        item = _object(value, "a blocking finding")
        line = item.get("line")
        if line is not None and (type(line) is not int or line < 0):
            raise RecordError("has a blocking finding whose line is not a line number")
        return cls(
            rule=_string(item, "rule"),
            level="error",
            path=_string(item, "path"),
            line=line,
            message=_string(item, "message", empty=True),
            blocking=True,
        )


def counts(findings: list[Finding]) -> dict[str, int]:
    return dict(Counter(finding.level for finding in findings))


@dataclass
class GateRecord:
    """A gate's verdict. The gate writes it; the pipeline and notify read it."""

    gate: str
    status: Status
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    findings: dict[str, int] = field(default_factory=dict)  # count per SARIF level
    blocking: list[Finding] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None  # why it did not pass; None when it passed
    coverage: dict[str, Any] | None = None  # a scanning gate's ledger (tools.ledger)
    debt: dict[str, int] | None = None  # new / existing / fixed, for a gate that holds the line
    # The suppressions in force (tools.suppressions): tool, path, line, rules,
    # reason, until, and in pull-request mode whether the pull request adds it.
    suppressions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": str(self.status),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "findings": dict(self.findings),
            "blocking": [finding.to_json() for finding in self.blocking],
            "reports": list(self.reports),
            "notes": list(self.notes),
            "reason": self.reason,
            "coverage": self.coverage,
            "debt": self.debt,
            "suppressions": list(self.suppressions),
        }

    def dumps(self) -> str:
        """The record file: the record and its schema version."""
        return json.dumps({**self.to_json(), "schema_version": GATE_SCHEMA_VERSION}, indent=2)

    @classmethod
    def from_json(cls, value: object) -> GateRecord:
        item = _object(value, "a gate record")
        name = item.get("gate")
        if not isinstance(name, str) or not GATE_NAME.fullmatch(name):
            raise RecordError("lacks a valid name or status")
        findings = _object(item.get("findings", {}), "findings")
        for level, count in findings.items():
            if level not in LEVELS or type(count) is not int or count < 0:
                raise RecordError("has findings that are not counts per level")
        return cls(
            gate=name,
            status=_status(item.get("status")),
            started_at=_optional_string(item, "started_at"),
            ended_at=_optional_string(item, "ended_at"),
            duration_s=_optional_number(item, "duration_s"),
            findings=findings,
            blocking=[Finding.from_json(entry) for entry in _list(item, "blocking")],
            reports=_strings(item, "reports"),
            notes=_strings(item, "notes"),
            reason=_optional_string(item, "reason"),
            coverage=_optional_object(item, "coverage"),
            debt=_debt(item.get("debt")),
            suppressions=[_object(e, "a suppression") for e in _list(item, "suppressions")],
        )

    @classmethod
    def loads(cls, text: str | bytes) -> GateRecord:
        document = _decode(text, "gate record")
        _schema(document, GATE_SCHEMA_VERSION)
        return cls.from_json(document)


@dataclass
class PipelineRecord:
    """A run of the whole graph: ``reports/pipeline.json``."""

    repository: str
    commit: str | None
    branch: str | None
    started_at: str
    ended_at: str
    duration_s: float
    status: Status
    gates: list[GateRecord]
    reason: str | None = None  # why the run failed before any gate could run

    def dumps(self) -> str:
        document = {
            "repository": self.repository,
            "commit": self.commit,
            "branch": self.branch,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "status": str(self.status),
            "gates": [gate.to_json() for gate in self.gates],
            "reason": self.reason,
            "schema_version": RUN_SCHEMA_VERSION,
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def loads(cls, text: str | bytes) -> PipelineRecord:
        item = _decode(text, "run record")
        _schema(item, RUN_SCHEMA_VERSION)
        status = _status(item.get("status"))
        if not isinstance(item.get("gates"), list):
            raise RecordError("has no gates list")
        gates = []
        for number, gate in enumerate(item["gates"], start=1):
            try:
                gates.append(GateRecord.from_json(gate))
            except RecordError as error:
                raise RecordError(f"has gate #{number} that {error}") from None
        duration = _optional_number(item, "duration_s")
        return cls(
            repository=_string(item, "repository"),
            commit=_optional_string(item, "commit"),
            branch=_optional_string(item, "branch"),
            started_at=_string(item, "started_at"),
            ended_at=_string(item, "ended_at"),
            duration_s=duration if duration is not None else 0.0,
            status=status,
            gates=gates,
            reason=_optional_string(item, "reason"),
        )


# -- strict readers ------------------------------------------------------------
# Each message is a predicate the caller puts after the file's name ("reports/x.json
# has no gates list"): it names what is wrong, never the content.


def _decode(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:  # bad JSON, bad UTF-8, or an integer of thousands of digits
        where = f"line {error.lineno}" if isinstance(error, json.JSONDecodeError) else "content"
        raise RecordError(f"is not valid JSON ({where})") from None
    return _object(document, what)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"is not a JSON object ({what})")
    return value


def _schema(item: dict[str, Any], expected: int) -> None:
    version = item.get("schema_version")
    if version != expected:
        shown = version if type(version) is int else "missing or not an integer"
        raise RecordError(f"has schema_version {shown}, expected {expected}")


def _string(item: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = item.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise RecordError(f"has no string {key}")
    return value


def _optional_string(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"has a {key} that is not a string")
    return value or None


def _optional_number(item: dict[str, Any], key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    # Comparisons hold for NaN and infinities too: both are refused.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise RecordError(f"has a {key} that is not a number of seconds")
    return float(value)


def _optional_object(item: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = item.get(key)
    if value is not None and not isinstance(value, dict):
        raise RecordError(f"has a {key} that is not an object")
    return value


def _list(item: dict[str, Any], key: str) -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise RecordError(f"has no {key} list")
    return value


def _strings(item: dict[str, Any], key: str) -> list[str]:
    values = _list(item, key)
    if not all(isinstance(value, str) for value in values):
        raise RecordError(f"has {key} that are not all strings")
    return values


def _debt(value: object) -> dict[str, int] | None:
    if value is None:
        return None
    item = _object(value, "debt")
    if set(item) != {"new", "existing", "fixed"} or any(
        type(count) is not int or count < 0 for count in item.values()
    ):
        raise RecordError("has a debt that is not counts of new, existing and fixed findings")
    return dict(item)


def _status(value: object) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise RecordError("has no valid status (passed, failed or cancelled)") from None
