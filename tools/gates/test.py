"""The `test` gate: pytest with branch coverage of the service, enforced by the
threshold in pyproject.toml, writing reports/junit.xml and reports/coverage.xml.
Extra arguments are passed to pytest."""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET

from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.toolrun import run_tool
from tools.verdict import Finding

JUNIT = REPORTS / "junit.xml"
COVERAGE = REPORTS / "coverage.xml"
# The acceptance suite runs the whole pipeline on copies of the project: it is
# its own nox session, not part of the gate.
ACCEPTANCE = "tests/pipeline/acceptance"


def bare(bench: Bare) -> list[Command]:
    return [
        [
            bench.bin("python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--ignore={ACCEPTANCE}",
            "--cov",
            f"--cov-report=xml:{bench.scratch / 'coverage.xml'}",
            f"--junitxml={bench.scratch / 'junit.xml'}",
        ]
    ]


GATE = Gate(
    name="test",
    requires=("sast", "secrets", "deps"),
    timeout_s=1800,
    # A failing test is an engineering problem; the scans before it guard security.
    severity=Severity.LOW,
    reports=(JUNIT, COVERAGE),
    bare=bare,
)


def failed_tests() -> list[Finding]:
    try:
        suite = ET.parse(JUNIT).getroot()  # noqa: S314
    except (OSError, ET.ParseError) as error:
        raise GateError(f"pytest wrote no readable JUnit report at {JUNIT}: {error}") from None
    found = []
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            found.append(
                Finding(
                    rule="test-failed",
                    level="error",
                    path=case.get("file") or case.get("classname", "?").replace(".", "/") + ".py",
                    line=int(case.get("line") or 0) or None,
                    message=name,
                    blocking=True,
                )
            )
    return found


def coverage_percent() -> float:
    """The total that fail_under is held to: lines and branches together."""
    try:
        root = ET.parse(COVERAGE).getroot()  # noqa: S314
        covered = int(root.get("lines-covered", "")) + int(root.get("branches-covered", ""))
        valid = int(root.get("lines-valid", "")) + int(root.get("branches-valid", ""))
    except (OSError, ET.ParseError, ValueError) as error:
        raise GateError(f"pytest-cov wrote no readable report at {COVERAGE}: {error}") from None
    return round(100 * covered / valid, 2) if valid else 100.0


def run(context: Context) -> Outcome:
    result = run_tool(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--ignore={ACCEPTANCE}",
            f"--junitxml={JUNIT}",
            "--cov",
            f"--cov-report=xml:{COVERAGE}",
            "--cov-report=term",
            *context.args.pytest_args,
        ],
        timeout=context.timeout_s,
        what="pytest",
        capture=False,
    )
    # pytest: 0 passed, 1 tests failed or coverage under the threshold; 2-5 are errors.
    if result.returncode not in (0, 1):
        raise GateError(f"pytest did not complete (exit {result.returncode}): see its output above")
    findings = failed_tests()
    notes = [f"coverage {coverage_percent()}% of src/ (lines and branches)"]
    if result.returncode == 1 and not findings:
        findings.append(
            Finding(
                rule="coverage-under-threshold",
                level="error",
                path="pyproject.toml",
                line=None,
                message="coverage below [tool.coverage.report] fail_under",
                blocking=True,
            )
        )
    return Outcome(findings=findings, reports=[str(JUNIT), str(COVERAGE)], notes=notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="test", description=__doc__)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    sys.exit(main(GATE, run, parser))
