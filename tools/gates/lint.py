"""The `lint` gate: ruff (the S security rules, and the project's own rule sets),
ruff's formatter, and zizmor on the GitHub workflows. Every finding blocks: lint
is the cheap fail-fast.

It never changes a file (ruff and its formatter run in check mode, whatever the
project's configuration says), and lints exactly the tracked files it chose
(``tools.targets``), with configurations it chose:

- the project's Python with the project's ``[tool.ruff]`` (or ruff.toml),
  passed explicitly so that no nested configuration file applies, with the S
  rules always selected: the S policy is the pipeline's, ``[tool.pipeline.lint]``
  (``ignore`` for rules that never block, each with a reason; ``test-ignore`` for
  rules off in test files), and the project's own S ignores are dropped;
- the pipeline's own files (noxfile.py, tools/) with the pipeline's own
  configuration, ``tools/ruff.toml``, in every repository;
- the workflows with zizmor, with the repository's ``.github/zizmor.yml`` passed
  explicitly or no configuration at all.

    [tool.pipeline.lint]
    format = true                                   # ruff format --check
    test-ignore = ["S101", "S105", "S106", "S108"]  # S rules off in test files
    ignore = { S311 = "random for jitter, never for secrets" }
    exclude = { "vendor/" = "third-party code, audited upstream" }
    accept = { "big.py" = "why a file the gate cannot analyse is fine" }
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tools import (
    fingerprint,
    layout,
    policy,
    reports,
    sarif,
    settings,
    suppressions,
    targets,
    toolrun,
)
from tools.errors import GateError, SettingsError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.ledger import Ledger
from tools.reports import REPORTS
from tools.text import last_line
from tools.toolrun import run_tool
from tools.verdict import Finding

ROOT = Path.cwd()
RUFF_SARIF = REPORTS / "lint.sarif"
ZIZMOR_SARIF = REPORTS / "zizmor.sarif"
PIPELINE_RUFF = Path(__file__).resolve().parents[1] / "ruff.toml"
ZIZMOR_CONFIG = policy.path(".github/zizmor.yml")
# In tests, `assert` is the point (S101) and secrets, passwords and temp paths are
# fixtures (S105, S106, S108): the same lines in the code under test still block.
DEFAULT_TEST_IGNORE = ("S101", "S105", "S106", "S108")
DEFAULT_EXCLUDE = {
    ".semgrep/tests/": "Semgrep's rule fixtures: vulnerable on purpose, checked by the rule tests"
}
S_RULE = re.compile(r"S\d*")
# Keys of a project's ruff configuration that would change files, or the files
# linted, rather than the rules: the gate decides those itself.
NOT_FROM_THE_PROJECT = (
    "fix", "unsafe-fixes", "show-fixes", "fix-only", "output-format", "cache-dir",
    "exclude", "extend-exclude", "include", "extend-include", "force-exclude",
    "respect-gitignore",
)  # fmt: skip


@dataclass(frozen=True)
class LintSettings:
    format: bool = True
    test_ignore: tuple[str, ...] = DEFAULT_TEST_IGNORE
    ignore: dict[str, str] = field(default_factory=dict)
    exclude: dict[str, str] = field(default_factory=dict)
    accept: dict[str, str] = field(default_factory=dict)


def paths_with_reasons(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(path, str) and isinstance(why, str) and len(why.strip()) >= 10
        for path, why in value.items()
    ):
        raise SettingsError(f'{settings.TABLE}.{key} must be a table of path = "reason in words"')
    return {path: why.strip() for path, why in value.items()}


def read_settings(value: object) -> LintSettings:
    read = settings.table(
        value,
        "lint",
        {
            "format": lambda v: settings.boolean(v, "lint.format"),
            "test-ignore": lambda v: settings.codes(v, "lint.test-ignore"),
            "ignore": lambda v: settings.reasons(v, "lint.ignore"),
            "exclude": lambda v: paths_with_reasons(v, "lint.exclude"),
            "accept": lambda v: paths_with_reasons(v, "lint.accept"),
        },
    )
    return LintSettings(**read)


def bare(bench: Bare) -> list[Command]:
    return [
        [bench.bin("ruff"), "check", "--no-cache", "-q", "."],
        [bench.bin("ruff"), "format", "--check", "--no-cache", "-q", "."],
        [bench.bin("zizmor"), "--offline", "-q", ".github"],
    ]


GATE = Gate(
    name="lint",
    requires=(),
    timeout_s=300,
    # Style and the S rules: an engineering problem before it is a security one.
    severity=Severity.LOW,
    reports=(RUFF_SARIF, ZIZMOR_SARIF),
    bare=bare,
    settings=read_settings,
    holds_the_line=True,
    changed_files_in_pr=True,
)


# -- which configuration lints which files ----------------------------------------


def project_ruff(root: Path) -> tuple[Path | None, dict[str, Any]]:
    """The project's ruff configuration at its root, as ruff would find it there:
    .ruff.toml, then ruff.toml, then pyproject.toml's [tool.ruff]."""
    for name in (".ruff.toml", "ruff.toml"):
        if (root / name).is_file():
            return root / name, _toml(root / name)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _toml(pyproject).get("tool", {})
        if isinstance(tool, dict) and isinstance(tool.get("ruff"), dict):
            return pyproject, tool["ruff"]
    return None, {}


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise GateError(f"cannot read {path.name}: {error}") from None


