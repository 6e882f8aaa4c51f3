"""`python -m tools.pipeline` driving the real nox on a throwaway noxfile.

The throwaway gates have the project's graph (lint, then three scans, then
test) but do nothing except sleep, fail on request and write gate records, so
each test pins one behaviour of nox's parallel runner that the pipeline relies
on: ordering, overlap, aborts, keep-going, interrupts and exit codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tools/pipeline/pipeline.schema.json").read_text(encoding="utf-8"))
SCANS = ("sast", "secrets", "deps")

NOXFILE = """
import argparse, os, subprocess, sys, time
import nox
from tools.gates._gate import Finding, Outcome, main

def gate(session, name):
    if name in os.environ.get("HANG_GATES", "").split(","):
        # A real subprocess that would outlive the run if nobody stopped it.
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(f"{name}.pid", "w") as handle:
            handle.write(str(proc.pid))
        proc.wait()
    if name in os.environ.get("NO_RECORD_GATES", "").split(","):
        return
    failing = name in os.environ.get("FAIL_GATES", "").split(",")
    report = f"reports/{name}.sarif"
    if name not in os.environ.get("MISSING_REPORT_GATES", "").split(","):
        os.makedirs("reports", exist_ok=True)
        open(report, "w").close()
    def run(_args):
        together = os.environ.get("TOGETHER_GATES", "").split(",")
        if name in together:
            # Each of these gates waits until all of them have started: they finish
            # only if nox really runs them at the same time.
            open(f"started-{name}", "w").close()
            deadline = time.monotonic() + 30
            while not all(os.path.exists(f"started-{other}") for other in together):
                if time.monotonic() > deadline:
                    session.error(f"{name} never ran alongside {together}")
                time.sleep(0.05)
        findings = [Finding("R1", "error", "src/app.py", 3, "bad", True)] if failing else []
        return Outcome(findings=findings + [Finding("W1", "warning", "a.py", 1, "meh", False)],
                       reports=[report])
    if main(name, run, argparse.ArgumentParser(), []):
        session.error(f"{name} failed")

@nox.session(python=False, tags=["gate"], allow_parallel=True)
def lint(session): gate(session, "lint")

@nox.session(python=False, tags=["gate"], allow_parallel=True, requires=["lint"])
def sast(session): gate(session, "sast")

@nox.session(python=False, tags=["gate"], allow_parallel=True, requires=["lint"])
def secrets(session): gate(session, "secrets")

@nox.session(python=False, tags=["gate"], allow_parallel=True, requires=["lint"])
def deps(session): gate(session, "deps")

@nox.session(python=False, tags=["gate"], allow_parallel=True, requires=["sast", "secrets", "deps"])
def test(session): gate(session, "test")

@nox.session(python=False)
def notify(session):
    with open("notified.txt", "w") as handle:
        handle.write(os.environ["PIPELINE_STATUS"])
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "noxfile.py").write_text(NOXFILE, encoding="utf-8")
    return tmp_path


# The throwaway notify session only records the status it was given; the pipeline
# starts it only when a webhook is configured.
WEBHOOK = "http://127.0.0.1:9/hook"


def pipeline_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "SHUFFLE_"))
    }
    return {**env, "PYTHONPATH": str(ROOT), "SHUFFLE_WEBHOOK_URL": WEBHOOK, **extra}


