"""The `test` gate: the project's own tests, with branch coverage of its own
packages held to the threshold of ``[tool.pipeline.test]``, writing
reports/junit.xml and reports/coverage.xml. Extra arguments go to pytest.

The venv holds the project's own test environment (its lock, or its declared
test dependencies) plus the pipeline's pinned pytest-cov (``tools.testenv``).
Coverage runs from a configuration the gate writes itself: it measures the
packages ``[tool.pipeline] source`` names (found under src/, else at the top
level, by default), and the total is computed here from the XML report, over
those packages only, so that no ``.coveragerc``, ``setup.cfg``, ``tox.ini``,
``[tool.coverage]``, ``COVERAGE_*`` or ``PYTEST_ADDOPTS`` can lower or narrow it.

    [tool.pipeline.test]
    fail-under = 80        # percent of lines and branches, together
    groups = ["test"]      # dependency groups the tests need (default: test, tests, dev...)
    extras = ["test"]      # the project's extras they need (default: test, tests, testing...)
    requirements = []      # requirements files they need (default: requirements-test.txt...)
    pytest-args = []       # passed to pytest before the test paths
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tools import layout, settings, toolrun
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.toolrun import run_tool
from tools.verdict import Finding

JUNIT = REPORTS / "junit.xml"
COVERAGE = REPORTS / "coverage.xml"
DEFAULT_FAIL_UNDER = 80.0
# What a project's environment may set to steer pytest or coverage from outside
# the gate's own configuration.
STEERING_ENV = ("COVERAGE_", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
# "50% (1/2)": the branch part of a line in Cobertura XML.
CONDITIONS = re.compile(r"\((\d+)/(\d+)\)")
EXIT_TESTS_FAILED, EXIT_NO_TESTS = 1, 5


@dataclass(frozen=True)
class TestSettings:
    fail_under: float = DEFAULT_FAIL_UNDER
    groups: tuple[str, ...] | None = None  # None: found (tools.testenv)
    extras: tuple[str, ...] | None = None
    requirements: tuple[str, ...] | None = None
    pytest_args: tuple[str, ...] = ()


def read_settings(value: object) -> TestSettings:
    read = settings.table(
        value,
        "test",
        {
            "fail-under": lambda v: settings.number(v, "test.fail-under", 0, 100, above=False),
            "groups": lambda v: settings.strings(v, "test.groups"),
            "extras": lambda v: settings.strings(v, "test.extras"),
            "requirements": lambda v: settings.strings(v, "test.requirements"),
            "pytest-args": lambda v: settings.strings(v, "test.pytest-args"),
        },
    )
    return TestSettings(**read)


def bare(bench: Bare) -> list[Command]:
    own = settings.load(bench.project / "pyproject.toml").of(GATE)
    return [
        [
            bench.bin("python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *own.pytest_args,
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
    settings=read_settings,
)


def failed_tests() -> list[Finding]:
    try:
        suite = ET.parse(JUNIT).getroot()  # noqa: S314 -- pytest's own report, written here
    except (OSError, ET.ParseError) as error:
        raise GateError(f"pytest wrote no readable JUnit report at {JUNIT}: {error}") from None
    found = []
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            found.append(
                Finding(
                    rule="test-failed",
                    level="error",
                    # xunit1 names the test's own file and line, where pytest found it.
                    path=case.get("file") or case.get("classname", "?"),
                    line=int(case.get("line") or "-1") + 1 or None,
                    message=f"{case.get('classname', '')}::{case.get('name', '')}",
                    blocking=True,
                )
            )
    return found


def coverage_of(root: Path, packages: list[layout.Package]) -> tuple[float, int]:
    """Lines and branches of ``packages`` covered, in percent, and the files
    counted. Computed from the XML over the packages' own files alone: a source
    another configuration added is not counted, and none can be taken away."""
    try:
        report = ET.parse(COVERAGE).getroot()  # noqa: S314 -- coverage's report, written here
    except (OSError, ET.ParseError) as error:
        raise GateError(
            f"pytest-cov wrote no coverage report at {COVERAGE} ({error}): was coverage "
            "switched off by the project's pytest options (--no-cov, -p no:cov)?"
        ) from None
    sources = [Path(source.text or "") for source in report.iter("source")]
    ours = [(root / package.path).resolve() for package in packages]
    covered = valid = files = 0
    for measured in report.iter("class"):
        filename = measured.get("filename", "")
        where = [(source / filename).resolve() for source in sources] or [root / filename]
        if not any(path == own or path.is_relative_to(own) for path in where for own in ours):
            continue
        files += 1
        for line in measured.iter("line"):
            valid += 1
            covered += int(line.get("hits", "0") or 0) > 0
            if branches := CONDITIONS.search(line.get("condition-coverage", "")):
                covered += int(branches[1])
                valid += int(branches[2])
    return (round(100 * covered / valid, 2) if valid else 0.0), files


COVERAGERC = """[run]
source_pkgs = {packages}
branch = True
data_file = {data}

