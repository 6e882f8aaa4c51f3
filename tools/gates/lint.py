"""The `lint` gate: ruff (style plus the S security rules), ruff's formatter, and
zizmor on the GitHub workflows. Every finding blocks: lint is the cheap fail-fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools import sarif
from tools.gates._gate import REPORTS, Finding, GateError, Outcome, last_line, main, run_tool

ROOT = Path.cwd()
RUFF_SARIF = REPORTS / "lint.sarif"
ZIZMOR_SARIF = REPORTS / "zizmor.sarif"
WORKFLOWS = Path(".github")
TIMEOUT_S = 300


def ruff_check() -> list[Finding]:
    RUFF_SARIF.unlink(missing_ok=True)
    result = run_tool(
        [
            "ruff",
            "check",
            "--no-cache",
            "--output-format",
            "sarif",
            "--output-file",
            str(RUFF_SARIF),
            ".",
        ],
        timeout=TIMEOUT_S,
        what="ruff",
    )
    # ruff exits 0 when clean, 1 on violations, 2 on abnormal termination (bad config, crash).
    if result.returncode not in (0, 1):
        raise GateError(f"ruff check failed (exit {result.returncode}): {last_line(result.stderr)}")
    log = sarif.relativize(sarif.load(RUFF_SARIF, tool="ruff"), ROOT)
    sarif.write(log, RUFF_SARIF)
    found = sarif.findings(log, blocking=lambda _level: True)
    if result.returncode == 1 and not found:
        raise GateError("ruff reported violations but its SARIF report lists none")
    return found


def ruff_format() -> list[Finding]:
    result = run_tool(
        ["ruff", "format", "--no-cache", "--check", "."], timeout=TIMEOUT_S, what="ruff format"
    )
    if result.returncode not in (0, 1):
        raise GateError(
            f"ruff format failed (exit {result.returncode}): {last_line(result.stderr)}"
        )
    prefix = "Would reformat: "
    found = [
        Finding(
            rule="ruff-format",
            level="error",
            path=line.removeprefix(prefix).strip(),
            line=None,
            message="not formatted: run `ruff format`",
            blocking=True,
        )
        for line in result.stdout.splitlines()
        if line.startswith(prefix)
    ]
    if result.returncode == 1 and not found:
        raise GateError("ruff format --check failed but named no file: its output changed?")
    return found


def zizmor_error(stderr: str) -> str:
    """The line naming the file zizmor could not load, rather than a backtrace's last."""
    for line in stderr.splitlines():
        if line.strip().startswith("failed to "):
            return line.strip()
    return last_line(stderr)


def zizmor() -> list[Finding]:
    ZIZMOR_SARIF.unlink(missing_ok=True)
    if not WORKFLOWS.is_dir():
        return []
    # --strict-collection: without it a workflow that fails zizmor's schema check is
    # skipped with a warning, and the other workflows' clean result passes the gate.
    result = run_tool(
        ["zizmor", "--offline", "--strict-collection", "--format", "sarif", str(WORKFLOWS)],
        timeout=TIMEOUT_S,
        what="zizmor",
    )
    # zizmor: 0 clean, 10-14 findings by highest severity; anything else is an error.
    if result.returncode not in (0, *range(10, 15)):
        raise GateError(f"zizmor failed (exit {result.returncode}): {zizmor_error(result.stderr)}")
    ZIZMOR_SARIF.write_text(result.stdout, encoding="utf-8")
    log = sarif.relativize(sarif.load(ZIZMOR_SARIF, tool="zizmor"), ROOT)
    sarif.write(log, ZIZMOR_SARIF)
    return sarif.findings(log, blocking=lambda _level: True)


def run(_args: argparse.Namespace) -> Outcome:
    findings = ruff_check() + ruff_format() + zizmor()
    reports = [str(path) for path in (RUFF_SARIF, ZIZMOR_SARIF) if path.exists()]
    return Outcome(findings=findings, reports=reports)


if __name__ == "__main__":
    sys.exit(main("lint", run, argparse.ArgumentParser(prog="lint", description=__doc__)))