def _without_s(codes: object) -> list[str]:
    return [code for code in codes or [] if not S_RULE.fullmatch(str(code))]  # type: ignore[attr-defined]


def overrides(project: dict[str, Any], own: LintSettings, tests: list[str]) -> list[str]:
    """``--config KEY=VALUE`` overrides on the project's configuration: the S
    rules on, the project's S ignores replaced by the pipeline's policy."""
    lint = project.get("lint", {}) if isinstance(project.get("lint"), dict) else {}

    def key(name: str) -> Any:  # ruff still reads lint keys at the top level too
        return lint.get(name, project.get(name))

    per_file: dict[str, list[str]] = {}
    for table in ("per-file-ignores", "extend-per-file-ignores"):
        for pattern, codes in (key(table) or {}).items():
            per_file.setdefault(pattern, []).extend(_without_s(codes))
    test_patterns = [f"{t.rstrip('/')}/**" for t in tests] + [
        "**/test_*.py", "**/*_test.py", "**/conftest.py"
    ]  # fmt: skip
    for pattern in test_patterns:
        per_file.setdefault(pattern, []).extend(own.test_ignore)
    values = {
        "fix": False,
        # RUF100 (an unused `noqa`): the gate reports a stale suppression itself, as
        # a warning; ruff's own would block on it.
        "lint.ignore": [*_without_s(key("ignore")), *sorted(own.ignore), "RUF100"],
        "lint.extend-ignore": _without_s(key("extend-ignore")),
        "lint.per-file-ignores": per_file,
        "lint.extend-per-file-ignores": {},
        # Last: ruff 0.17 lets an ignore override win only when it comes before the
        # selection (`extend-select` first kept S602 in force despite the ignore).
        "lint.extend-select": [*(key("extend-select") or []), "S"],
    }
    return [f"{name} = {_inline(value)}" for name, value in values.items()]


