"""`python -m tools.pipeline` driving the real nox on a throwaway noxfile.

The throwaway gates have the project's graph (lint, then three scans, then
test) but do nothing except sleep, fail on request and write gate records, so
each test pins one behaviour of nox's parallel runner that the pipeline relies
on: ordering, overlap, aborts, keep-going, interrupts and exit codes.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from helpers import ROOT, clean_env

SCHEMA = json.loads((ROOT / "tools/pipeline/pipeline.schema.json").read_text(encoding="utf-8"))

# A throwaway graph of the real one's shape, under names of its own: `first`, then
# three scans side by side, then `last`. Its gates only sleep, fail on request and
# write records: each test pins one behaviour of nox's parallel runner that the
# pipeline relies on.
SCANS = ("scan_a", "scan_b", "scan_c")
GRAPH = {"first": [], **{scan: ["first"] for scan in SCANS}, "last": list(SCANS)}
GATES_OPTION = "--gates=" + ",".join(GRAPH)

NOXFILE = (
    """
import argparse, os, subprocess, sys, time
from pathlib import Path
import nox
from tools.gates import Gate, Severity
from tools.gates._gate import Outcome, main
from tools.verdict import Finding

def gate(session, name):
    if name in os.environ.get("HANG_GATES", "").split(","):
        # A real subprocess that would outlive the run if nobody stopped it.
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(f"{name}.pid", "w") as handle:
            handle.write(str(proc.pid))
        proc.wait()
    if name in os.environ.get("SLOW_GATES", "").split(","):
        time.sleep(float(os.environ["SLOW_S"]))
    if name in os.environ.get("NO_RECORD_GATES", "").split(","):
        return
    failing = name in os.environ.get("FAIL_GATES", "").split(",")
    report = f"reports/{name}.sarif"
    def run(_context):
        if name not in os.environ.get("MISSING_REPORT_GATES", "").split(","):
            open(report, "w").close()
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
        message = os.environ.get("FINDING_MESSAGE", "bad")
        path = os.environ.get("FINDING_PATH", "src/app.py")
        findings = [Finding("R1", "error", path, 3, message, True)] if failing else []
        return Outcome(findings=findings + [Finding("W1", "warning", "a.py", 1, "meh", False)],
                       reports=[report])
    spec = Gate(name, (), 60, Severity.LOW, (Path(report),), lambda _bench: [])
    if main(spec, run, argparse.ArgumentParser(), []):
        session.error(f"{name} failed")
"""
    + "".join(
        f"""
@nox.session(python=False, tags=["gate"], allow_parallel=True, requires={requires!r})
def {name}(session): gate(session, {name!r})
"""
        for name, requires in GRAPH.items()
    )
    + """
@nox.session(python=False)
def notify(session):
    with open("notified.txt", "w") as handle:
        handle.write(os.environ["PIPELINE_STATUS"])
