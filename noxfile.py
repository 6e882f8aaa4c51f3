"""The delivery pipeline: every gate a nox session with its own pinned venv.

    lint ─┬─ sast ────┬─ test        then notify, whatever happened
          ├─ secrets ─┤
          └─ deps ────┘
    policy                           a pull request's changes to gate policy

`nox -s pipeline` runs this graph (scans in parallel) exactly as CI does.
`nox -s <gate> --no-dependencies` runs one gate alone. Each gate's facts (what
it requires, its timeout, its severity, its reports) live in its module,
tools/gates/<gate>.py; pins live in pyproject.toml's dependency groups, locked
with hashes under locks/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

# nox loads this file by path; the pipeline's own code sits beside it in tools/.
sys.path.insert(0, str(Path(__file__).parent))
from tools import testenv
from tools.baseline import baselined_gates
from tools.gates import lock_of
from tools.sessions import (
    at_target,
    check_every_gate_has_a_session,
    gate,
    gate_sessions,
    run_gate,
)
from tools.venvs import install_lock

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv|virtualenv"
# Venvs are kept between runs and re-synced only when their lock changes.
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True
nox.options.sessions = ["pipeline"]


@gate
def policy(session: nox.Session) -> None:
    """A pull request's changes to gate policy, itemised; judged by the base's policy."""
    run_gate(session)


@gate
def lint(session: nox.Session) -> None:
    """ruff (style and the S security rules) and zizmor on .github/: the cheap fail-fast."""
    run_gate(session)


@gate
def sast(session: nox.Session) -> None:
    """Semgrep: the rule tests, then registry packs (online) plus .semgrep/rules.yml."""
    run_gate(session)


@gate
def secrets(session: nox.Session) -> None:
    """gitleaks with .gitleaks.toml over the full git history (or PIPELINE_BASE_REF..HEAD)."""
    run_gate(session)


@gate
def deps(session: nox.Session) -> None:
    """pip-audit, strict, on every dependency the project declares and the gates' own locks."""
    run_gate(session)


@gate
def test(session: nox.Session) -> None:
    """The project's tests in its own environment, with branch coverage of its packages."""
    run_gate(session, install=testenv.install)


check_every_gate_has_a_session()


@nox.session
def notify(session: nox.Session) -> None:
    """Post the run's outcome to the SOC webhook (SHUFFLE_WEBHOOK_URL), signed."""
    at_target(session)
    install_lock(session, lock_of("pipeline-notify"))
    session.run("python", "-m", "tools.notify", *session.posargs)


@nox.session(name="semgrep-packs", python=False)
def semgrep_packs(session: nox.Session) -> None:
    """Fetch the registry packs into a store an air-gapped runner reads (PIPELINE_SEMGREP_PACKS)."""
    session.run(sys.executable, "-m", "tools.semgrep_packs", *session.posargs)


@nox.session(python=False)
def baseline(session: nox.Session) -> None:
    """Record the findings the code base has today in .pipeline/baseline.json, for review."""
    scans = [gate.name for gate in baselined_gates()]
    # Findings make a gate exit 1: that is what is being recorded.
    session.run(sys.executable, "-m", "nox", "-s", *scans, "--no-dependencies",
                *session.posargs, success_codes=[0, 1])  # fmt: skip
    session.run(sys.executable, "-m", "tools.baseline", "--write")


@nox.session
def trusted(session: nox.Session) -> None:
    """After a pipeline run in GitHub Actions: the policy status and the SOC (default branch)."""
    install_lock(session, lock_of("pipeline-trusted"))
    session.run("python", "-m", "tools.trusted", *session.posargs)


@nox.session(python=False)
def pipeline(session: nox.Session) -> None:
    """The whole graph in parallel, then notify; fails if any gate failed or was skipped.

    Pass `-- --keep-going` to run every gate even after a failure.
    """
    # After Ctrl-C the pipeline still records the run and notifies: give it time.
    session.run(
        sys.executable,
        "-m",
        "tools.pipeline",
        *session.posargs,
        # Last, so that the noxfile's gates are the ones run whatever the arguments.
        f"--gates={','.join(gate_sessions())}",
        interrupt_timeout=60,
    )


@nox.session
def detection(session: nox.Session) -> None:
    """How much of each vulnerability class lint and sast catch offline, on .semgrep/tests/."""
    # The project's test environment: it holds both gates' tools.
    testenv.install(session, lock_of("pipeline-test"))
    session.run("python", "-m", "tools.detection", *session.posargs)


@nox.session
def acceptance(session: nox.Session) -> None:
    """Inject each class of defect into a copy of the project and check the right gate trips."""
    testenv.install(session, lock_of("pipeline-test"))
    # The copies' pipelines reuse this run's gate venvs instead of building their own.
    envdir = str(Path(session.virtualenv.location).parent)
    session.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "tests/pipeline/acceptance",
        *session.posargs,
        env={"ACCEPTANCE_ENVDIR": envdir},
    )


@nox.session
def adopt(session: nox.Session) -> None:
    """Put the pipeline into another repository, or upgrade it there: `-- PATH [--no-run]`."""
    install_lock(session, lock_of("pipeline-adopt"))
    # The pipeline run at the end is started with this nox, not the adopt venv's Python.
    session.run("python", "-m", "tools.adopt", f"--nox-python={sys.executable}", *session.posargs)


@nox.session(python=False)
def lock(session: nox.Session) -> None:
    """Regenerate the hash locks from pyproject.toml; `-- --check` only verifies them."""
    session.run(sys.executable, "-m", "tools.locks", *session.posargs)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Time the pipeline against sequential nox and the critical path; prints medians."""
    session.run(sys.executable, "-m", "tools.bench", *session.posargs)
