"""Run the gate graph with nox's own parallel runner, record the run, notify.

    python -m tools.pipeline --gates a,b,... [--keep-going] [--jobs N] [nox options...]

Options this module does not know (``--envdir``, ``-db virtualenv``...) are
passed to every nox it starts. Exit status: 0 passed, 1 failed, 2 could not run
(another pipeline is running here, reports/ is committed), 130 stopped by
Ctrl-C, 143 stopped by SIGTERM (what CI sends on cancel and timeout): both
still record the run as cancelled and notify.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tools import gates, identity, policy, reports
from tools import notify as webhook
from tools.clock import utc_now
from tools.errors import PipelineError
from tools.pipeline import record, summary
from tools.pipeline.progress import BLOCK_HEADER, STILL_RUNNING_EVERY_S, Progress
from tools.reports import NOX_REPORT, PIPELINE_JSON, SUMMARY_MD
from tools.text import console, console_line, last_line
from tools.verdict import PipelineRecord, Status

LOG_TAIL_LINES = 15
# One gate per CPU, as nox's `-j auto` does: measured on two cores, a third
# scan at once only slows the slowest one (semgrep) down.
DEFAULT_JOBS = "auto"
# Long enough for nox to stop its sessions' process groups (SIGTERM, then SIGKILL).
NOX_SHUTDOWN_S = 10.0

# A session's block (progress.BLOCK_HEADER) runs until the next one, the next
# start line, or nox's closing summary.
_BLOCK_END = re.compile(r"^(Starting session |nox > Ran )")


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM arrived while nox was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stop(BaseException):
    """Raised by the SIGTERM handler, as KeyboardInterrupt is by SIGINT's."""


def on_sigterm(_signum: int, _frame: object) -> None:
    raise Stop


def exit_code(signum: int) -> int:
    """A run stopped by a signal exits as a shell reports it: 128 + the signal."""
    return 128 + signum


class Busy(PipelineError):
    """Another pipeline is running in this checkout."""