def _inline(value: object) -> str:
    """A TOML inline value (JSON's strings, lists and booleans are TOML's too)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def config_args(config: Path | None, extra: list[str]) -> list[str]:
    base = ["--config", str(config)] if config else ["--isolated"]
    return [*base, *[arg for item in extra for arg in ("--config", item)]]


@dataclass
class Plan:
    """The files each configuration lints, and the ledger of the whole gate."""

    project_files: list[str]
    pipeline_files: list[str]
    workflows: list[str]
    project_args: list[str]
    pipeline_args: list[str]
    zizmor_args: list[str]
    ledger: Ledger


def plan(root: Path) -> Plan:
    config = settings.load()
    own: LintSettings = config.of(GATE)
    where, project = project_ruff(policy.root())
    exclusions = {**DEFAULT_EXCLUDE, **own.exclude}
    for name in ("exclude", "extend-exclude"):
        for pattern in project.get(name) or []:
            exclusions.setdefault(pattern, f"excluded by the project's ruff {name}")
    changed = targets.changed_paths()
    python = targets.select(
        root,
        kind=targets.suffix_in(".py", ".pyi"),
        exclusions=exclusions,
        accepted=own.accept,
        changed=changed,
    )
    workflows = targets.select(
        root, kind=is_workflow, exclusions={}, accepted=own.accept, changed=changed
    )
    ledger = python.ledger
    ledger.total += workflows.ledger.total
    ledger.unchanged += workflows.ledger.unchanged
    ledger.skipped += workflows.ledger.skipped
    tests = layout.test_paths(root, config)
    zizmor_config = ["--config", str(ZIZMOR_CONFIG)] if ZIZMOR_CONFIG.is_file() else ["--no-config"]
    return Plan(
        project_files=[p for p in python.targets if not layout.is_pipeline_file(p)],
        pipeline_files=[p for p in python.targets if layout.is_pipeline_file(p)],
        workflows=workflows.targets,
        project_args=config_args(where, overrides(project, own, tests)),
        pipeline_args=config_args(PIPELINE_RUFF, ["fix = false"]),
        zizmor_args=zizmor_config,
        ledger=ledger,
    )


def is_workflow(path: str) -> bool:
    name = Path(path).name
    in_workflows = path.startswith(".github/workflows/") and name.endswith((".yml", ".yaml"))
    return in_workflows or name in {"action.yml", "action.yaml"}


# -- the three tools -----------------------------------------------------------------


def ruff_check(args: list[str], files: list[str], output: Path, timeout_s: float) -> dict:
    result = run_tool(
        # --ignore-noqa: the gate applies `# noqa` itself (tools.suppressions).
        ["ruff", "check", "--no-fix", "--no-cache", "--ignore-noqa", *args, "--output-format",
         "sarif",
         "--output-file", str(output), "--", *files],
        timeout=timeout_s,
        what="ruff",
    )  # fmt: skip
    # ruff exits 0 when clean, 1 on violations, 2 on abnormal termination (bad config, crash).
    if result.returncode not in (0, 1):
        raise GateError(f"ruff check failed (exit {result.returncode}): {last_line(result.stderr)}")
    log = sarif.relativize(sarif.load(output, tool="ruff"), ROOT)
    if result.returncode == 1 and not any(run.get("results") for run in log["runs"]):
        raise GateError("ruff reported violations but its SARIF report lists none")
    return log


def ruff_lint(plan_: Plan, timeout_s: float) -> list[Finding]:
    """Both configurations' runs, in one SARIF report."""
    logs = []
    with tempfile.TemporaryDirectory(prefix="lint-") as scratch:
        for index, (args, files) in enumerate(
            [(plan_.project_args, plan_.project_files), (plan_.pipeline_args, plan_.pipeline_files)]
        ):
            if files:
                logs.append(ruff_check(args, files, Path(scratch) / f"{index}.sarif", timeout_s))
    merged = sarif.merge(logs, tool="ruff") if logs else sarif.empty("ruff")
    sarif.write(merged, RUFF_SARIF)
    return sarif.findings(merged, blocking=lambda _level: True)


@dataclass(frozen=True)
class FormatEntry:
    """One file `ruff format --check` would change, or cannot parse."""

    code: str  # "unformatted", or why the file could not be read ("invalid-syntax")
    path: str
    line: int
    message: str


