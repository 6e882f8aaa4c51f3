"""The `sast` gate: Semgrep. First the rule tests of .semgrep/rules.yml, then one scan
of the project (what .semgrepignore leaves) with the registry packs and our own rules.
ERROR findings block; WARNING findings are reported only. Without the registry
(PIPELINE_OFFLINE=1, or semgrep.dev not answering) only our own rules run, and the
gate says so; in GitHub Actions an unreachable registry is a gate error instead."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tools import network, sarif, settings
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.text import first_line, last_line
from tools.toolrun import run_tool, venv_state
from tools.verdict import Finding

ROOT = Path.cwd()
RULES = Path(".semgrep/rules.yml")
RULE_TESTS = Path(".semgrep/tests/rules.py")
SARIF_REPORT = REPORTS / "sast.sarif"
JSON_REPORT = REPORTS / "sast.json"
DEFAULT_REGISTRY = "https://semgrep.dev"
OFFLINE_NOTE = "registry packs skipped: offline"
# Without these Semgrep checks for a newer version and sends metrics: on a closed
# network the version check alone stalls a scan for about 100 s.
QUIET_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
QUIET_FLAGS = ("--metrics=off", "--disable-version-check")
# Where the last passing rule tests are recorded: inside the venv running the gate.
RULE_TESTS_PASSED = venv_state(".semgrep-rule-tests-passed")
# Without a login Semgrep fills fingerprints and matched lines with this placeholder.
LOGIN_PLACEHOLDER = "requires login"


def bare(bench: Bare) -> list[Command]:
    return [
        [
            bench.bin("semgrep"),
            "scan",
            f"--config={RULES}",
            *QUIET_FLAGS,
            "-q",
            f"--sarif-output={bench.scratch / 'sast.sarif'}",
            ".",
        ]
    ]


GATE = Gate(
    name="sast",
    requires=("lint",),
    timeout_s=1800,
    # An exploitable flaw on its way to production.
    severity=Severity.HIGH,
    reports=(SARIF_REPORT, JSON_REPORT),
    bare=bare,
)


@dataclass(frozen=True)
class Plan:
    configs: list[str]
    offline_reason: str | None = None


def semgrep(argv: list[str], *, timeout: float, what: str) -> tuple[int, str, str]:
    result = run_tool(
        ["semgrep", *argv, *QUIET_FLAGS],
        timeout=timeout,
        what=what,
        env={**os.environ, **QUIET_ENV},
    )
    return result.returncode, result.stdout, result.stderr


def registry_address() -> network.Address:
    """Where Semgrep fetches the packs from: SEMGREP_URL, as Semgrep itself reads it."""
    try:
        return network.address(os.environ.get("SEMGREP_URL") or DEFAULT_REGISTRY)
    except ValueError as error:
        raise GateError(f"SEMGREP_URL {error}: fix or unset it") from None


def plan() -> Plan:
    local, packs = str(RULES), settings.load().semgrep_packs
    if not packs:  # the project runs its own rules only: nothing to fetch
        return Plan([local])
    if network.offline_requested():
        return Plan([local], f"{network.OFFLINE_ENV}=1")
    registry = registry_address()
    host, port = registry.host, registry.port
    if network.reachable(host, port):
        return Plan([*packs, local])
    if network.in_github_actions():
        raise GateError(
            f"the Semgrep registry ({host}:{port}) is unreachable from GitHub Actions, where "
            f"the registry packs are required: retry, or set {network.OFFLINE_ENV}=1 to accept "
            "a scan with the project's rules only"
        )
    return Plan([local], f"{host}:{port} is unreachable")


def run_rule_tests(timeout_s: float) -> int:
    """``semgrep --test`` on the annotated fixture; returns how many rules it checked.

    Fails closed on its traps: a missing config runs zero tests and exits 0, and a
    rule file Semgrep cannot load is only reported with --strict."""
    for path in (RULES, RULE_TESTS):
        if not path.is_file():
            raise GateError(f"{path} is missing: the gate needs the rules and their tests")
    code, stdout, stderr = semgrep(
        ["--test", "--strict", "--json", "--config", str(RULES), str(RULE_TESTS)],
        timeout=timeout_s,
        what="semgrep --test",
    )
    try:
        report = json.loads(stdout)
        checks: dict[str, dict] = {
            check_id: check
            for config in report["results"].values()
            for check_id, check in config["checks"].items()
        }
        broken_configs = report.get("config_with_errors") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GateError(
            f"semgrep --test could not check {RULES} (exit {code}): {last_line(stderr)}"
        ) from None
    if broken_configs:
        raise GateError(f"{RULES} does not load: {first_line(str(broken_configs[0]))}")
    if not checks:
        raise GateError(
            f"semgrep --test ran no rule tests: annotate {RULE_TESTS} with "
            f"`# ruleid: <id>` and `# ok: <id>` lines for the rules in {RULES}"
        )
    failed = sorted(check_id for check_id, check in checks.items() if not check.get("passed"))
    if failed:
        details = "; ".join(describe_failure(check_id, checks[check_id]) for check_id in failed)
        raise GateError(f"rule tests failed in {RULE_TESTS}: {details}: fix the rule or its test")
    if code != 0:
        raise GateError(f"semgrep --test exited {code} although every check passed")
    return len(checks)


def rule_tests_digest() -> str:
    digest = hashlib.sha256(metadata.version("semgrep").encode())
    for path in (RULES, RULE_TESTS):
        digest.update(b"\0" + path.read_bytes())
    return digest.hexdigest()


def rule_tests_once(timeout_s: float) -> tuple[int, bool]:
    """The rule tests' verdict, rerun only when the rules, their tests or Semgrep
    changed: the same inputs give the same verdict, and the run costs as much as
    the scan itself. The verdict lives in the gate's venv, so a new venv (every
    CI job) always reruns them. Returns the rules checked and whether cached."""
    if RULE_TESTS_PASSED is None or not (RULES.is_file() and RULE_TESTS.is_file()):
        return run_rule_tests(timeout_s), False
    digest = rule_tests_digest()
    try:
        recorded, count = RULE_TESTS_PASSED.read_text(encoding="utf-8").split()
        if recorded == digest and int(count) > 0:
            return int(count), True
    except (OSError, ValueError):
        pass
    tested = run_rule_tests(timeout_s)
    RULE_TESTS_PASSED.write_text(f"{digest} {tested}\n", encoding="utf-8")
    return tested, False


def describe_failure(check_id: str, check: dict) -> str:
    parts = []
    for matches in (check.get("matches") or {}).values():
        expected = set(matches.get("expected_lines") or [])
        reported = set(matches.get("reported_lines") or [])
        if missed := sorted(expected - reported):
            parts.append(f"missed lines {missed}")
        if extra := sorted(reported - expected):
            parts.append(f"unexpected lines {extra}")
    if check.get("errors"):
        parts.append(first_line(str(check["errors"][0])))
    return f"{check_id} ({', '.join(parts) or 'failed'})"


def scan(configs: list[str], timeout_s: float) -> None:
    code, _stdout, stderr = semgrep(
        [
            "scan",
            *(f"--config={config}" for config in configs),
            f"--sarif-output={SARIF_REPORT}",
            f"--json-output={JSON_REPORT}",
            ".",
        ],
        timeout=timeout_s,
        what="semgrep",
    )
    # Without --error, findings exit 0: any other code means the scan did not complete
    # (2 fatal, 4 bad pattern, 5 bad YAML, 7 config not found or invalid).
    if code != 0:
        reason = first_error(JSON_REPORT) or last_line(stderr)
        raise GateError(f"semgrep failed (exit {code}): {reason}")


def first_error(path: Path) -> str | None:
    try:
        errors = json.loads(path.read_text(encoding="utf-8")).get("errors") or []
    except (OSError, ValueError, AttributeError):
        return None
    for error in errors:
        if isinstance(error, dict) and error.get("level") == "error":
            return first_line(str(error.get("message") or error.get("type") or error))
    return None


def tidy_sarif(notes: list[str]) -> dict:
    """Relative paths for GitHub; no matched text (p/default has secret detectors); no
    placeholder fingerprint, which would make every alert look like the same one."""
    log = sarif.drop_snippets(sarif.relativize(sarif.load(SARIF_REPORT, tool="semgrep"), ROOT))
    for run in log["runs"]:
        for result in run.get("results") or []:
            fingerprints = result.get("fingerprints") or {}
            for key in [k for k, v in fingerprints.items() if v == LOGIN_PLACEHOLDER]:
                del fingerprints[key]
            if not fingerprints:
                result.pop("fingerprints", None)
        invocations = run.setdefault("invocations", [{"executionSuccessful": True}])
        invocations[0].setdefault("toolExecutionNotifications", []).extend(
            {
                "level": "warning" if note.startswith(OFFLINE_NOTE) else "note",
                "message": {"text": note},
            }
            for note in notes
        )
    sarif.write(log, SARIF_REPORT)
    return log


def tidy_json(notes: list[str]) -> dict:
    try:
        report = json.loads(JSON_REPORT.read_text(encoding="utf-8"))
        results = report["results"]
        scanned = report["paths"]["scanned"]
    except FileNotFoundError:
        raise GateError(f"semgrep wrote no JSON report at {JSON_REPORT}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(f"semgrep's JSON report {JSON_REPORT} is unreadable: {error}") from None
    problems = [e for e in report.get("errors") or [] if isinstance(e, dict)]
    if errors := [e for e in problems if e.get("level") == "error"]:
        raise GateError(f"semgrep reported an error: {first_line(str(errors[0].get('message')))}")
    if problems:
        # Timeouts and partly parsed files: the rest of the scan stands. Only the kinds
        # go into the note, as Semgrep's messages may quote the code.
        kinds = sorted({problem_kind(problem) for problem in problems})
        notes.append(
            f"semgrep reported {len(problems)} non-fatal problem(s) ({', '.join(kinds)}): "
            f"some code may be unscanned, see {JSON_REPORT}"
        )
    if not scanned:
        raise GateError("semgrep scanned no files: check .semgrepignore and the checkout")
    fixtures = RULE_TESTS.parent.as_posix() + "/"
    if any(str(path).startswith(fixtures) for path in scanned):
        raise GateError(
            f"the scan included the rule fixtures: restore {fixtures} in .semgrepignore"
        )
    for result in results:
        result.get("extra", {}).pop("lines", None)
    report["notes"] = notes
    JSON_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def problem_kind(problem: dict) -> str:
    # Semgrep spells some types as [name, details], e.g. ["PartialParsing", [spans]].
    kind = problem.get("type")
    if isinstance(kind, list) and kind:
        kind = kind[0]
    return str(kind or "unknown")


def run(context: Context) -> Outcome:
    chosen = plan()
    notes = []
    if chosen.offline_reason:
        notes.append(
            f"{OFFLINE_NOTE} ({chosen.offline_reason}): only {RULES} ran, "
            f"not {', '.join(settings.load().semgrep_packs)}"
        )
        print(f"sast: WARNING: {notes[-1]}", file=sys.stderr, flush=True)
    tested, cached = rule_tests_once(context.timeout_s)
    notes.append(
        f"rule tests: {tested} rule(s) passed their tests in {RULE_TESTS}"
        + (" (rules, tests and Semgrep unchanged since they last passed here)" if cached else "")
    )
    notes.append(f"configs: {', '.join(chosen.configs)}")
    scan(chosen.configs, context.timeout_s)
    report = tidy_json(notes)
    log = tidy_sarif(notes)
    active, suppressed = split_suppressed(log)
    # Registry rules put the matched code into their messages ($X): the records
    # carry each rule's own description instead.
    findings: list[Finding] = sarif.findings(
        active, blocking=lambda level: level == "error", rule_messages=True
    )
    if len(findings) != len(report["results"]):
        raise GateError(
            f"semgrep's SARIF ({len(findings)}) and JSON ({len(report['results'])}) reports "
            "disagree on the number of findings"
        )
    if suppressed:
        notes.append(f"{suppressed} finding(s) suppressed in the code by `nosemgrep` comments")
    return Outcome(findings=findings, reports=[str(SARIF_REPORT), str(JSON_REPORT)], notes=notes)


def split_suppressed(log: dict) -> tuple[dict, int]:
    """The log without results silenced by `# nosemgrep` (which Semgrep keeps in SARIF,
    marked as suppressed, and drops from JSON), and how many there were."""
    runs, suppressed = [], 0
    for run in log["runs"]:
        results = run.get("results") or []
        kept = [result for result in results if not result.get("suppressions")]
        suppressed += len(results) - len(kept)
        runs.append({**run, "results": kept})
    return {**log, "runs": runs}, suppressed


if __name__ == "__main__":
    sys.exit(main(GATE, run, argparse.ArgumentParser(prog="sast", description=__doc__)))