@contextmanager
def only_run_here() -> Iterator[None]:
    """One pipeline at a time per checkout: a second would overwrite the first's
    reports and records while it reads them."""
    key = hashlib.sha256(str(Path.cwd().resolve()).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"pipeline-{key}.lock"
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise Busy(
                f"another pipeline is running in this checkout (pid {owner}): wait for it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


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
        if header := BLOCK_HEADER.match(line):
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


def run_nox(argv: list[str], logs: SessionLogs, progress: Progress) -> int:
    """Run nox, echoing its output live and keeping each session's block.

    nox runs in a process group of its own, so that stopping it reaches every
    process it started (a Semgrep worker outlived the run before): on Ctrl-C or
    SIGTERM it is asked to stop (SIGINT, which makes nox stop its sessions), and
    whatever is left of the group after that is killed. The same happens to
    stragglers after a normal end."""
    process = subprocess.Popen(
        nox_command(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        for line in process.stdout or ():
            progress.echo(console_line(line))
            logs.feed(line)
        return process.wait()
    except (KeyboardInterrupt, Stop) as stopped:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # recording and notifying come next
        _signal_group(process, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=NOX_SHUTDOWN_S)
        signum = signal.SIGTERM if isinstance(stopped, Stop) else signal.SIGINT
        raise Interrupted(signum) from None
    finally:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


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
    gates: list[str],
    args: argparse.Namespace,
    nox_options: list[str],
    logs: SessionLogs,
    progress: Progress,
) -> dict[str, dict]:
    jobs = ["-j", str(args.jobs)]
    NOX_REPORT.unlink(missing_ok=True)
    # Absolute: nox runs from the folder of the noxfile it is given (the base's).
    report = str(Path.cwd() / NOX_REPORT)
    run_nox(["-s", *gates, *jobs, "--report", report, *nox_options], logs, progress)
    results = read_nox_results(NOX_REPORT)
    # --keep-going reruns what nox skipped, prerequisites excluded; nox still
    # orders the rerun by the graph, so a gate whose prerequisite failed again
    # is skipped again and runs in the next round. Each round runs at least
    # one more gate, so this ends after at most the graph's depth.
    while args.keep_going and (skipped := skipped_gates(gates, results)):
        print(f"pipeline: --keep-going: running {', '.join(skipped)} despite failed prerequisites")
        NOX_REPORT.unlink(missing_ok=True)
        run_nox(
            ["-s", *skipped, "--no-dependencies", *jobs, "--report", report, *nox_options],
            logs,
            progress,
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


def publish(run: PipelineRecord) -> list[str]:
    """Write the record and the summaries; what could not be written is a warning
    (a full disk, an unwritable GITHUB_STEP_SUMMARY), never a reason for the SOC
    not to hear of the run. Returns the warnings."""
    warnings = []
    markdown = summary.markdown(run)
    outputs = [(PIPELINE_JSON, run.dumps()), (SUMMARY_MD, markdown)]
    for path, text in outputs:
        try:
            reports.write_text(path, text)
        except OSError as error:
            warnings.append(f"cannot write {path}: {error.strerror or error}")
    if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(markdown)
        except OSError as error:
            warnings.append(f"cannot append to GITHUB_STEP_SUMMARY: {error.strerror or error}")
    return warnings


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
        "--base",
        help="judge the checkout as a pull request onto BASE: every gate runs with the "
        "base's policy, secrets scans BASE..HEAD, and policy lists what changed "
        "(default: $PIPELINE_BASE_REF)",
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=STILL_RUNNING_EVERY_S,
        help=argparse.SUPPRESS,  # seconds between "still running" lines off a terminal
    )
    parser.add_argument(
        "--gates",
        required=True,
        type=lambda names: [name for name in names.split(",") if name],
        help="the gate sessions, comma-separated: what the noxfile's pipeline session passes",
    )
    args, nox_options = parser.parse_known_args(argv)
    if args.base:
        # Every nox this starts, and every gate in it, reads the base from here.
        os.environ[policy.BASE_ENV] = args.base
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with only_run_here():
            reports.prepare(fresh=True)
            if policy.base_ref():
                args.gates, nox_options = judged_by_the_base(nox_options)
            return run(args, nox_options)
    except PipelineError as error:
        print(f"pipeline: error: {console(str(error))}", file=sys.stderr)
        return 2


def judged_by_the_base(nox_options: list[str]) -> tuple[list[str], list[str]]:
    """A pull request is run by its base's noxfile, gates and notify included: the
    pull request's own noxfile (which might point a gate at another config) only
    counts once merged. The base's gates judge this checkout (PIPELINE_TARGET);
    the venvs stay this checkout's."""
    base = policy.base_ref() or ""
    commit = policy.resolve(base)
    folder = Path(".nox").resolve() / f"policy-{commit[:16]}"
    policy.materialize_once(base, folder)
    noxfile = folder / "noxfile.py"
    if not noxfile.is_file():
        raise PipelineError(f"the policy of {base} has no noxfile.py: {folder}")
    os.environ[policy.TARGET_ENV] = str(Path.cwd())
    options = ["-f", str(noxfile)]
    if "--envdir" not in nox_options:
        options += ["--envdir", str(Path(".nox").resolve())]
    listed = subprocess.run(
        nox_command(*options, "-l", "--json", "-t", gates.GATE_TAG, "--no-dependencies"),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        names = [entry["name"] for entry in json.loads(listed.stdout)]
    except (ValueError, KeyError, TypeError):
        names = []
    if not names:
        raise PipelineError(
            f"the base's noxfile lists no gates: {console(last_line(listed.stderr))}"
        )
    print(f"pipeline: judged by the policy of {base} ({commit[:12]}): gates {', '.join(names)}")
    return names, [*options, *nox_options]


def run(args: argparse.Namespace, nox_options: list[str]) -> int:
    started_at, clock = utc_now(), time.monotonic()
    logs = SessionLogs()
    stopped, gates, results, reason = None, args.gates, {}, None
    try:
        with Progress.for_console(args.progress_every) as progress:
            results = run_graph(gates, args, nox_options, logs, progress)
    except (Interrupted, KeyboardInterrupt, Stop) as interruption:
        stopped = (
            interruption.signum
            if isinstance(interruption, Interrupted)
            else signal.SIGTERM
            if isinstance(interruption, Stop)
            else signal.SIGINT
        )
        results = {**logs.results, **read_nox_results(NOX_REPORT)}
        name = signal.Signals(stopped).name
        print(f"\npipeline: {name}: every running gate was stopped", file=sys.stderr)
    # From here on the run is recorded and the SOC told, whatever else arrives.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not results and stopped is None:
        reason = "nox wrote no report (a broken noxfile?): see its output above"
        print(f"pipeline: error: {reason}", file=sys.stderr)
    runs = [record.judge(gate, results.get(gate), log_tail=logs.tail(gate)) for gate in gates]
    if stopped is None:
        for gate_run in runs:
            if gate_run.status == Status.CANCELLED:
                gate_run.status = Status.FAILED
                gate_run.reason = "nox reported no result for this gate"
    status = record.overall_status(runs, interrupted=stopped is not None)
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
    for warning in publish(pipeline_run):
        print(f"pipeline: warning: {console(warning)}", file=sys.stderr)
    notified = notify(status, nox_options)
    print()
    print(summary.console_table(pipeline_run, {gate: logs.tail(gate) for gate in gates}))
    print(f"reports: {PIPELINE_JSON}, {SUMMARY_MD}")
    if notified != 0:
        print(f"pipeline: notify failed (exit {notified}); see its output above", file=sys.stderr)
    if stopped is not None:
        return exit_code(stopped)
    return 0 if status == Status.PASSED and notified == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