def run_pipeline(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.pipeline", *args],
        cwd=project,
        env=pipeline_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_record(project: Path) -> dict:
    record = json.loads((project / "reports/pipeline.json").read_text(encoding="utf-8"))
    jsonschema.validate(record, SCHEMA)
    return record


def gates(record: dict) -> dict[str, dict]:
    return {gate["gate"]: gate for gate in record["gates"]}


def interval(gate: dict) -> tuple[datetime, datetime]:
    return (datetime.fromisoformat(gate["started_at"]), datetime.fromisoformat(gate["ended_at"]))


def test_clean_run_passes_with_scans_in_parallel_between_lint_and_test(project: Path) -> None:
    # Three jobs, whatever the CPU count here: the graph lets all three scans overlap.
    result = run_pipeline(project, "--jobs", "3", TOGETHER_GATES=",".join(SCANS))
    assert result.returncode == 0, result.stdout + result.stderr
    record = load_record(project)
    assert record["status"] == "passed"
    by_gate = gates(record)
    assert list(by_gate) == ["lint", "sast", "secrets", "deps", "test"]
    assert all(gate["status"] == "passed" for gate in by_gate.values())
    assert by_gate["sast"]["findings"] == {"warning": 1}
    scans = [interval(by_gate[name]) for name in SCANS]
    assert interval(by_gate["lint"])[1] <= min(start for start, _ in scans)
    assert max(end for _, end in scans) <= interval(by_gate["test"])[0]
    assert (project / "notified.txt").read_text() == "passed"
    summary = (project / "reports/summary.md").read_text(encoding="utf-8")
    assert "| sast | passed |" in summary
    assert "pipeline passed" in result.stdout


def test_failing_lint_skips_everything_else_and_still_notifies(project: Path) -> None:
    result = run_pipeline(project, FAIL_GATES="lint")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert by_gate["lint"]["status"] == "failed"
    assert by_gate["lint"]["reason"] == "1 blocking finding(s): R1"
    assert by_gate["lint"]["blocking"][0]["rule"] == "R1"
    for name in (*SCANS, "test"):
        assert by_gate[name]["status"] == "skipped"
    assert {by_gate[name]["reason"] for name in SCANS} == {"needs lint"}
    assert (project / "notified.txt").read_text() == "failed"
    assert "lint failed: 1 blocking finding(s): R1" in result.stdout
    assert "- `R1` src/app.py:3: bad" in (project / "reports/summary.md").read_text()


def test_failing_scan_skips_test_but_other_scans_finish(project: Path) -> None:
    result = run_pipeline(project, FAIL_GATES="secrets")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert [by_gate[name]["status"] for name in SCANS] == ["passed", "failed", "passed"]
    assert by_gate["test"]["status"] == "skipped"
    assert by_gate["test"]["reason"] == "needs secrets"
    assert (project / "notified.txt").read_text() == "failed"


def test_keep_going_runs_every_gate(project: Path) -> None:
    result = run_pipeline(project, "--keep-going", FAIL_GATES="lint,sast")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert {name: gate["status"] for name, gate in by_gate.items()} == {
        "lint": "failed",
        "sast": "failed",
        "secrets": "passed",
        "deps": "passed",
        "test": "passed",
    }


def test_gate_without_a_record_is_failed_not_clean(project: Path) -> None:
    result = run_pipeline(project, NO_RECORD_GATES="deps")
    assert result.returncode == 1
    deps = gates(load_record(project))["deps"]
    assert deps["status"] == "failed"
    assert "no readable gate record" in deps["reason"]


def test_gate_whose_report_is_missing_is_failed(project: Path) -> None:
    result = run_pipeline(project, MISSING_REPORT_GATES="sast")
    assert result.returncode == 1
    sast = gates(load_record(project))["sast"]
    assert sast["status"] == "failed"
    assert sast["reason"] == "report missing: reports/sast.sarif"


def test_ctrl_c_stops_every_gate_and_records_a_cancelled_run(project: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tools.pipeline"],
        cwd=project,
        env=pipeline_env(HANG_GATES="sast,deps"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + 60
        pid_files = [project / "sast.pid", project / "deps.pid"]
        while not all(path.exists() for path in pid_files):
            assert time.monotonic() < deadline, "the hanging gates never started"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    record = load_record(project)
    assert record["status"] == "cancelled"
    by_gate = gates(record)
    assert by_gate["lint"]["status"] == "passed"
    assert by_gate["test"]["status"] in {"cancelled", "skipped"}
    assert by_gate["sast"]["status"] != "passed"
    assert (project / "notified.txt").read_text() == "cancelled"
    for path in pid_files:
        pid = int(path.read_text())
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"gate subprocess {pid} outlived the cancelled run")


def test_a_record_left_by_an_earlier_run_is_not_trusted(project: Path) -> None:
    stale = project / "reports/gates/lint.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"gate": "lint", "status": "passed", "reports": []}))
    result = run_pipeline(project, NO_RECORD_GATES="lint")
    assert result.returncode == 1
    lint = gates(load_record(project))["lint"]
    assert lint["status"] == "failed"
    assert "no readable gate record" in lint["reason"]


def test_a_broken_noxfile_is_a_recorded_failure(project: Path) -> None:
    (project / "noxfile.py").write_text("import nox\nthis is not python\n")
    result = run_pipeline(project)
    assert result.returncode == 1
    record = load_record(project)
    assert (record["status"], record["gates"]) == ("failed", [])
    assert record["reason"].startswith("nox listed no gates")


def test_gates_named_by_the_noxfile_need_no_listing(project: Path) -> None:
    result = run_pipeline(project, "--gates=lint,deps")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [gate["gate"] for gate in load_record(project)["gates"]] == ["lint", "deps"]


def test_without_a_webhook_notify_is_not_started(project: Path) -> None:
    result = run_pipeline(project, SHUFFLE_WEBHOOK_URL=" ")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notify: notification skipped: SHUFFLE_WEBHOOK_URL is not set" in result.stdout
    assert not (project / "notified.txt").exists()
