"""The JSON document posted to the webhook, bounded in size and free of secrets.

It carries the run's identity, its overall status, a severity, per gate the
status, the count of findings per SARIF level and the ids of the rules that
blocked, and a pull request's changes to gate policy in plain words (secret-
shaped text masked). Never a finding's message, path or matched text, never a
secret, never the webhook URL: the SOC follows ``run_url`` for details.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass

from tools import gates
from tools.clock import utc_now
from tools.gates import Severity
from tools.notify.inputs import Outcome, RunContext
from tools.policy import Change
from tools.text import mask_secrets
from tools.verdict import GateRecord, Status

SCHEMA_VERSION = 1

# Severity on TheHive's scale from the gates that failed, the highest winning:
# each gate declares what its failure means (tools/gates/<gate>.py). A gate
# this pipeline does not know (a renamed CI job, say) counts as medium.
UNKNOWN_GATE_SEVERITY = Severity.MEDIUM
# A run that failed or whose outcome is unknown, with no failed gate to blame.
UNEXPLAINED_SEVERITY = Severity.MEDIUM
BASELINE_SEVERITY = Severity.LOW

# Size bounds: the worst case stays under MAX_BODY_BYTES (a test builds it).
MAX_BODY_BYTES = 32 * 1024
MAX_GATES = 16
MAX_POLICY_CHANGES = 12
MAX_CHANGE_CHARS = 160
MAX_RULES_PER_GATE = 10
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 200
MAX_URL_CHARS = 400
MAX_COUNT = 10**9
RULE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+-]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Payload:
    schema_version: int
    event_id: str
    dedupe_key: str
    timestamp: str
    title: str
    repository: str | None
    commit: str | None
    ref: str | None
    actor: str | None
    run_id: str | None
    run_url: str | None
    status: str
    severity: int
    severity_label: str
    source: str
    input_error: str | None
    duration_s: float | None
    gates: list[GateRecord]  # sent as gate_entry() projects them: never a finding's text
    gates_omitted: int
    not_run: list[str]  # gates that never ran: their verdict is unknown, not clean
    policy_changes: list[dict[str, object]]  # policy_entry() of each, capped
    policy_changes_omitted: int

    def body(self) -> bytes:
        """The exact bytes sent and signed: compact, key order fixed."""
        document = {**vars(self), "gates": [gate_entry(gate) for gate in self.gates]}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _text(value: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        return None
    return CONTROL.sub("", value)[:limit] or None


def rule_id(value: str) -> str:
    return RULE_ID_UNSAFE.sub("_", value)[:MAX_ID_CHARS]


def blocking_rules(gate: GateRecord) -> tuple[list[str], int]:
    """The ids of the rules that blocked the gate, made safe and capped, and how
    many more there were."""
    rules = sorted({rule_id(finding.rule) for finding in gate.blocking if finding.rule})
    return rules[:MAX_RULES_PER_GATE], max(0, len(rules) - MAX_RULES_PER_GATE)


def gate_entry(gate: GateRecord) -> dict[str, object]:
    """A gate as the SOC sees it: its status, its counts, the rules that blocked."""
    rules, omitted = blocking_rules(gate)
    return {
        "gate": gate.gate[:MAX_ID_CHARS],
        "status": str(gate.status),
        "findings": {level: min(count, MAX_COUNT) for level, count in gate.findings.items()},
        "blocking_rules": rules,
        "blocking_rules_omitted": omitted,
        # New, existing (baselined, or already at the base) and fixed findings.
        "debt": {key: min(count, MAX_COUNT) for key, count in (gate.debt or {}).items()} or None,
        # Counts only: a suppression's reason is the repository's text.
        "suppressions": {
            "in_force": len(gate.suppressions),
            "new": sum(1 for entry in gate.suppressions if entry.get("new")),
        },
    }


def policy_entry(change: Change) -> dict[str, object]:
    return {
        "where": _text(mask_secrets(change.where), MAX_ID_CHARS),
        "what": _text(mask_secrets(change.what), MAX_CHANGE_CHARS),
        "tightens": change.tightens,
    }


def gate_severity(name: str) -> Severity:
    known = gates.registry().get(name)
    return known.severity if known else UNKNOWN_GATE_SEVERITY


def severity(status: str, gates_run: list[GateRecord]) -> Severity:
    """The highest severity of the gates that failed; a failed run whose other
    gates did not run is at least medium: what those gates would have found is
    unknown, so the run is no low-severity all-clear."""
    failed = [gate_severity(g.gate) for g in gates_run if g.status == Status.FAILED]
    if failed:
        not_run = any(g.status in (Status.SKIPPED, Status.CANCELLED) for g in gates_run)
        return max([*failed, UNEXPLAINED_SEVERITY] if not_run else failed)
    return UNEXPLAINED_SEVERITY if status in {"failed", "unknown"} else BASELINE_SEVERITY


def not_run(gates_run: list[GateRecord]) -> list[str]:
    """The gates that never ran: skipped for want of a prerequisite, or cancelled."""
    return [g.gate for g in gates_run if g.status in (Status.SKIPPED, Status.CANCELLED)]


def dedupe_key(repository: str | None, commit: str | None, run: str | None) -> str:
    """The same run of the same commit of the same repository always gets the
    same key (TheHive's ``sourceRef``); every delivery attempt and every re-send
    of one run's record de-duplicates on it."""
    identity = "\n".join([repository or "", commit or "", run or "local"])
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def build(outcome: Outcome, context: RunContext, input_error: str | None = None) -> Payload:
    repository = _text(outcome.repository or context.repository)
    commit = _text(outcome.commit or context.commit, MAX_ID_CHARS)
    ref = _text(context.ref or (f"refs/heads/{outcome.branch}" if outcome.branch else None))
    # In Actions the run and its attempt name the run; locally, the record's start time.
    run = f"{context.run_id}.{context.run_attempt or 1}" if context.run_id else outcome.started_at
    level = severity(outcome.status, outcome.gates)
    short = commit[:12] if commit else "unknown commit"
    missing = not_run(outcome.gates)
    # Said plainly in the title: a SOC reading "failed: lint" must not take it for
    # a run whose scans found nothing.
    gap = f"; not run: {', '.join(missing)}" if missing else ""
    return Payload(
        schema_version=SCHEMA_VERSION,
        event_id=str(uuid.uuid4()),
        dedupe_key=dedupe_key(repository, commit, run),
        timestamp=utc_now(),
        title=f"Pipeline {outcome.status}: {repository or 'unknown repository'} @ {short}{gap}"[
            :MAX_TEXT_CHARS
        ],
        repository=repository,
        commit=commit,
        ref=ref,
        actor=_text(context.actor),
        run_id=_text(context.run_id, MAX_ID_CHARS),
        run_url=_text(context.run_url, MAX_URL_CHARS),
        status=outcome.status,
        severity=int(level),
        severity_label=level.label,
        source=outcome.source,
        input_error=_text(input_error),
        duration_s=round(min(outcome.duration_s, 1e7), 3)
        if outcome.duration_s is not None
        else None,
        gates=outcome.gates[:MAX_GATES],
        gates_omitted=max(0, len(outcome.gates) - MAX_GATES),
        not_run=[name[:MAX_ID_CHARS] for name in missing[:MAX_GATES]],
        policy_changes=[policy_entry(c) for c in outcome.policy_changes[:MAX_POLICY_CHANGES]],
        policy_changes_omitted=max(0, len(outcome.policy_changes) - MAX_POLICY_CHANGES),
    )
