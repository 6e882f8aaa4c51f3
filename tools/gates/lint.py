"""The `lint` gate: ruff (style plus the S security rules), ruff's formatter, and
zizmor on the GitHub workflows. Every finding blocks: lint is the cheap fail-fast."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools import sarif
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.text import last_line
from tools.toolrun import run_tool
from tools.verdict import Finding

ROOT = Path.cwd()
RUFF_SARIF = REPORTS / "lint.sarif"
ZIZMOR_SARIF = REPORTS / "zizmor.sarif"
WORKFLOWS = Path(".github")


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
)


def ruff_check(timeout_s: float) -> list[Finding]:
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
        timeout=timeout_s,
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


def ruff_format(timeout_s: float) -> list[Finding]:
    # JSON, whatever RUFF_OUTPUT_FORMAT says: ruff's text output changes between releases.
    result = run_tool(
        ["ruff", "format", "--no-cache", "--check", "--output-format", "json", "."],
        timeout=timeout_s,
        what="ruff format",
    )
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
    unformatted = {
        entry.path: entry.line
        for entry in reversed(format_entries(result.stdout))
        if entry.code == "unformatted"
    }
    if result.returncode == 1 and not unformatted:
        raise GateError("ruff format --check failed but named no file: see its output")
    return [
        Finding(
            rule="ruff-format",
            level="error",
            path=path,
            line=line,
            message="not formatted: run `ruff format`",
            blocking=True,
        )
        for path, line in sorted(unformatted.items())
    ]


def zizmor_error(stderr: str) -> str:
    """The line naming the file zizmor could not load, rather than a backtrace's last."""
    for line in stderr.splitlines():
        if line.strip().startswith("failed to "):
            return line.strip()
    return last_line(stderr)


def zizmor(timeout_s: float) -> list[Finding]:
    if not WORKFLOWS.is_dir():
        return []
    # --strict-collection: without it a workflow that fails zizmor's schema check is
    # skipped with a warning, and the other workflows' clean result passes the gate.
    result = run_tool(
        ["zizmor", "--offline", "--strict-collection", "--format", "sarif", str(WORKFLOWS)],
        timeout=timeout_s,
        what="zizmor",
    )
    # zizmor: 0 clean, 10-14 findings by highest severity; anything else is an error.
    if result.returncode not in (0, *range(10, 15)):
        raise GateError(f"zizmor failed (exit {result.returncode}): {zizmor_error(result.stderr)}")
    ZIZMOR_SARIF.write_text(result.stdout, encoding="utf-8")
    # zizmor names files relative to the folder it scanned.
    log = sarif.relativize(sarif.load(ZIZMOR_SARIF, tool="zizmor"), ROOT, scanned=WORKFLOWS)
    sarif.write(log, ZIZMOR_SARIF)
    return sarif.findings(log, blocking=lambda _level: True)


def run(context: Context) -> Outcome:
    # Three small tools, each mostly start-up: side by side, the fail-fast is faster.
    with ThreadPoolExecutor(max_workers=3) as pool:
        checks = [
            pool.submit(check, context.timeout_s) for check in (ruff_check, ruff_format, zizmor)
        ]
        findings = [finding for check in checks for finding in check.result()]
    reports = [str(path) for path in (RUFF_SARIF, ZIZMOR_SARIF) if path.exists()]
    return Outcome(findings=findings, reports=reports)


if __name__ == "__main__":
    sys.exit(main(GATE, run, argparse.ArgumentParser(prog="lint", description=__doc__)))
