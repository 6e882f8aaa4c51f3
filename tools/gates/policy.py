"""The `policy` gate: a pull request's changes to gate policy, in plain words.

With a base (``PIPELINE_BASE_REF``, or ``--base``) it compares the base's policy
(``tools.policy``: the pipeline's code and locks, its rules and their
exclusions, the allowlists and ignores, ``[tool.pipeline]``, the ruff and
zizmor configurations, the workflows and their code owners) with the pull
request's, and lists every change (``tools.policy_changes``). A change that
strictly tightens the gates is reported; any other is a blocking finding, high
severity for the SOC, for code owners to review: the change takes effect once
merged, since every gate judges the pull request by the base's policy. Without
a base (a push, the weekly run) there is nothing to compare, and it says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from tools import policy, reports
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.policy import Change
from tools.reports import REPORTS
from tools.verdict import Finding

REPORT = REPORTS / "policy.json"


def bare(_bench: Bare) -> list[Command]:
    # The comparison is the gate's own work: no tool of its own to time.
    return []


GATE = Gate(
    name="policy",
    requires=(),
    timeout_s=120,
    # A weakened gate lets through what it was there to stop.
    severity=Severity.HIGH,
    reports=(REPORT,),
    bare=bare,
    notes_in_summary=True,
)


WEAKENED, TIGHTENED = "policy-weakened", "policy-tightened"


def as_finding(change: Change) -> Finding:
    return Finding(
        rule=TIGHTENED if change.tightens else WEAKENED,
        level="note" if change.tightens else "error",
        path=change.where,
        line=None,
        message=change.what,
        blocking=not change.tightens,
    )


def run(context: Context) -> Outcome:
    from tools.policy_changes import compare  # noqa: PLC0415 -- PyYAML: this gate's venv only

    base = context.args.base or policy.base_ref()
    if not base:
        reports.write_text(REPORT, json.dumps({"base": None, "changes": []}) + "\n")
        return Outcome(
            reports=[str(REPORT)],
            notes=["no base: nothing to compare (policy changes are judged on pull requests)"],
        )
    with tempfile.TemporaryDirectory(prefix="policy-") as scratch:
        given = os.environ.get(policy.ROOT_ENV)
        if given:  # the base's tree the gates run from, made by tools.sessions
            base_tree, commit = Path(given), policy.resolve(base)
            adopting = (base_tree / policy.ADOPTING_MARK).is_file()
        else:
            made = policy.materialize(base, Path(scratch) / "base")
            base_tree, commit, adopting = made.folder, made.commit, made.adopting
        # The pull request's policy as committed, read the same way as the base's:
        # caches and untracked files beside the checkout's are no policy.
        head = Path(scratch) / "head"
        policy.extract("HEAD", head)
        changes = compare(base_tree, head)
    notes = [f"policy of {base} ({commit[:12]}) against this checkout: {len(changes)} change(s)"]
    if adopting:
        notes.append("the base has no pipeline yet: this adopts it, judged by its shipped defaults")
    notes += [
        f"{'tightens' if change.tightens else 'WEAKENS or may'}: {change.what} ({change.where})"
        for change in changes
    ]
    reports.write_text(
        REPORT,
        json.dumps(
            {
                "base": base,
                "base_commit": commit,
                "adopting": adopting,
                "changes": [
                    {"where": c.where, "what": c.what, "tightens": c.tightens} for c in changes
                ],
            },
            indent=2,
        )
        + "\n",
    )
    return Outcome(
        findings=[as_finding(change) for change in changes],
        reports=[str(REPORT)],
        notes=notes,
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="policy", description=__doc__)
    options.add_argument(
        "--base", help=f"the pull request's base (default: ${policy.BASE_ENV}; unset: full mode)"
    )
    return options


if __name__ == "__main__":
    sys.exit(main(GATE, run, parser()))
