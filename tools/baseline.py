"""Hold the line: on a code base with findings, only new ones block.

Two sources say a finding is not new:

- the committed baseline, ``.pipeline/baseline.json``, which ``nox -s
  baseline`` writes from the findings of today: per gate, each finding's rule,
  file (as a hint) and fingerprint (``tools.fingerprint``), with a count, so
  that two identical findings stay two. It is policy: a pull request's baseline
  is not honoured until merged, and entries it adds are a policy change for
  code owners to review.
- in pull-request mode (a base), the base itself: a gate that scans changed
  files scans the base's versions of them too, under the same policy, and a
  finding the base already had does not block (code moved between files
  included). ``secrets`` scans the pull request's own commits, so every finding
  there is new; ``deps`` and ``test`` hold no line: a new advisory against an
  old pin is new risk.

A finding matched by neither is new and blocks. A baseline entry or a base
finding that matches nothing now is fixed. Every finding's state goes into the
gate's SARIF (``baselineState``), its record (new / existing / fixed) and
``reports/gates/<gate>.findings.json``, which ``nox -s baseline`` reads.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from tools import fingerprint, git, policy, reports, sarif, suppressions, targets
from tools.errors import GateError, PipelineError
from tools.gates import Gate, registry
from tools.reports import REPORTS
from tools.suppressions import Suppression
from tools.verdict import Finding

BASELINE = ".pipeline/baseline.json"
SCHEMA_VERSION = 1
BASE_SIDE_ENV = policy.BASE_SIDE_ENV
NEW, EXISTING = "new", "existing"
ROOT = Path.cwd()
MAX_LISTED = 20


class BaselineError(PipelineError):
    """The baseline cannot be read or written."""


@dataclass(frozen=True)
class Entry:
    rule: str
    path: str  # where it was when recorded: a hint, and the first place looked
    fingerprint: str
    count: int = 1

    def to_json(self) -> dict[str, object]:
        return vars(self)


@dataclass
class Debt:
    new: int = 0
    in_baseline: int = 0
    at_base: int = 0
    fixed: list[Entry] | None = None

    @property
    def existing(self) -> int:
        return self.in_baseline + self.at_base

    def to_json(self) -> dict[str, int]:
        return {"new": self.new, "existing": self.existing, "fixed": len(self.fixed or [])}

    def line(self) -> str:
        sources = []
        if self.in_baseline:
            sources.append(f"{self.in_baseline} in the baseline")
        if self.at_base:
            sources.append(f"{self.at_base} at the base")
        existing = f"{self.existing} existing" + (f" ({', '.join(sources)})" if sources else "")
        return f"hold the line: {self.new} new, {existing}, {len(self.fixed or [])} fixed"


def findings_report(gate: str) -> Path:
    return REPORTS / "gates" / f"{gate}.findings.json"


# -- the committed baseline -------------------------------------------------------------------


def load(root: Path | None = None) -> dict[str, list[Entry]]:
    """Every gate's entries in the baseline the policy holds; {} without one."""
    path = (root or policy.root()) / BASELINE
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version is not {SCHEMA_VERSION}")
        return {
            str(gate): [
                Entry(str(e["rule"]), str(e["path"]), str(e["fingerprint"]), int(e["count"]))
                for e in entries
            ]
            for gate, entries in document["gates"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise BaselineError(
            f"{BASELINE} is not a baseline ({type(error).__name__}): "
            "restore it from git, or run `nox -s baseline` to write it afresh"
        ) from None


def entries_of(findings: list[Finding]) -> list[Entry]:
    counted = Counter((f.rule, f.path, f.fingerprint) for f in findings if f.fingerprint)
    return [
        Entry(rule, path, print_, count) for (rule, path, print_), count in sorted(counted.items())
    ]


# -- judging ----------------------------------------------------------------------------------


class Pool:
    """Baseline entries, or base findings, not matched yet: by file, then anywhere."""

    def __init__(self, source: str, entries: list[Entry]) -> None:
        self.source = source
        self.entries = {(e.fingerprint, e.path): e for e in entries}
        self.left = Counter({key: entry.count for key, entry in self.entries.items()})

    def take(self, finding: Finding, same_file: bool) -> bool:
        keys = (
            [(finding.fingerprint, finding.path)]
            if same_file
            else [key for key in self.left if key[0] == finding.fingerprint]
        )
        for key in keys:
            if self.left[key] > 0:
                self.left[key] -= 1
                return True
        return False

    def remaining(self, scanned: frozenset[str] | None) -> list[Entry]:
        return [
            replace(self.entries[key], count=count)
            for key, count in self.left.items()
            if count > 0 and (scanned is None or key[1] in scanned)
        ]


def judge(
    findings: list[Finding],
    baseline: list[Entry],
    base: list[Finding] | None = None,
    scanned: frozenset[str] | None = None,
) -> tuple[list[Finding], Debt]:
    """Each finding marked new (blocking as its gate decided) or existing (not
    blocking), and the debt. A finding is existing when the baseline holds it,
    or the base had it; each is matched in the same file first, then anywhere
    (code moves). A partial scan (``scanned``: in pull-request mode, the changed
    files) matches only the baseline's entries for those files. Fixed is what
    the base had and the pull request no longer has; in a full scan, the
    baseline's entries that match nothing."""
    recorded = [e for e in baseline if scanned is None or e.path in scanned]
    pools = {"baseline": Pool("baseline", recorded)}
    if base is not None:
        pools["base"] = Pool("base", entries_of(base))
    matched: list[set[str]] = [set() for _ in findings]
    for pool in pools.values():
        for same_file in (True, False):
            for position, finding in enumerate(findings):
                taken = pool.source in matched[position] or not finding.fingerprint
                if not taken and pool.take(finding, same_file):
                    matched[position].add(pool.source)
    fixed_from = pools["base"] if base is not None else pools["baseline"]
    debt = Debt(fixed=fixed_from.remaining(scanned))
    judged = []
    for finding, sources in zip(findings, matched, strict=True):
        if not sources:
            debt.new += 1
            judged.append(replace(finding, state=NEW))
            continue
        if "baseline" in sources:
            debt.in_baseline += 1
        else:
            debt.at_base += 1
        judged.append(replace(finding, state=EXISTING, blocking=False))
    return judged, debt


# -- pull-request mode: the base's versions of the changed files -------------------------------


@dataclass(frozen=True)
class BaseSide:
    findings: list[Finding]
    suppressions: list[Suppression]


def base_side(gate: Gate, changed: frozenset[str]) -> BaseSide:
    """The gate's findings on the base's versions of the changed files, under
    the same policy: the gate runs again, in a scratch repository holding only
    those files as the merge base has them."""
    merge_base = targets.merge_base()
    if merge_base is None or not changed:
        return BaseSide([], [])
    present = [
        name
        for name in git.paths("ls-tree", "-r", "-z", "--name-only", merge_base)
        if name in changed
    ]
    if not present:  # every changed file is new: the base had none of them
        return BaseSide([], [])
    with tempfile.TemporaryDirectory(prefix=f"{gate.name}-base-") as scratch:
        root = Path(scratch)
        archive = git.run_bytes("archive", "--format=tar", merge_base, "--", *present)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(root, filter="data")
        git.output("init", "-q", cwd=root)
        git.output("add", "-A", "-f", cwd=root)
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {policy.BASE_ENV, "GITHUB_BASE_REF"}
        }
        env[policy.ROOT_ENV] = str(policy.root().resolve())
        env[BASE_SIDE_ENV] = "1"
        result = subprocess.run(
            [sys.executable, "-P", "-m", gate.module],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in (0, 1):
            why = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise GateError(f"the base's versions of the changed files could not be scanned: {why}")
        report = root / findings_report(gate.name)
        return BaseSide(read_findings(report), read_suppressions(report))


def read_suppressions(path: Path) -> list[Suppression]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [
            Suppression(
                tool=str(item["tool"]),
                path=str(item["path"]),
                line=item["line"] if type(item["line"]) is int else None,
                rules=tuple(str(rule) for rule in item["rules"]),
                reason=item["reason"],
                until=item["until"],
            )
            for item in document.get("suppressions") or []
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(f"{path.name} is unreadable: {type(error).__name__}") from None


def read_findings(path: Path) -> list[Finding]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [
            Finding(
                rule=str(item["rule"]),
                level=str(item["level"]),
                path=str(item["path"]),
                line=item["line"] if type(item["line"]) is int else None,
                message="",
                blocking=True,
                fingerprint=item.get("fingerprint"),
            )
            for item in document["findings"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(f"{path.name} is unreadable: {type(error).__name__}") from None


# -- the gate's side: judge, then say so everywhere --------------------------------------------


def hold_the_line(
    gate: Gate, findings: list[Finding], in_force: list[Suppression]
) -> tuple[list[Finding], Debt, list[dict[str, object]]]:
    """``findings`` judged against the baseline and, in pull-request mode, the
    base; and the suppressions in force as record entries, those the pull
    request adds marked new."""
    in_pull_request = policy.base_ref() is not None and not os.environ.get(BASE_SIDE_ENV)
    scanned, base = None, None
    base_suppressions = suppressions.known_at_base(in_force)
    if in_pull_request and gate.changed_files_in_pr:
        scanned = targets.changed_paths()
        base = base_side(gate, scanned or frozenset())
        base_suppressions = [*(base_suppressions or []), *base.suppressions]
    elif in_pull_request:
        # The pull request's own commits, say: nothing the baseline records is among them.
        scanned = frozenset()
    judged, debt = judge(findings, load().get(gate.name, []), base.findings if base else None,
                         scanned)  # fmt: skip
    write_findings(gate, judged, debt, in_force)
    for report in gate.sarif_reports:
        if report.exists():
            mark_sarif(report, judged)
    return judged, debt, suppressions.marked_new(in_force, base_suppressions)


def write_findings(
    gate: Gate, findings: list[Finding], debt: Debt, in_force: list[Suppression]
) -> None:
    document = {
        "gate": gate.name,
        "debt": debt.to_json(),
        "findings": [
            {
                "rule": f.rule,
                "level": f.level,
                "path": f.path,
                "line": f.line,
                "fingerprint": f.fingerprint,
                "state": f.state,
            }
            for f in findings
        ],
        "fixed": [entry.to_json() for entry in debt.fixed or []],
        "suppressions": [s.to_json() for s in in_force],
    }
    reports.write_text(findings_report(gate.name), json.dumps(document, indent=2) + "\n")


def mark_sarif(path: Path, findings: list[Finding]) -> None:
    """Each SARIF result's fingerprint and ``baselineState``, as the findings were judged."""
    log = sarif.load(path, tool=path.stem)
    existing = Counter(f.fingerprint for f in findings if f.state == EXISTING)
    for run in log["runs"]:
        for result in run.get("results") or []:
            given = result.setdefault("partialFingerprints", {})
            print_ = given.get(fingerprint.VERSION) or fingerprint.of_sarif_result(
                result, Path.cwd()
            )
            given[fingerprint.VERSION] = print_
            if existing[print_] > 0:
                existing[print_] -= 1
                result["baselineState"] = "unchanged"
            else:
                result["baselineState"] = "new"
    sarif.write(log, path)


# -- nox -s baseline ---------------------------------------------------------------------------


def baselined_gates() -> list[Gate]:
    return [gate for gate in registry().values() if gate.holds_the_line]


def write_baseline() -> int:
    gates: dict[str, list[Entry]] = {}
    for gate in baselined_gates():
        path = findings_report(gate.name)
        if not path.is_file():
            raise BaselineError(f"{gate.name} did not finish its scan (no {path}): fix it first")
        gates[gate.name] = entries_of(read_findings(path))
    before = load(Path("."))
    target = Path(BASELINE)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "schema_version": SCHEMA_VERSION,
        "gates": {name: [e.to_json() for e in entries] for name, entries in gates.items()},
    }
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for name, entries in gates.items():
        old = Counter({(e.fingerprint, e.path): e.count for e in before.get(name, [])})
        new = Counter({(e.fingerprint, e.path): e.count for e in entries})
        added, removed = sum((new - old).values()), sum((old - new).values())
        total = sum(new.values())
        print(f"baseline: {name}: {total} finding(s) recorded, {added} added, {removed} removed")
    print(f"baseline: wrote {BASELINE}: review the entries added, then commit it")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(prog="baseline", description=__doc__.splitlines()[0])
    options.add_argument("--write", action="store_true", required=True)
    options.parse_args(argv)
    try:
        return write_baseline()
    except PipelineError as error:
        print(f"baseline: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
