"""The `sast` gate: Semgrep. First the rule tests of the project's rule pack
(``.semgrep/<name>.yml``, each with ``.semgrep/tests/<name>.py``:
``tools.semgrep_rules``), then one scan of the project's tracked files with the
registry packs and the pack. ERROR findings block; WARNING findings are
reported only. Without the registry (PIPELINE_OFFLINE=1, or semgrep.dev not
answering) the packs run from a local store when ``PIPELINE_SEMGREP_PACKS``
names one (``tools.semgrep_packs``), else only the project's pack runs and the
gate says so; in GitHub Actions an unreachable registry is a gate error instead.

The gate hands Semgrep its targets explicitly (``tools.targets``): every tracked
Python file (and, when the registry packs run, every tracked file of a language
they read), never filtered by ``.gitignore``, minus what its policy excludes (the
rule fixtures, ``.semgrepignore``'s patterns, ``[tool.pipeline.sast] exclude``),
and reads back what Semgrep analysed: a file it did not (too large, a timeout, a
parse error, a name it cannot read, a link out of the repository) fails the gate
unless ``[tool.pipeline.sast] accept`` gives a reason.

    [tool.pipeline.sast]
    exclude = { "vendor/" = "third-party code, audited upstream" }
    accept = { "src/generated.py" = "generated parser tables, no logic" }
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from tools import (
    network,
    policy,
    reports,
    sarif,
    semgrep_packs,
    semgrep_rules,
    settings,
    suppressions,
    targets,
    toolrun,
)
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.gates.lint import paths_with_reasons
from tools.ledger import Ledger, Skip
from tools.reports import REPORTS
from tools.semgrep_rules import FOLDER
from tools.text import first_line, last_line
from tools.toolrun import run_tool, venv_state
from tools.verdict import Finding

ROOT = Path.cwd()
SARIF_REPORT = REPORTS / "sast.sarif"
JSON_REPORT = REPORTS / "sast.json"
OFFLINE_NOTE = "registry packs skipped: offline"
# Without these Semgrep checks for a newer version and sends metrics: on a closed
# network the version check alone stalls a scan for about 100 s.
QUIET_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
QUIET_FLAGS = ("--metrics=off", "--disable-version-check")
# Where the last passing rule tests are recorded: inside the venv running the gate.
RULE_TESTS_PASSED = venv_state(".semgrep-rule-tests-passed")
# Without a login Semgrep fills fingerprints and matched lines with this placeholder.
LOGIN_PLACEHOLDER = "requires login"
SEMGREPIGNORE = policy.path(".semgrepignore")
DEFAULT_EXCLUDE = {
    ".semgrep/tests/": "Semgrep's rule fixtures: vulnerable on purpose, checked by the rule tests"
}
# Semgrep's own default skips files over 1 MB unannounced. Raised to what a scan
# handles within the gate's time (a generated 10 MB module took about 40 s here);
# a larger file is a skip that fails the gate unless accepted.
MAX_TARGET_BYTES = 20_000_000
# Per file and rule, a timeout is a skip (the file was not fully analysed).
RULE_TIMEOUT_S = 30
# Under the kernel's limit on a command line (2 MiB here), with room for the rest.
MAX_ARGV_CHARS = 1_000_000
PYTHON = (".py", ".pyi")
# What the registry packs read besides Python: handed over only when they run.
PACK_LANGUAGES = (
    ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".java", ".kt", ".rb", ".php",
    ".c", ".h", ".cc", ".cpp", ".cs", ".rs", ".scala", ".swift", ".sh", ".bash", ".tf",
    ".yaml", ".yml", ".json", ".html", ".xml", ".dockerfile", ".sol", ".lua", ".ex", ".exs",
)  # fmt: skip
# Semgrep's error types that mean a file was not (fully) analysed.
NOT_ANALYSED = {
    "Timeout": "Semgrep ran out of time on it",
    "OutOfMemory": "Semgrep ran out of memory on it",
    "PartialParsing": "Semgrep could parse only part of it",
    "Syntax error": "Semgrep could not parse it",
    "Lexical error": "Semgrep could not read it",
    "Other syntax error": "Semgrep could not parse it",
}


@dataclass(frozen=True)
class SastSettings:
    exclude: dict[str, str] = field(default_factory=dict)
    accept: dict[str, str] = field(default_factory=dict)


def read_settings(value: object) -> SastSettings:
    read = settings.table(
        value,
        "sast",
        {
            "exclude": lambda v: paths_with_reasons(v, "sast.exclude"),
            "accept": lambda v: paths_with_reasons(v, "sast.accept"),
        },
    )
    return SastSettings(**read)


def bare(bench: Bare) -> list[Command]:
    # The pack merged into one config, as the gate hands it over (in the gate's
    # venv, which holds PyYAML), then the scan.
    local = bench.scratch / "project-rules.yml"
    return [
        [bench.bin("python"), "-m", "tools.semgrep_rules", str(local)],
        [
            bench.bin("semgrep"),
            "scan",
            f"--config={local}",
            *QUIET_FLAGS,
            "-q",
            f"--sarif-output={bench.scratch / 'sast.sarif'}",
            ".",
        ],
    ]


GATE = Gate(
    name="sast",
    requires=("lint",),
    timeout_s=1800,
    # An exploitable flaw on its way to production.
    severity=Severity.HIGH,
    reports=(SARIF_REPORT, JSON_REPORT),
    bare=bare,
    settings=read_settings,
    holds_the_line=True,
    changed_files_in_pr=True,
)


@dataclass(frozen=True)
class Plan:
    configs: list[str]
    local: list[Path]  # the configs read from files: their rules' ids are read back bare
    offline_reason: str | None = None
    store_note: str | None = None  # the registry packs came from a local store: which, how old


def semgrep(argv: list[str], *, timeout: float, what: str) -> tuple[int, str, str]:
    result = run_tool(
        ["semgrep", argv[0], *QUIET_FLAGS, *argv[1:]],
        timeout=timeout,
        what=what,
        env={**os.environ, **QUIET_ENV},
    )
    return result.returncode, result.stdout, result.stderr


def registry_address() -> network.Address:
    try:
        return network.address(semgrep_packs.registry())
    except ValueError as error:
        raise GateError(f"SEMGREP_URL {error}: fix or unset it") from None


def plan(project: Path) -> Plan:
    """Which configs the scan runs: the registry packs (from the registry, or a
    local store), and the project's pack merged into ``project``."""
    packs = settings.load().semgrep_packs
    if not packs:  # the project runs its own rules only: nothing to fetch
        return Plan([str(project)], [project])
    if store := semgrep_packs.store():
        files, note = semgrep_packs.load(store, packs)
        return Plan([*map(str, files), str(project)], [*files, project], store_note=note)
    if network.offline_requested():
        return Plan([str(project)], [project], f"{network.OFFLINE_ENV}=1")
    registry = registry_address()
    host, port = registry.host, registry.port
    if network.reachable(host, port):
        return Plan([*packs, str(project)], [project])
    if network.in_github_actions():
        raise GateError(
            f"the Semgrep registry ({host}:{port}) is unreachable from GitHub Actions, where "
            f"the registry packs are required: retry, set {semgrep_packs.STORE_ENV} to a "
            f"local store of them, or set {network.OFFLINE_ENV}=1 to accept a scan with the "
            "project's rules only"
        )
    return Plan([str(project)], [project], f"{host}:{port} is unreachable")