[report]
fail_under = 0
"""


def run(context: Context) -> Outcome:
    for runner in ("pytest-cov", "coverage"):
        toolrun.pinned(GATE.lock, runner)
    root = Path.cwd()
    config = settings.load()
    own: TestSettings = config.of(GATE)
    packages = layout.source_packages(root, config)
    if not packages:
        raise GateError(
            "found no package of the project's to measure (none under src/, none at the top "
            "level): name them in [tool.pipeline] source"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING_ENV)}
    with tempfile.TemporaryDirectory(prefix="coverage-") as scratch:
        rc = Path(scratch) / "coveragerc"
        rc.write_text(
            COVERAGERC.format(
                packages=", ".join(package.name for package in packages),
                data=Path(scratch) / ".coverage",
            ),
            encoding="utf-8",
        )
        result = run_tool(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-o",
                "junit_family=xunit1",
                # Absolute: a test that changes directory must not move the reports.
                f"--junitxml={root / JUNIT}",
                "--cov",
                f"--cov-config={rc}",
                f"--cov-report=xml:{root / COVERAGE}",
                "--cov-report=term",
                *own.pytest_args,
                *layout.test_paths(root, config),
                *context.args.pytest_args,
            ],
            timeout=context.timeout_s,
            what="pytest",
            capture=False,
            env=env,
        )
    if result.returncode == EXIT_NO_TESTS:
        raise GateError(
            "no tests collected: add tests, or name where they live in [tool.pipeline] tests"
        )
    # pytest: 0 passed, 1 tests failed; 2 interrupted, 3 internal error, 4 usage error.
    if result.returncode not in (0, EXIT_TESTS_FAILED):
        raise GateError(f"pytest did not complete (exit {result.returncode}): see its output above")
    findings = failed_tests()
    percent, files = coverage_of(root, packages)
    measured = ", ".join(package.name for package in packages)
    notes = [
        f"coverage {percent}% of {measured} ({files} file(s), lines and branches), held to "
        f"{own.fail_under:g}% by [tool.pipeline.test] fail-under, with the gate's own coverage "
        "configuration (the project's is not read)"
    ]
    if result.returncode == EXIT_TESTS_FAILED and not findings:
        notes.append("pytest exited 1 with no failing test: the project's own pytest options")
    if percent < own.fail_under:
        findings.append(
            Finding(
                rule="coverage-under-threshold",
                level="error",
                path="pyproject.toml",
                line=None,
                message=f"coverage {percent}% of {measured} is under {own.fail_under:g}%",
                blocking=True,
            )
        )
    return Outcome(findings=findings, reports=[str(JUNIT), str(COVERAGE)], notes=notes)


if __name__ == "__main__":
    # Every argument is pytest's, dashes and all: the gate itself takes none.
    parser = argparse.ArgumentParser(prog="test", description=__doc__, prefix_chars="+")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    sys.exit(main(GATE, run, parser))