"""
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "noxfile.py").write_text(NOXFILE, encoding="utf-8")
    return tmp_path


# The throwaway notify session only records the status it was given; the pipeline
# starts it only when a webhook is configured.
WEBHOOK = "http://127.0.0.1:9/hook"


def pipeline_env(**extra: str) -> dict[str, str]:
    return clean_env(**{"SHUFFLE_WEBHOOK_URL": WEBHOOK, **extra})


def run_pipeline(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    gates_given = any(arg.startswith("--gates") for arg in args)
    return subprocess.run(
        [sys.executable, "-m", "tools.pipeline", *args, *([] if gates_given else [GATES_OPTION])],
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
    assert list(by_gate) == list(GRAPH)
    assert all(gate["status"] == "passed" for gate in by_gate.values())
    assert by_gate["scan_a"]["findings"] == {"warning": 1}
    scans = [interval(by_gate[name]) for name in SCANS]
    assert interval(by_gate["first"])[1] <= min(start for start, _ in scans)
    assert max(end for _, end in scans) <= interval(by_gate["last"])[0]
    assert (project / "notified.txt").read_text() == "passed"
    summary = (project / "reports/summary.md").read_text(encoding="utf-8")
    assert "| scan\\_a | passed |" in summary
    assert "pipeline passed" in result.stdout


def test_off_a_terminal_a_slow_gate_is_shown_running_before_it_ends(project: Path) -> None:
    result = run_pipeline(
        project, "--jobs", "3", "--progress-every", "1", SLOW_GATES="scan_b", SLOW_S="3.5"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    started = lines.index("pipeline: scan_b started")
    still = [i for i, line in enumerate(lines) if line.startswith("pipeline: scan_b still running")]
    block = next(
        i for i, line in enumerate(lines) if line.startswith("==========") and " scan_b: " in line
    )
    ended = next(
        i for i, line in enumerate(lines) if line.startswith("pipeline: scan_b passed after")
    )
    # Seen running (twice, at least a second apart) while its output was still held back.
    assert started < still[0] and len(still) >= 2 and still[-1] < block, lines
    assert ended == block + 1, lines
    # The other scans ended meanwhile, each said so at once; no terminal codes in a log.
    assert (
        next(i for i, line in enumerate(lines) if line.startswith("pipeline: scan_a passed"))
        < block
    )
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    # Every gate's own output still comes whole, after its header.
    assert lines[ended + 1].startswith("nox > Running session scan_b")


def test_on_a_terminal_one_status_line_is_redrawn_and_left_clean(project: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.pipeline", "--jobs", "3", GATES_OPTION],
        cwd=project, env=pipeline_env(SLOW_GATES="scan_b", SLOW_S="2.5", COLUMNS="120"),
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    with suppress(OSError):  # EIO once the last writer closes the terminal
        while chunk := os.read(controller, 65536):
            seen += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0, seen.decode(errors="replace")
    shown = seen.decode("utf-8", errors="replace")
    assert "running: scan_b 1s" in shown or "running: scan_b 2s" in shown, shown
    # Each redraw erases the line first; the last status line is erased before
    # the table, so the terminal holds no half-drawn line.
    assert "\r\x1b[2K" in shown and "running: " not in shown.split("\r\x1b[2K")[-1]
    assert "pipeline: scan_b started" not in shown


def test_failing_lint_skips_everything_else_and_still_notifies(project: Path) -> None:
    result = run_pipeline(project, FAIL_GATES="first")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert by_gate["first"]["status"] == "failed"
    assert by_gate["first"]["reason"] == "1 blocking finding(s): R1"
    assert by_gate["first"]["blocking"][0]["rule"] == "R1"
    for name in (*SCANS, "last"):
        assert by_gate[name]["status"] == "skipped"
    assert {by_gate[name]["reason"] for name in SCANS} == {"needs first"}
    assert (project / "notified.txt").read_text() == "failed"
    assert "first failed: 1 blocking finding(s): R1" in result.stdout
    assert "- R1 src/app\\.py:3: bad" in (project / "reports/summary.md").read_text()


def test_failing_scan_skips_test_but_other_scans_finish(project: Path) -> None:
    result = run_pipeline(project, FAIL_GATES="scan_b")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert [by_gate[name]["status"] for name in SCANS] == ["passed", "failed", "passed"]
    assert by_gate["last"]["status"] == "skipped"
    assert by_gate["last"]["reason"] == "needs scan_b"
    assert (project / "notified.txt").read_text() == "failed"


def test_keep_going_runs_every_gate(project: Path) -> None:
    result = run_pipeline(project, "--keep-going", FAIL_GATES="first,scan_a")
    assert result.returncode == 1
    by_gate = gates(load_record(project))
    assert {name: gate["status"] for name, gate in by_gate.items()} == {
        "first": "failed",
        "scan_a": "failed",
        "scan_b": "passed",
        "scan_c": "passed",
        "last": "passed",
    }


def test_gate_without_a_record_is_failed_not_clean(project: Path) -> None:
    result = run_pipeline(project, NO_RECORD_GATES="scan_c")
    assert result.returncode == 1
    unrecorded = gates(load_record(project))["scan_c"]
    assert unrecorded["status"] == "failed"
    assert "no readable gate record" in unrecorded["reason"]


def test_gate_whose_report_is_missing_is_failed(project: Path) -> None:
    result = run_pipeline(project, MISSING_REPORT_GATES="scan_a")
    assert result.returncode == 1
    reportless = gates(load_record(project))["scan_a"]
    assert reportless["status"] == "failed"
    assert reportless["reason"] == "report missing: reports/scan_a.sarif"


def test_ctrl_c_stops_every_gate_and_records_a_cancelled_run(project: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tools.pipeline", GATES_OPTION],
        cwd=project,
        env=pipeline_env(HANG_GATES="scan_a,scan_c"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + 60
        pid_files = [project / "scan_a.pid", project / "scan_c.pid"]
        while not all(path.exists() for path in pid_files):
            assert time.monotonic() < deadline, "the hanging gates never started"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    record = load_record(project)
    assert record["status"] == "cancelled"
    by_gate = gates(record)
    assert by_gate["first"]["status"] == "passed"
    assert by_gate["last"]["status"] in {"cancelled", "skipped"}
    assert by_gate["scan_a"]["status"] != "passed"
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
    stale = project / "reports/gates/first.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"gate": "first", "status": "passed", "reports": []}))
    result = run_pipeline(project, NO_RECORD_GATES="first")
    assert result.returncode == 1
    first = gates(load_record(project))["first"]
    assert first["status"] == "failed"
    assert "no readable gate record" in first["reason"]


def test_a_broken_noxfile_is_a_recorded_failure(project: Path) -> None:
    (project / "noxfile.py").write_text("import nox\nthis is not python\n")
    result = run_pipeline(project)
    assert result.returncode == 1
    record = load_record(project)
    assert record["status"] == "failed"
    assert record["reason"].startswith("nox wrote no report")
    assert {gate["status"] for gate in record["gates"]} == {"failed"}


def test_only_the_gates_the_noxfile_names_run(project: Path) -> None:
    result = run_pipeline(project, "--gates=first,scan_c")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [gate["gate"] for gate in load_record(project)["gates"]] == ["first", "scan_c"]


def test_without_a_webhook_notify_is_not_started(project: Path) -> None:
    result = run_pipeline(project, SHUFFLE_WEBHOOK_URL=" ")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notify: notification skipped: SHUFFLE_WEBHOOK_URL is not set" in result.stdout
    assert not (project / "notified.txt").exists()


# --- outputs that cannot be forged, injected, lost or skipped ------------------------


def git_repo(project: Path, branch: str = "main") -> None:
    """The throwaway project as a git repository, committed on ``branch``."""
    for args in (("init", "-q", "-b", branch), ("add", "-A")):
        subprocess.run(["git", *args], cwd=project, check=True, env=clean_env())
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "x"],
        cwd=project,
        check=True,
        env=clean_env(),
    )


def test_a_committed_reports_folder_is_refused(project: Path) -> None:
    (project / "reports").mkdir()
    (project / "reports/pipeline.json").write_text('{"status": "passed"}')
    git_repo(project)
    result = run_pipeline(project)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("pipeline: error: reports/ is committed (reports/pipeline.json, ...)")
    )
    assert not (project / "notified.txt").exists()


@pytest.mark.parametrize("planted", ["link", "file"])
def test_a_planted_reports_link_or_file_is_replaced_not_followed(
    project: Path, tmp_path: Path, planted: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if planted == "link":
        (project / "reports").symlink_to(elsewhere)
    else:
        (project / "reports").write_text("not a folder")
    result = run_pipeline(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "reports").is_dir() and not (project / "reports").is_symlink()
    assert list(elsewhere.iterdir()) == []
    assert load_record(project)["status"] == "passed"


def test_repository_text_is_escaped_in_the_summary_and_on_the_console(project: Path) -> None:
    git_repo(project, branch="x<img_src=x_onerror=alert(1)>##_Pipeline_passed")
    message = "bad\r## Pipeline passed <!-- \x1b[31mred\n::error::forged"
    result = run_pipeline(project, FAIL_GATES="first", FINDING_MESSAGE=message,
                          FINDING_PATH="src/a|b.py")  # fmt: skip
    assert result.returncode == 1
    summary = (project / "reports/summary.md").read_text(encoding="utf-8")
    assert "<img" not in summary and "<!--" not in summary
    assert not [line for line in summary.splitlines() if line.startswith("## Pipeline passed")]
    assert "&lt;img" in summary
    for line in (result.stdout + result.stderr).splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "\x1b" not in line and "\r" not in line


def test_a_summary_that_cannot_be_written_still_notifies(project: Path) -> None:
    result = run_pipeline(project, GITHUB_STEP_SUMMARY="/dev/full")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pipeline: warning: cannot append to GITHUB_STEP_SUMMARY" in result.stderr
    assert (project / "notified.txt").read_text() == "passed"


def test_sigterm_stops_every_gate_records_cancelled_and_notifies(project: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tools.pipeline", GATES_OPTION],
        cwd=project,
        env=pipeline_env(HANG_GATES="scan_a"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + 60
        while not (project / "scan_a.pid").exists():
            assert time.monotonic() < deadline, "the hanging gate never started"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)  # CI's cancel: to the pipeline alone
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert load_record(project)["status"] == "cancelled"
    assert (project / "notified.txt").read_text() == "cancelled"
    pid = int((project / "scan_a.pid").read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"gate subprocess {pid} outlived the cancelled run")


def test_a_second_pipeline_in_the_same_checkout_refuses(project: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tools.pipeline", GATES_OPTION],
        cwd=project,
        env=pipeline_env(HANG_GATES="first"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as first:
        deadline = time.monotonic() + 60
        while not (project / "first.pid").exists():
            assert time.monotonic() < deadline, "the first pipeline never started"
            time.sleep(0.1)
        try:
            second = run_pipeline(project)
        finally:
            os.killpg(first.pid, signal.SIGINT)
            first.wait(timeout=60)
    assert second.returncode == 2
    assert "another pipeline is running in this checkout" in second.stderr