def format_entries(stdout: str) -> list[FormatEntry]:
    try:
        return [
            FormatEntry(
                code=str(item["code"]),
                path=sarif.relative_uri(item["filename"], ROOT),
                line=int(item["location"]["row"]),
                message=str(item.get("message") or ""),
            )
            for item in json.loads(stdout or "[]")
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise GateError(f"ruff format --check wrote no readable JSON: {error}") from None


def ruff_format_one(args: list[str], files: list[str], timeout_s: float) -> list[FormatEntry]:
    # JSON, whatever RUFF_OUTPUT_FORMAT says: ruff's text output changes between releases.
    result = run_tool(
        ["ruff", "format", "--no-cache", "--check", *args, "--output-format", "json", "--",
         *files],
        timeout=timeout_s,
        what="ruff format",
    )  # fmt: skip
    if result.returncode not in (0, 1):
        # A file ruff cannot parse is named in the JSON, not on stderr.
        try:
            entries = format_entries(result.stdout)
        except GateError:
            entries = []
        broken = (
            f"{e.path}:{e.line} {e.code}: {e.message}" for e in entries if e.code != "unformatted"
        )
        why = next(broken, last_line(result.stderr))
        raise GateError(f"ruff format failed (exit {result.returncode}): {why}")
    entries = format_entries(result.stdout)
    if result.returncode == 1 and not any(e.code == "unformatted" for e in entries):
        raise GateError("ruff format --check failed but named no file: see its output")
    return entries


def ruff_format(plan_: Plan, timeout_s: float) -> list[Finding]:
    if not settings.load().of(GATE).format:
        return []
    entries = []
    for args, files in (
        (plan_.project_args, plan_.project_files),
        (plan_.pipeline_args, plan_.pipeline_files),
    ):
        if files:
            entries += ruff_format_one(args, files, timeout_s)
    unformatted = {
        entry.path: entry.line for entry in reversed(entries) if entry.code == "unformatted"
    }
    return [
        Finding(
            rule="ruff-format",
            level="error",
            path=path,
            line=line,
            message="not formatted: run `ruff format`",
            blocking=True,
            # The whole file is the finding: its rule and its name stand for it.
            fingerprint=fingerprint.of("ruff-format", "file", path),
        )
        for path, line in sorted(unformatted.items())
    ]


def zizmor_error(stderr: str) -> str:
    """The line naming the file zizmor could not load, rather than a backtrace's last."""
    for line in stderr.splitlines():
        if line.strip().startswith("failed to "):
            return line.strip()
    return last_line(stderr)


def zizmor(plan_: Plan, timeout_s: float) -> list[Finding]:
    if not plan_.workflows:
        return []
    # --strict-collection: without it a workflow that fails zizmor's schema check is
    # skipped with a warning, and the other workflows' clean result passes the gate.
    result = run_tool(
        # --no-ignores: the gate applies `# zizmor: ignore[...]` itself (tools.suppressions).
        ["zizmor", "--offline", "--strict-collection", "--no-ignores", *plan_.zizmor_args,
         "--format", "sarif",
         *plan_.workflows],
        timeout=timeout_s,
        what="zizmor",
    )  # fmt: skip
    # zizmor: 0 clean, 10-14 findings by highest severity; anything else is an error.
    if result.returncode not in (0, *range(10, 15)):
        raise GateError(f"zizmor failed (exit {result.returncode}): {zizmor_error(result.stderr)}")
    reports.write_text(ZIZMOR_SARIF, result.stdout)
    log = sarif.relativize(sarif.load(ZIZMOR_SARIF, tool="zizmor"), ROOT)
    sarif.write(log, ZIZMOR_SARIF)
    return sarif.findings(log, blocking=lambda _level: True)


def run(context: Context) -> Outcome:
    for tool in ("ruff", "zizmor"):
        toolrun.pinned(GATE.lock, tool, tool)
    plan_ = plan(ROOT)
    # Three small tools, each mostly start-up: side by side, the fail-fast is faster.
    with ThreadPoolExecutor(max_workers=3) as pool:
        checks = [
            pool.submit(check, plan_, context.timeout_s)
            for check in (ruff_lint, ruff_format, zizmor)
        ]
        findings = [finding for check in checks for finding in check.result()]
    # Every file handed over was analysed: ruff reports one it cannot parse as a
    # finding, and zizmor's strict collection fails on one it cannot load.
    ledger = plan_.ledger
    ledger.scanned = len(plan_.project_files) + len(plan_.pipeline_files) + len(plan_.workflows)
    reports = [str(path) for path in (RUFF_SARIF, ZIZMOR_SARIF) if path.exists()]
    findings, in_force, silenced = suppressions.apply(
        findings, suppressions_in(plan_), is_security=is_security
    )
    for report in (RUFF_SARIF, ZIZMOR_SARIF):
        sarif.mark_suppressed(report, silenced)
    return Outcome(findings=findings, reports=reports, ledger=ledger, suppressions=in_force)


def is_security(rule: str) -> bool:
    """What a suppression must give a reason for: ruff's S rules, zizmor's audits."""
    return bool(S_RULE.fullmatch(rule)) or rule.startswith("zizmor/")


def security_suppression(suppression: suppressions.Suppression) -> bool:
    """One that names an S rule, or a whole file's `# ruff: noqa` naming none."""
    blanket = suppression.tool == suppressions.FILE_NOQA.tool and not suppression.rules
    return blanket or any(map(is_security, suppression.rules))


def suppressions_in(plan_: Plan) -> list[suppressions.Suppression]:
    """The `# noqa` and `# ruff: noqa` of the Python files and the zizmor ignores
    of the workflows. A `# noqa` naming no S rule keeps ruff's own meaning."""
    found = suppressions.in_files(
        ROOT,
        [*plan_.project_files, *plan_.pipeline_files],
        (suppressions.NOQA, suppressions.FILE_NOQA),
    )
    found = [s if security_suppression(s) else replace(s, security=False) for s in found]
    workflows = suppressions.in_files(ROOT, plan_.workflows, (suppressions.ZIZMOR,))
    return found + [replace(s, rules=tuple(f"zizmor/{r}" for r in s.rules)) for s in workflows]


if __name__ == "__main__":
    sys.exit(main(GATE, run, argparse.ArgumentParser(prog="lint", description=__doc__)))
