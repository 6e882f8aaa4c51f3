"""The edge every gate shares: the bookkeeping around a gate's own check.

A gate module implements ``run(context) -> Outcome`` and hands it, with its
``GATE`` and its argument parser, to ``main``. ``main`` deletes the gate's
stale reports, resolves its timeout from the settings, times the run, turns a
``PipelineError`` (the tool crashed, timed out, wrote no report, could not
reach its data, a setting is wrong) into one clear line, and always writes
``reports/gates/<gate>.json`` so that the pipeline can tell a clean gate from
a broken one. Exit codes: 0 passed, 1 blocking findings, 2 gate error.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from tools import baseline, reports, settings, suppressions
from tools.clock import utc_now
from tools.errors import PipelineError
from tools.gates import Gate
from tools.ledger import Ledger
from tools.reports import record_path
from tools.suppressions import Suppression
from tools.text import console, first_line, mask_secrets
from tools.verdict import Finding, GateRecord, Status, counts

# Enough for a person to act on; the full list is in the gate's own report.
MAX_BLOCKING_IN_RECORD = 50

EXIT_PASSED, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Context:
    """What a gate's ``run`` is given."""

    args: argparse.Namespace
    timeout_s: float  # for each run of the gate's tool


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger: Ledger | None = None  # what the gate covered, for a scanning gate
    # The suppressions in force, as the gate applied them (tools.suppressions).
    suppressions: list[Suppression] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.blocking]

    def account(self) -> None:
        """Turn the ledger into notes and, for each skip no setting accepts, a
        blocking finding: what the tool did not analyse fails the gate."""
        if self.ledger is None:
            return
        self.notes = [self.ledger.line(), *self.ledger.details(), *self.notes]
        self.findings += [
            Finding(
                rule="not-analysed",
                level="error",
                path=skip.path,
                line=None,
                message=f"{skip.why}: accept it with a reason in [tool.pipeline], or fix it",
                blocking=True,
            )
            for skip in self.ledger.refused
        ]


def masked(finding: Finding) -> Finding:
    """The finding with any secret-shaped value in its text masked: a tool's
    message may quote the code it matched (ruff's F601 quotes a dict key)."""
    return replace(finding, message=mask_secrets(finding.message), path=mask_secrets(finding.path))


@contextmanager
def workflow_commands_off() -> Iterator[None]:
    """In GitHub Actions, nothing a tool prints while the gate runs (a test's
    output, a file's name) is taken for a workflow command (``::error::``...):
    the runner is told to stop reading them until a token only this run knows."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        yield
        return
    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        print(f"::{token}::", flush=True)


def remove_reports(gate: Gate) -> None:
    for report in gate.reports:
        report.unlink(missing_ok=True)


def main(
    gate: Gate,
    run: Callable[[Context], Outcome],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    args = parser.parse_args(argv)
    started, clock = utc_now(), time.monotonic()
    reason: str | None = None
    errored = False
    try:
        reports.prepare(fresh=False)
        record_path(gate.name).unlink(missing_ok=True)
        baseline.findings_report(gate.name).unlink(missing_ok=True)
        # A report left by an earlier run must never pass for this one's.
        remove_reports(gate)
        with workflow_commands_off():
            outcome = run(Context(args, timeout_s=settings.load().timeout(gate)))
    except reports.ReportsError as error:
        print(f"{gate.name}: error: {console(str(error))}", file=sys.stderr)
        return EXIT_ERROR  # nowhere safe to write a record
    except PipelineError as error:
        outcome, reason, errored = Outcome(), str(error), True
    except Exception as error:  # the edge: a crash is a failed gate, never findings
        outcome, errored = Outcome(), True
        reason = f"internal error: {type(error).__name__}: {first_line(str(error))}"
    if errored:
        print(f"{gate.name}: error: {console(str(reason))}", file=sys.stderr)
        # An unfinished run's report would read as "no findings" (a SARIF uploaded to
        # code scanning would close every open alert): no report beats a wrong one.
        remove_reports(gate)
    outcome.account()
    outcome.findings = [masked(finding) for finding in outcome.findings]
    debt = None
    suppressed = suppressions.marked_new(
        outcome.suppressions, suppressions.known_at_base(outcome.suppressions)
    )
    if gate.holds_the_line and not errored:
        try:
            outcome.findings, debt, suppressed = baseline.hold_the_line(
                gate, outcome.findings, outcome.suppressions
            )
        except PipelineError as error:
            reason, errored = str(error), True
            print(f"{gate.name}: error: {console(reason)}", file=sys.stderr)
            remove_reports(gate)
        else:
            outcome.notes.append(debt.line())
            outcome.notes += [
                f"fixed: {entry.rule} (was in {entry.path})"
                for entry in (debt.fixed or [])[:MAX_BLOCKING_IN_RECORD]
            ]
    blocking = outcome.blocking
    if reason is None and blocking:
        rules = sorted({finding.rule for finding in blocking})
        reason = f"{len(blocking)} blocking finding(s): {', '.join(rules)}"
        for finding in blocking:
            shown = " ".join(console(part) for part in (finding.rule, finding.location()))
            print(f"{gate.name}: {shown} {console(finding.message)}", file=sys.stderr)
    outcome.notes = [mask_secrets(note) for note in outcome.notes]
    for note in outcome.notes:
        print(f"{gate.name}: {console(note)}")
    record = GateRecord(
        gate=gate.name,
        status=Status.FAILED if reason else Status.PASSED,
        started_at=started,
        ended_at=utc_now(),
        duration_s=round(time.monotonic() - clock, 3),
        findings=counts(outcome.findings),
        blocking=blocking[:MAX_BLOCKING_IN_RECORD],
        reports=outcome.reports,
        notes=outcome.notes,
        reason=reason,
        coverage=outcome.ledger.to_json() if outcome.ledger else None,
        debt=debt.to_json() if debt else None,
        suppressions=suppressed[:MAX_BLOCKING_IN_RECORD],
    )
    reports.write_text(record_path(gate.name), record.dumps() + "\n")
    if reason is None:
        print(f"{gate.name}: passed ({sum(record.findings.values())} non-blocking finding(s))")
        return EXIT_PASSED
    print(f"{gate.name}: FAILED: {console(reason)}", file=sys.stderr)
    return EXIT_ERROR if errored else EXIT_FINDINGS
