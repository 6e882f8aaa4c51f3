"""Benchmark: how close `nox -s pipeline` comes to its physical limit.

    nox -s bench [-- --runs 5 --cold-runs 3 --project adopted|repo --skip-cold --plan]

On a copy of the project (by default as a user adopts it: the pipeline, the
service and the service's tests; `--project repo` takes the whole repository
with the pipeline's own test suite), offline, it prints medians of:

- the warm pipeline (`nox -s pipeline`, venvs ready);
- the same gates one after another (`nox -s <every gate>`);
- each gate's bare tool with its venv ready (the commands its GATE declares),
  and the critical path they allow (the heaviest chain through the graph);
- the cold pipeline from a fresh clone (no .nox/, package caches warm), with
  uv and with the virtualenv/pip fallback;

then the ratios: pipeline / sequential, pipeline / critical path, and nox's
overhead per gate. The warm measures are taken in rounds, each round timing
every one of them once, so they are compared side by side. Timings are
wall-clock, in seconds, on this machine.

    nox -s bench -- --secrets-history 3000 [--runs 5]

instead builds a repository of that many commits (merges, tags and binary files
among them) and prints the medians of the `secrets` gate and of plain
`gitleaks git` on it: what reading every merge, message and binary costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tools import gates, git, gitleaks, network, snapshot
from tools.errors import GateError
from tools.gates import Bare

ROOT = snapshot.ROOT
TARGET_VS_SEQUENTIAL = 0.75
TARGET_VS_CRITICAL_PATH = 1.25
TARGET_COLD_UV_S = 60.0
MIRROR_START_TIMEOUT_S = 30.0
# The nox processes on the pipeline's path besides one per gate on the critical
# path: `nox -s pipeline` and the `nox -j` that runs the graph.
NOX_PROCESSES_AROUND_THE_PATH = 2


class BenchError(Exception):
    """A measured command did not do what it should: its time would mean nothing."""


@dataclass
class Measure:
    label: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def run_timed(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], ok: Sequence[int] = (0,), what: str
) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise BenchError(f"{what} exited {result.returncode}:\n" + "\n".join(tail))
    return elapsed


def repeat(label: str, runs: int, once: Callable[[], float]) -> Measure:
    measure = Measure(label)
    for _ in range(runs):
        measure.times.append(once())
        print(f"  {label}: {measure.times[-1]:.2f} s", flush=True)
    return measure


def nox(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", *args]


def make_project(kind: str, where: Path) -> Path:
    if kind == "adopted":
        return snapshot.adopt(where / "project")
    project = where / "project"
    snapshot.git(where, "clone", "--quiet", str(ROOT), str(project))
    return project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def osv_mirror(project: Path, envdir: Path, env: dict[str, str]) -> Iterator[str]:
    """A standalone mirror of the committed advisories for the bare tools: started
    before the rounds, never timed."""
    port = free_port()
    python = envdir / "deps/bin/python"
    with subprocess.Popen(
        [str(python), "-m", "tools.osv", "--db", env["PIPELINE_OSV_DB"], "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as mirror:
        try:
            deadline = time.monotonic() + MIRROR_START_TIMEOUT_S
            while not network.reachable("127.0.0.1", port, timeout=0.2):
                if time.monotonic() > deadline or mirror.poll() is not None:
                    raise BenchError("the OSV mirror did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/v1/query"
        finally:
            mirror.terminate()


def bare_tools(
    project: Path, envdir: Path, env: dict[str, str], scratch: Path, osv_url: str
) -> dict[str, Callable[[], float]]:
    """Each gate's tool as a person would run it by hand, venvs ready: the commands
    its GATE declares, one after another."""

    def timed(gate: gates.Gate) -> Callable[[], float]:
        bench = Bare(envdir / gate.name, project, scratch, osv_url)
        commands = gate.bare(bench)

        def once() -> float:
            return sum(
                run_timed(argv, cwd=project, env=env, what=f"bare {gate.name}") for argv in commands
            )

        return once

    return {name: timed(gate) for name, gate in gates.registry().items()}


def cold(project: Path, scratch: Path, runs: int, backend: str) -> Measure:
    """The pipeline from a fresh clone each time: no .nox/, package caches warm."""
    extra = ["--", "-db", backend] if backend != "uv" else []
    label = f"cold pipeline, {backend}"
    counter = iter(range(runs + 1))

    def once() -> float:
        clone = scratch / f"cold-{backend}-{next(counter)}"
        snapshot.git(scratch, "clone", "--quiet", str(project), str(clone))
        return run_timed(
            nox("-s", "pipeline", *extra), cwd=clone, env=snapshot.offline_env(), what=label
        )

    once()  # fills the package cache for this backend; not counted
    return repeat(label, runs, once)


def report(measures: dict[str, Measure]) -> str:
    warm, sequential = measures["warm"], measures["sequential"]
    names = list(gates.registry())
    path, critical = gates.longest_path(lambda gate: measures[gate].median)
    overhead = (sequential.median - sum(measures[gate].median for gate in names)) / len(names)
    processes = NOX_PROCESSES_AROUND_THE_PATH + len(path)
    floor = critical + processes * measures["nox"].median
    rows = [(m.label, m.median, m.times) for m in measures.values()]
    width = max(len(label) for label, _, _ in rows)
    lines = [f"{'measure'.ljust(width)}  median  runs", "-" * (width + 30)]
    lines += [
        f"{label.ljust(width)}  {median:6.2f}  " + " ".join(f"{t:.2f}" for t in times)
        for label, median, times in rows
    ]
    lines += [
        f"{('critical path: ' + ' + '.join(path) + ' (bare)').ljust(width)}  {critical:6.2f}",
        "",
        f"pipeline / sequential     {warm.median / sequential.median:5.2f}"
        f"   (target <= {TARGET_VS_SEQUENTIAL})",
        f"pipeline / critical path  {warm.median / critical:5.2f}"
        f"   (target <= {TARGET_VS_CRITICAL_PATH})",
        f"nox overhead per gate     {overhead:5.2f} s (sequential minus bare tools, per gate)",
        f"pipeline floor            {floor:5.2f} s = critical path + {processes} nox "
        f"start-ups ({floor / critical:.2f} x the critical path)",
    ]
    if "cold-uv" in measures:
        lines.append(
            f"cold pipeline with uv     {measures['cold-uv'].median:5.1f} s"
            f" (target < {TARGET_COLD_UV_S:.0f} s)"
        )
    return "\n".join(lines)


# What every nox process pays before its session does anything.
NOOP_NOXFILE = """import nox

