"""A new gate is one module, one session, one dependency group and lock, and one
CI job: nothing else is edited, and the pipeline, the settings, notify, the
benchmark and the workflow check all take it in.

The gate is built in a copy of the project as a user adopts it: `licenses`,
which fails when pyproject.toml declares no licence.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import clean_env, run, run_pipeline

from tools import snapshot

ROOT = snapshot.ROOT
ENVDIR = Path(os.environ.get("ACCEPTANCE_ENVDIR", ROOT / ".nox"))

GATE_MODULE = '''"""The `licenses` gate: pyproject.toml says which licence the project is under."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.verdict import Finding

REPORT = REPORTS / "licenses.txt"


def bare(bench: Bare) -> list[Command]:
    return [[bench.bin("python"), "-c", "import tomllib"]]


GATE = Gate(
    name="licenses",
    requires=("lint",),
    timeout_s=60,
    severity=Severity.HIGH,
    reports=(REPORT,),
    bare=bare,
)


def run(context: Context) -> Outcome:
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    licence = str(project.get("license") or "")
    REPORT.write_text(licence + "\\n", encoding="utf-8")
    missing = Finding("no-license", "error", "pyproject.toml", None, "no licence declared", True)
    return Outcome(
        findings=[] if licence else [missing],
        reports=[str(REPORT)],
        notes=[f"licence: {licence or 'none'}, within {context.timeout_s:g} s"],
    )


if __name__ == "__main__":
    sys.exit(main(GATE, run, argparse.ArgumentParser(prog="licenses")))
'''

SESSION = '''
@gate
def licenses(session: nox.Session) -> None:
    """The project declares its licence."""
    run_gate(session)

'''


def add_the_gate(project: Path) -> None:
    """The four edits a maintainer makes, and nothing else."""
    (project / "tools/gates/licenses.py").write_text(GATE_MODULE, encoding="utf-8")
    noxfile = project / "noxfile.py"
    text = noxfile.read_text(encoding="utf-8")
    marker = "\ncheck_every_gate_has_a_session()"
    noxfile.write_text(text.replace(marker, SESSION + marker, 1), encoding="utf-8")
    # The group needs nothing beyond nox's own pins: its lock is theirs, under its name.
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    nox_pins = tomllib.loads(text)["dependency-groups"]["pipeline-nox"]
    group = "pipeline-licenses = [" + ", ".join(json.dumps(pin) for pin in nox_pins) + "]\n"
    text = text.replace("[dependency-groups]\n", "[dependency-groups]\n" + group, 1)
    # A setting of its own, to show that [tool.pipeline.timeouts] takes the new key.
    assert "[tool.pipeline.timeouts]\n" in text
    text = text.replace(
        "[tool.pipeline.timeouts]\n", "[tool.pipeline.timeouts]\nlicenses = 42\n", 1
    )
    pyproject.write_text(text, encoding="utf-8")
    lock = (project / "locks/nox.txt").read_text(encoding="utf-8")
    (project / "locks/licenses.txt").write_text(
        lock.replace("the 'pipeline-nox' pins", "the 'pipeline-licenses' pins"), encoding="utf-8"
    )
    add_the_job(project / ".github/workflows/pipeline.yml")


def add_the_job(workflow: Path) -> None:
    """A copy of the test job (a gate with no SARIF) under the new gate's name,
    needing lint as its GATE says. The trusted run reads every gate's job by its
    name: nothing else to tell."""
    text = workflow.read_text(encoding="utf-8")
    start = text.index("\n  test:\n")
    job = re.sub(r"\btest\b", "licenses", text[start:])
    job = job.replace("needs: [sast, secrets, deps]", "needs: lint")
    workflow.write_text(text.rstrip("\n") + "\n" + job, encoding="utf-8")


def in_copy(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Python in the copy, importing the copy's own tools."""
    return run([sys.executable, *argv], cwd=project, env=clean_env(PYTHONPATH=str(project)))


def python(project: Path, code: str) -> str:
    result = in_copy(project, "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = snapshot.adopt(tmp_path_factory.mktemp("new-gate") / "project")
    add_the_gate(copy)
    snapshot.commit_all(copy, "Add the licenses gate")
    return copy


def test_the_pipeline_runs_the_new_gate(project: Path) -> None:
    result = run_pipeline(project, ENVDIR)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    record = json.loads((project / "reports/pipeline.json").read_text(encoding="utf-8"))
    by_gate = {gate["gate"]: gate for gate in record["gates"]}
    assert by_gate["licenses"]["status"] == "passed"
    # Its timeout came from [tool.pipeline.timeouts], which took the new key.
    assert "licence: Apache-2.0, within 42 s" in by_gate["licenses"]["notes"]


def test_its_lock_is_a_lock_of_its_group(project: Path) -> None:
    result = in_copy(project, "-m", "tools.locks", "--check")
    assert result.returncode == 0, result.stderr


def test_settings_notify_and_the_bench_take_it_in(project: Path) -> None:
    timeout = (
        "from tools import gates, settings; print(settings.load().timeout(gates.get('licenses')))"
    )
    assert python(project, timeout) == "42.0"
    severity = (
        "from tools.notify import payload; from tools.verdict import GateRecord, Status; "
        "print(payload.severity('failed', [GateRecord('licenses', Status.FAILED)]).label)"
    )
    assert python(project, severity) == "high"
    plan = python(project, "from tools import bench; bench.main(['--plan'])")
    assert "bare licenses (requires lint):" in plan
    assert " licenses " in plan.splitlines()[0] + " "


def workflow_check(project: Path) -> subprocess.CompletedProcess[str]:
    tests = project / "tests/pipeline"
    tests.mkdir(parents=True, exist_ok=True)
    for name in ("helpers.py", "test_workflow.py"):
        shutil.copy(ROOT / "tests/pipeline" / name, tests / name)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/pipeline/test_workflow.py",
        ],
        cwd=project,
        env=snapshot.scrubbed_env(PYTHONPATH=str(project)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_workflow_check_holds_the_workflow_to_it(project: Path) -> None:
    result = workflow_check(project)
    assert result.returncode == 0, result.stdout[-3000:]
    # Without its CI job, the same check fails.
    workflow = project / ".github/workflows/pipeline.yml"
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    del document["jobs"]["licenses"]
    workflow.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = workflow_check(project)
    assert result.returncode == 1
    assert "gate licenses runs in no job" in result.stdout
