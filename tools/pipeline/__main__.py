"""Run the gate graph with nox's own parallel runner, record the run, notify.

    python -m tools.pipeline --gates a,b,... [--keep-going] [--jobs N] [nox options...]

Options this module does not know (``--envdir``, ``-db virtualenv``...) are
passed to every nox it starts. Exit status: 0 passed, 1 failed, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import identity
from tools import notify as webhook
from tools.clock import utc_now
from tools.pipeline import record, summary
from tools.reports import NOX_REPORT, PIPELINE_JSON, RECORDS, REPORTS, SUMMARY_MD
from tools.verdict import PipelineRecord, Status

LOG_TAIL_LINES = 15
# One gate per CPU, as nox's `-j auto` does: measured on two cores, a third
# scan at once only slows the slowest one (semgrep) down.
DEFAULT_JOBS = "auto"
# Long enough for nox to stop its sessions' process groups (SIGTERM, then SIGKILL).
NOX_SHUTDOWN_S = 10.0
EXIT_CANCELLED = 130

# Under --parallel, nox prints each session's output as one block at its end,
# headed by "========== ✓ lint: success, 2 seconds ==========".
_BLOCK_HEADER = re.compile(r"^={10} \S+ (?P<name>[\w.()=,-]+): (?P<result>\w+)")
# A block runs until the next one, the next start line, or nox's closing summary.
_BLOCK_END = re.compile(r"^(Starting session |nox > Ran )")


class Interrupted(Exception):
    """Ctrl-C arrived while nox was running."""


def nox_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", *args]


@dataclass
class SessionLogs:
    """Each session's output block, and the result its header announced (what
    we know of a session when nox is interrupted before writing its report)."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    _current: str | None = None

    def feed(self, line: str) -> None:
        if header := _BLOCK_HEADER.match(line):
            self._current = header["name"]
            self.lines[self._current] = []
            self.results[self._current] = {"result": header["result"]}
        elif _BLOCK_END.match(line):
            self._current = None
        elif self._current is not None:
            self.lines[self._current].append(line)
            self.results[self._current].setdefault("reason", line.strip())

    def tail(self, session: str) -> str:
        return "".join(self.lines.get(session, [])[-LOG_TAIL_LINES:])


def run_nox(argv: list[str], logs: SessionLogs) -> int:
    """Run nox, echoing its output live and keeping each session's block."""
    process = subprocess.Popen(
        nox_command(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    try:
        for line in process.stdout or ():
            sys.stdout.write(line)
            sys.stdout.flush()
            logs.feed(line)
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches nox too (same process group) and nox stops every
        # session's process group; forward it in case only we were signalled.
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=NOX_SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            process.kill()
        raise Interrupted from None


def read_nox_results(path: Path) -> dict[str, dict]:
    try:
        sessions = json.loads(path.read_text(encoding="utf-8"))["sessions"]
        return {entry["name"]: entry for entry in sessions}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def skipped_gates(gates: list[str], results: dict[str, dict]) -> list[str]:
    return [
        gate for gate in gates if record.judge(gate, results.get(gate)).status == Status.SKIPPED
    ]


def run_graph(
    gates: list[str], args: argparse.Namespace, nox_options: list[str], logs: SessionLogs
) -> dict[str, dict]:
    jobs = ["-j", str(args.jobs)]
    NOX_REPORT.unlink(missing_ok=True)
    run_nox(["-s", *gates, *jobs, "--report", str(NOX_REPORT), *nox_options], logs)
    results = read_nox_results(NOX_REPORT)
    # --keep-going reruns what nox skipped, prerequisites excluded; nox still
    # orders the rerun by the graph, so a gate whose prerequisite failed again
    # is skipped again and runs in the next round. Each round runs at least
    # one more gate, so this ends after at most the graph's depth.
    while args.keep_going and (skipped := skipped_gates(gates, results)):
        print(f"pipeline: --keep-going: running {', '.join(skipped)} despite failed prerequisites")
        NOX_REPORT.unlink(missing_ok=True)
        run_nox(
            ["-s", *skipped, "--no-dependencies", *jobs, "--report", str(NOX_REPORT), *nox_options],
            logs,
        )
        rerun = read_nox_results(NOX_REPORT)
        if not rerun or skipped_gates(gates, {**results, **rerun}) == skipped:
            break
        results.update(rerun)
    return results


def notify(status: str, nox_options: list[str]) -> int:
    # Without a webhook the session has nothing to do: spare starting it.
    if not webhook.configured():
        print(f"notify: {webhook.NOT_CONFIGURED}")
        return 0
    env = {**os.environ, "PIPELINE_STATUS": status}
    return subprocess.run(
        nox_command("-s", "notify", *nox_options), env=env, check=False
    ).returncode


def publish(run: PipelineRecord) -> None:
    PIPELINE_JSON.write_text(run.dumps(), encoding="utf-8")
    markdown = summary.markdown(run)
    SUMMARY_MD.write_text(markdown, encoding="utf-8")
    if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every gate, even those whose prerequisites failed",
    )
    parser.add_argument(
        "--jobs",
        default=DEFAULT_JOBS,
        help="gates run at once, a number or `auto` for one per CPU (default: %(default)s)",
    )
    parser.add_argument(
        "--gates",
        required=True,
        type=lambda names: [name for name in names.split(",") if name],
        help="the gate sessions, comma-separated: what the noxfile's pipeline session passes",
    )
    args, nox_options = parser.parse_known_args(argv)
    REPORTS.mkdir(exist_ok=True)
    PIPELINE_JSON.unlink(missing_ok=True)
    # A record left by an earlier run must never stand for this one.
    shutil.rmtree(RECORDS, ignore_errors=True)
    started_at, clock = utc_now(), time.monotonic()
    logs = SessionLogs()
    interrupted, gates, results, reason = False, args.gates, {}, None
    try:
        results = run_graph(gates, args, nox_options, logs)
    except Interrupted:
        interrupted, results = True, {**logs.results, **read_nox_results(NOX_REPORT)}
        print("\npipeline: interrupted: every running gate was stopped", file=sys.stderr)
    if not results and not interrupted:
        reason = "nox wrote no report (a broken noxfile?): see its output above"
        print(f"pipeline: error: {reason}", file=sys.stderr)
    runs = [record.judge(gate, results.get(gate), log_tail=logs.tail(gate)) for gate in gates]
    if not interrupted:
        for run in runs:
            if run.status == Status.CANCELLED:
                run.status, run.reason = Status.FAILED, "nox reported no result for this gate"
    status = record.overall_status(runs, interrupted=interrupted)
    pipeline_run = PipelineRecord(
        repository=identity.repository(),
        commit=identity.commit(),
        branch=identity.branch(),
        started_at=started_at,
        ended_at=utc_now(),
        duration_s=round(time.monotonic() - clock, 3),
        status=status,
        gates=runs,
        reason=reason,
    )
    publish(pipeline_run)
    notified = notify(status, nox_options)
    print()
    print(summary.console_table(pipeline_run, {gate: logs.tail(gate) for gate in gates}))
    print(f"reports: {PIPELINE_JSON}, {SUMMARY_MD}")
    if notified != 0:
        print(f"pipeline: notify failed (exit {notified}); see its output above", file=sys.stderr)
    if status == Status.CANCELLED:
        return EXIT_CANCELLED
    return 0 if status == Status.PASSED and notified == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