def run_rule_tests(rules: semgrep_rules.Pack, timeout_s: float) -> int:
    """``semgrep --test`` on every rule file and its fixture, in one run; returns
    how many rules it checked.

    Fails closed on its traps: a folder it skips runs zero tests and exits 0,
    and a rule file Semgrep cannot load is only reported with --strict."""
    with tempfile.TemporaryDirectory(prefix="sast-tests-") as scratch:
        rules_dir, tests_dir = semgrep_rules.test_layout(rules, Path(scratch))
        code, stdout, stderr = semgrep(
            ["--test", "--strict", "--json", "--config", str(rules_dir), str(tests_dir)],
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
        tested_files = {Path(name).name for name in report["results"]}
        broken_configs = report.get("config_with_errors") or []
        untested = report.get("config_missing_tests") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GateError(
            f"semgrep --test could not check {FOLDER} (exit {code}): {last_line(stderr)}"
        ) from None
    if broken_configs:
        raise GateError(f"a rule file does not load: {first_line(str(broken_configs[0]))}")
    missing = sorted({p.name for p in rules.files} - tested_files) or [
        Path(str(u)).name for u in untested
    ]
    if missing:
        raise GateError(
            f"semgrep --test ran no test of {', '.join(missing)}: annotate its fixture in "
            f"{FOLDER}/tests/ with `# ruleid: <id>` and `# ok: <id>` lines"
        )
    failed = sorted(check_id for check_id, check in checks.items() if not check.get("passed"))
    if failed:
        details = "; ".join(describe_failure(check_id, checks[check_id]) for check_id in failed)
        raise GateError(
            f"rule tests failed in {FOLDER}/tests/: {details}: fix the rule or its test"
        )
    if code != 0:
        raise GateError(f"semgrep --test exited {code} although every check passed")
    return len(checks)


def rule_tests_once(rules: semgrep_rules.Pack, timeout_s: float) -> tuple[int, bool]:
    """The rule tests' verdict, rerun only when the rules, their tests or Semgrep
    changed: the same inputs give the same verdict, and the run costs as much as
    the scan itself. The verdict lives in the gate's venv, so a new venv (every
    CI job) always reruns them. Returns the rules checked and whether cached."""
    if RULE_TESTS_PASSED is None:
        return run_rule_tests(rules, timeout_s), False
    digest = rules.digest(metadata.version("semgrep"))
    try:
        recorded, count = RULE_TESTS_PASSED.read_text(encoding="utf-8").split()
        if recorded == digest and int(count) > 0:
            return int(count), True
    except (OSError, ValueError):
        pass
    tested = run_rule_tests(rules, timeout_s)
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


def semgrepignore(path: Path = SEMGREPIGNORE) -> dict[str, str]:
    """``.semgrepignore``'s patterns, as exclusions of the gate's policy. Its
    ``:include`` lines are not followed: the targets are git's tracked files,
    which no ignore file (``.gitignore`` least of all) may take away."""
    if not path.is_file():
        return {}
    patterns = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        pattern = raw.strip()
        if pattern and not pattern.startswith(("#", ":", "!")):
            patterns[pattern] = f"excluded by {path}"
    return patterns


def choose_targets(with_packs: bool) -> targets.Selection:
    own: SastSettings = settings.load().of(GATE)
    kinds = PYTHON + (PACK_LANGUAGES if with_packs else ())
    return targets.select(
        ROOT,
        kind=lambda path: Path(path).suffix in kinds or Path(path).name == "Dockerfile",
        exclusions={**DEFAULT_EXCLUDE, **semgrepignore(), **own.exclude},
        accepted=own.accept,
        max_bytes=MAX_TARGET_BYTES,
        changed=targets.changed_paths(),
    )


def batches(files: list[str]) -> list[list[str]]:
    """The targets in as few command lines as the kernel allows."""
    groups: list[list[str]] = [[]]
    size = 0
    for name in files:
        if groups[-1] and size + len(name) + 1 > MAX_ARGV_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += len(name) + 1
    return groups


def scan(configs: list[str], files: list[str], timeout_s: float) -> None:
    """One Semgrep run per batch of targets, their reports merged into one of each."""
    logs, documents = [], []
    for index, batch in enumerate(batches(files)):
        sarif_out, json_out = REPORTS / f".sast-{index}.sarif", REPORTS / f".sast-{index}.json"
        try:
            code, _stdout, stderr = semgrep(
                [
                    "scan",
                    *(f"--config={config}" for config in configs),
                    f"--sarif-output={sarif_out}",
                    f"--json-output={json_out}",
                    f"--max-target-bytes={MAX_TARGET_BYTES}",
                    f"--timeout={RULE_TIMEOUT_S}",
                    "--no-git-ignore",
                    # The gate applies the inline suppressions itself (tools.suppressions).
                    "--disable-nosem",
                    "--",
                    *batch,
                ],
                timeout=timeout_s,
                what="semgrep",
            )
            # Without --error, findings exit 0: any other code means the scan did not
            # complete (2 fatal, 4 bad pattern, 5 bad YAML, 7 config not found or invalid).
            if code != 0:
                reason = first_error(json_out) or last_line(stderr)
                raise GateError(f"semgrep failed (exit {code}): {reason}")
            logs.append(sarif.load(sarif_out, tool="semgrep"))
            documents.append(read_json(json_out))
        finally:
            sarif_out.unlink(missing_ok=True)
            json_out.unlink(missing_ok=True)
    sarif.write(sarif.merge(logs, tool="semgrep") if len(logs) > 1 else logs[0], SARIF_REPORT)
    merged = {
        "results": [result for part in documents for result in part["results"]],
        "errors": [error for part in documents for error in part.get("errors") or []],
        "paths": {"scanned": [path for part in documents for path in part["paths"]["scanned"]]},
        "version": documents[0].get("version"),
    }
    reports.write_text(JSON_REPORT, json.dumps(merged) + "\n")


def read_json(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        report["results"], report["paths"]["scanned"]
    except FileNotFoundError:
        raise GateError(f"semgrep wrote no JSON report at {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(f"semgrep's JSON report {path} is unreadable: {error}") from None
    return report


def first_error(path: Path) -> str | None:
    try:
        errors = json.loads(path.read_text(encoding="utf-8")).get("errors") or []
    except (OSError, ValueError, AttributeError):
        return None
    for error in errors:
        if isinstance(error, dict) and error.get("level") == "error":
            return first_line(str(error.get("message") or error.get("type") or error))
    return None


def tidy_sarif(notes: list[str], ledger: Ledger, local: list[Path]) -> dict:
    """Relative paths for GitHub; rules read from files by their own ids; no
    matched text (p/default has secret detectors); no placeholder fingerprint,
    which would make every alert look like the same one."""
    log = sarif.load(SARIF_REPORT, tool="semgrep")
    rename = functools.partial(semgrep_rules.local_id, configs=local, cwd=ROOT)
    log = sarif.drop_snippets(sarif.rename_rules(sarif.relativize(log, ROOT), rename))
    for run in log["runs"]:
        for result in run.get("results") or []:
            fingerprints = result.get("fingerprints") or {}
            for key in [k for k, v in fingerprints.items() if v == LOGIN_PLACEHOLDER]:
                del fingerprints[key]
            if not fingerprints:
                result.pop("fingerprints", None)
        invocations = run.setdefault("invocations", [{"executionSuccessful": True}])
        invocations[0].setdefault("toolExecutionNotifications", []).extend(
            [
                *(
                    {
                        "level": "warning" if note.startswith(OFFLINE_NOTE) else "note",
                        "message": {"text": note},
                    }
                    for note in notes
                ),
                *ledger.notifications(),
            ]
        )
    sarif.write(log, SARIF_REPORT)
    return log


def tidy_json(notes: list[str], chosen: targets.Selection, local: list[Path]) -> dict:
    """The merged JSON report, without matched code, and the ledger completed
    from what Semgrep says it analysed."""
    report = read_json(JSON_REPORT)
    problems = [e for e in report.get("errors") or [] if isinstance(e, dict)]
    if errors := [e for e in problems if e.get("level") == "error" and not e.get("path")]:
        raise GateError(f"semgrep reported an error: {first_line(str(errors[0].get('message')))}")
    account(chosen, set(report["paths"]["scanned"]), problems)
    for result in report["results"]:
        result.get("extra", {}).pop("lines", None)
        if isinstance(result.get("check_id"), str):
            result["check_id"] = semgrep_rules.local_id(result["check_id"], local, ROOT)
    for problem in problems:  # Semgrep's messages may quote the code
        problem.pop("message", None)
        problem.pop("spans", None)
    report["notes"] = notes
    report["coverage"] = chosen.ledger.to_json()
    reports.write_text(JSON_REPORT, json.dumps(report, indent=2) + "\n")
    return report


def account(chosen: targets.Selection, scanned: set[str], problems: list[dict]) -> None:
    """What Semgrep analysed, against what it was handed: a Python file it did not
    list, or one it reported an error on, is a skip; a file of another language
    that no configured rule reads is excluded, with that reason."""
    ledger: Ledger = chosen.ledger
    accepted = settings.load().of(GATE).accept
    troubled = {}
    for problem in problems:
        if path := problem.get("path"):
            troubled.setdefault(
                path, NOT_ANALYSED.get(problem_kind(problem), "Semgrep failed on it")
            )
    analysed = 0
    for path in chosen.targets:
        why = troubled.get(path) or (None if path in scanned else "Semgrep did not analyse it")
        if why is None:
            analysed += 1
        elif Path(path).suffix in PYTHON or path in troubled:
            ledger.skipped.append(Skip(path, why, targets.matching(path, accepted)))
        else:
            ledger.excluded.append(Skip(path, "no rule of the configured packs reads its language"))
    ledger.scanned = analysed
    if not analysed and chosen.targets:
        raise GateError("semgrep analysed none of the files it was given: see reports/sast.json")


def problem_kind(problem: dict) -> str:
    # Semgrep spells some types as [name, details], e.g. ["PartialParsing", [spans]].
    kind = problem.get("type")
    if isinstance(kind, list) and kind:
        kind = kind[0]
    return str(kind or "unknown")


def run(context: Context) -> Outcome:
    toolrun.pinned(GATE.lock, "semgrep", "semgrep")
    rules = semgrep_rules.pack()
    with tempfile.TemporaryDirectory(prefix="sast-") as scratch:
        project = semgrep_rules.merged(rules, Path(scratch) / "project-rules.yml")
        return scan_with(context, rules, plan(project))


def scan_with(context: Context, rules: semgrep_rules.Pack, chosen: Plan) -> Outcome:
    notes = []
    if chosen.offline_reason:
        notes.append(
            f"{OFFLINE_NOTE} ({chosen.offline_reason}): only the project's rules ({FOLDER}/) "
            f"ran, not {', '.join(settings.load().semgrep_packs)}; {semgrep_packs.STORE_ENV} "
            "runs them from a local store"
        )
        print(f"sast: WARNING: {notes[-1]}", file=sys.stderr, flush=True)
    if chosen.store_note:
        notes.append(chosen.store_note)
    tested, cached = rule_tests_once(rules, context.timeout_s)
    notes.append(
        f"rule tests: {tested} rule(s) of {len(rules.files)} rule file(s) passed their tests"
        + (" (rules, tests and Semgrep unchanged since they last passed here)" if cached else "")
    )
    shown = [*chosen.configs[:-1], f"{FOLDER}/ ({len(rules.files)} rule files)"]
    notes.append(f"configs: {', '.join(shown)}")
    selection = choose_targets(with_packs=len(chosen.configs) > 1)
    if not selection.targets and policy.partial_scan():
        notes.append("no changed file of the kinds Semgrep reads: nothing to scan")
        sarif.write(sarif.empty("semgrep"), SARIF_REPORT)
        reports.write_text(JSON_REPORT, json.dumps({"results": [], "notes": notes}) + "\n")
        return Outcome(reports=[str(SARIF_REPORT), str(JSON_REPORT)], notes=notes,
                       ledger=selection.ledger)  # fmt: skip
    if not selection.targets:
        raise GateError(
            "semgrep scanned no files: the repository tracks no Python file outside the "
            "gate's exclusions (.semgrepignore, [tool.pipeline.sast] exclude)"
        )
    scan(chosen.configs, selection.targets, context.timeout_s)
    report = tidy_json(notes, selection, chosen.local)
    log = tidy_sarif(notes, selection.ledger, chosen.local)
    # Registry rules put the matched code into their messages ($X): the records
    # carry each rule's own description instead.
    findings: list[Finding] = sarif.findings(
        log, blocking=lambda level: level == "error", rule_messages=True
    )
    if len(findings) != len(report["results"]):
        raise GateError(
            f"semgrep's SARIF ({len(findings)}) and JSON ({len(report['results'])}) reports "
            "disagree on the number of findings"
        )
    comments = suppressions.in_files(ROOT, selection.targets, (suppressions.NOSEMGREP,))
    findings, in_force, silenced = suppressions.apply(findings, comments)
    sarif.mark_suppressed(SARIF_REPORT, silenced)
    return Outcome(
        findings=findings,
        reports=[str(SARIF_REPORT), str(JSON_REPORT)],
        notes=notes,
        ledger=selection.ledger,
        suppressions=in_force,
    )


if __name__ == "__main__":
    sys.exit(main(GATE, run, argparse.ArgumentParser(prog="sast", description=__doc__)))