nox.options.default_venv_backend = "uv|virtualenv"


@nox.session(python=False)
def noop(session):
    pass
"""


def warm_rounds(
    project: Path, envdir: Path, env: dict[str, str], scratch: Path, *, runs: int, osv_url: str
) -> dict[str, Measure]:
    """Every warm measure once per round, rounds repeated: a machine that slows
    down mid-benchmark slows every measure alike, so the ratios stay fair."""
    pipeline = nox("-s", "pipeline", "--", "--envdir", str(envdir))
    sequential = nox("--envdir", str(envdir), "-s", *gates.registry())
    noop = scratch / "noop" / "noxfile.py"
    noop.parent.mkdir(exist_ok=True)
    noop.write_text(NOOP_NOXFILE, encoding="utf-8")
    tools = bare_tools(project, envdir, env, scratch, osv_url)
    measures = {
        "warm": Measure("warm pipeline (nox -s pipeline)"),
        "sequential": Measure(f"sequential (nox -s {' '.join(gates.registry())})"),
        "nox": Measure("nox start-up (a session that does nothing)"),
        **{gate: Measure(f"bare {gate} (its GATE.bare commands)") for gate in gates.registry()},
    }
    for round_ in range(1, runs + 1):
        measures["warm"].times.append(run_timed(pipeline, cwd=project, env=env, what="pipeline"))
        measures["sequential"].times.append(
            run_timed(sequential, cwd=project, env=env, what="sequential nox")
        )
        measures["nox"].times.append(
            run_timed(nox("-f", str(noop), "-s", "noop"), cwd=project, env=env, what="nox")
        )
        for gate, once in tools.items():
            measures[gate].times.append(once())
        print(
            f"  round {round_}/{runs}: "
            + ", ".join(f"{key} {m.times[-1]:.2f}" for key, m in measures.items()),
            flush=True,
        )
    return measures


def plan(envdir: Path) -> str:
    """The measures, read from the gate table: each gate's bare commands and the
    graph whose longest path is the critical path."""
    bench = Bare(envdir / "<gate>", Path("<project>"), Path("<scratch>"), "<osv-url>")
    lines = [f"sequential: nox -s {' '.join(gates.registry())}"]
    for gate in gates.registry().values():
        try:
            commands = [" ".join(argv) for argv in gate.bare(bench)]
        except Exception as error:  # a recipe that needs a real project: say so
            commands = [f"(reads the project: {type(error).__name__})"]
        requires = ", ".join(gate.requires) or "-"
        lines.append(f"bare {gate.name} (requires {requires}): " + " && ".join(commands))
    lines.append("critical path: the longest chain of bare times through requires")
    return "\n".join(lines)


# -- the secrets gate on a long history -------------------------------------------------

HISTORY_FILES = 24
HISTORY_LINES = 200
MERGE_EVERY = 50  # a side branch of 3 commits, merged back
BINARY_EVERY = 100  # a 4 KiB binary file rewritten
TAG_EVERY = 250  # an annotated tag


def _line(rng: random.Random, index: int) -> bytes:
    words = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
    return f"VALUE_{index} = {rng.randrange(10**9)}  # {words}\n".encode()


WORDS = ("alpha", "beta", "gamma", "delta", "retry", "limit", "cache", "queue", "route", "task")


def history_stream(commits: int, seed: int = 7) -> bytes:
    """A `git fast-import` stream of ``commits`` commits: each changes a line or
    two of a few of 24 Python files; every 50th is a merge of a 3-commit
    branch, every 100th rewrites a binary file, every 250th is tagged."""
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    files = {
        f"src/module_{n:02d}.py": [_line(rng, i) for i in range(HISTORY_LINES)]
        for n in range(HISTORY_FILES)
    }
    out = io.BytesIO()
    clock = 1_700_000_000

    def data(payload: bytes) -> None:
        out.write(b"data %d\n%s\n" % (len(payload), payload))

    def one(ref: str, mark: int, parents: Sequence[int], changes: dict[str, bytes]) -> None:
        nonlocal clock
        clock += 60
        out.write(f"commit {ref}\nmark :{mark}\n".encode())
        out.write(f"author Bench <bench@example.invalid> {clock} +0000\n".encode())
        out.write(f"committer Bench <bench@example.invalid> {clock} +0000\n".encode())
        data(f"change {mark}: {rng.choice(WORDS)} {rng.choice(WORDS)}".encode())
        if parents:
            out.write(f"from :{parents[0]}\n".encode())
        for parent in parents[1:]:
            out.write(f"merge :{parent}\n".encode())
        for path, content in changes.items():
            out.write(f"M 100644 inline {path}\n".encode())
            data(content)

    def edit(count: int) -> dict[str, bytes]:
        changed = {}
        for path in rng.sample(sorted(files), count):
            lines = files[path]
            lines[rng.randrange(len(lines))] = _line(rng, rng.randrange(10**6))
            changed[path] = b"".join(lines)
        return changed

    made = 0
    main = 0
    while made < commits:
        made += 1
        changes = (
            edit(rng.randint(1, 3)) if made > 1 else {p: b"".join(c) for p, c in files.items()}
        )
        if made % BINARY_EVERY == 0:
            changes["assets/blob.bin"] = rng.randbytes(4096)
        one("refs/heads/main", made, [main] if main else [], changes)
        main = made
        if made % MERGE_EVERY == 0 and made + 4 <= commits:
            side = main
            for _ in range(3):
                made += 1
                one("refs/heads/side", made, [side], edit(1))
                side = made
            made += 1
            one("refs/heads/main", made, [main, side], edit(1))
            main = made
        if made % TAG_EVERY == 0:
            out.write(f"tag v{made}\nfrom :{main}\n".encode())
            out.write(f"tagger Bench <bench@example.invalid> {clock} +0000\n".encode())
            data(f"release {made}".encode())
    return out.getvalue()


def secrets_history(commits: int, runs: int, envdir: Path) -> str:
    """Medians of the `secrets` gate and of plain `gitleaks git` on a clean
    repository of ``commits`` commits, built here and timed side by side."""
    python = envdir / "secrets/bin/python"
    python = python if python.exists() else Path(sys.executable)
    try:
        binary, _ = gitleaks.find()
    except GateError:
        binary = next(
            (envdir / "secrets/lib").glob(f"python*/site-packages/{gitleaks.BUNDLED_BINARY}")
        )
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        repo = Path(tmp) / "repo"
        git.output("init", "-q", "-b", "main", str(repo), cwd=Path(tmp))
        subprocess.run(
            ["git", "fast-import", "--quiet"], cwd=repo, input=history_stream(commits), check=True
        )
        git.output("checkout", "-q", "-f", "main", cwd=repo)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PIPELINE_BASE_REF", None)
        gate = Measure("secrets gate (history reader + gitleaks dir)")
        plain = Measure("plain gitleaks git")
        config = ROOT / ".gitleaks.toml"
        for _ in range(runs):
            gate.times.append(
                run_timed(
                    [str(python), "-m", "tools.gates.secrets", "--config", str(config)],
                    cwd=repo,
                    env=env,
                    what="the secrets gate",
                )
            )
            plain.times.append(
                run_timed(
                    [
                        *(str(binary), "git", "-c", str(config), "--redact", "--no-banner"),
                        *("--log-level", "error", "--report-format", "sarif"),
                        *("--report-path", str(Path(tmp) / "plain.sarif"), "."),
                    ],
                    cwd=repo,
                    env=env,
                    what="gitleaks git",
                )
            )
            print(f"  gate {gate.times[-1]:.2f} s, plain {plain.times[-1]:.2f} s", flush=True)
        coverage = json.loads((repo / "reports/secrets.json").read_text())["coverage"]
    return "\n".join(
        [
            f"history: {coverage['commits']} commits, {coverage['merges']} merges, "
            f"{coverage['tags']} tags, {coverage['files']} file versions, "
            f"{coverage['bytes_scanned']} bytes scanned by the gate",
            f"{gate.label}: median {gate.median:.2f} s "
            f"({' '.join(f'{t:.2f}' for t in gate.times)})",
            f"{plain.label}: median {plain.median:.2f} s "
            f"({' '.join(f'{t:.2f}' for t in plain.times)})",
            f"gate / plain gitleaks git: {gate.median / plain.median:.2f}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs of each measure (5)")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold runs per backend (3)")
    parser.add_argument("--project", choices=("adopted", "repo"), default="adopted")
    parser.add_argument("--skip-cold", action="store_true", help="measure warm runs only")
    parser.add_argument(
        "--plan", action="store_true", help="print what would be measured, measure nothing"
    )
    parser.add_argument(
        "--secrets-history",
        type=int,
        metavar="COMMITS",
        help="time only the secrets gate against plain gitleaks git on a history this long",
    )
    parser.add_argument(
        "--envdir",
        type=Path,
        default=ROOT / ".nox",
        help="where the warm venvs live (default: this project's .nox)",
    )
    args = parser.parse_args(argv)
    envdir = args.envdir.resolve()
    if args.plan:
        print(plan(envdir))
        return 0
    if args.secrets_history:
        print(secrets_history(args.secrets_history, args.runs, envdir))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scratch = Path(tmp)
        project = make_project(args.project, scratch)
        env = snapshot.offline_env()
        print(
            f"bench: {args.project} project at {project}, {os.cpu_count()} CPUs, "
            f"{args.runs} warm runs, envdir {envdir}",
            flush=True,
        )
        try:
            # Builds or re-syncs the venvs, and proves the copy passes: not timed.
            run_timed(
                nox("-s", "pipeline", "--", "--envdir", str(envdir)),
                cwd=project,
                env=env,
                what="warm-up pipeline",
            )
            with osv_mirror(project, envdir, env) as osv_url:
                measures = warm_rounds(
                    project, envdir, env, scratch, runs=args.runs, osv_url=osv_url
                )
            if not args.skip_cold:
                measures["cold-uv"] = cold(project, scratch, args.cold_runs, "uv")
                measures["cold-virtualenv"] = cold(project, scratch, args.cold_runs, "virtualenv")
        except BenchError as error:
            print(f"bench: error: {error}", file=sys.stderr)
            return 1
    print()
    print(report(measures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
