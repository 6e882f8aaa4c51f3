"""The noxfile's side of the gate table: one session per gate.

``@gate`` turns a function named after a gate into that gate's nox session,
with the ``requires=`` its ``GATE`` declares; ``run_gate`` installs the gate's
lock and runs its module. ``check_every_gate_has_a_session`` makes a gate
module without a session (or a session without a module) a load error of the
noxfile, not a gate the pipeline quietly never runs.

With a base (``PIPELINE_BASE_REF``), a gate runs from the base's policy: the
base's policy files are taken from git into a folder of their own (once per
base commit), and the gate's code, lock, rules and settings all come from
there, while it judges this checkout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import nox

from tools import gates, policy
from tools.venvs import install_lock

Session = Callable[[nox.Session], None]
Installer = Callable[[nox.Session, Path], None]
PIPELINE_ROOT = Path(__file__).resolve().parents[1]


def gate(func: Session) -> Session:
    spec = gates.get(func.__name__)
    return nox.session(
        name=spec.name, tags=[gates.GATE_TAG], allow_parallel=True, requires=list(spec.requires)
    )(func)


def at_target(session: nox.Session) -> None:
    """Work in the checkout judged: when the pipeline runs this noxfile from the
    base's tree, the checkout is elsewhere (PIPELINE_TARGET)."""
    if target := os.environ.get(policy.TARGET_ENV):
        session.chdir(target)


def policy_root(session: nox.Session) -> Path:
    """The tree the gate's policy comes from: the base's, materialized beside the
    venvs and kept per commit (or this noxfile's own tree, when the pipeline runs
    it from the base's); this pipeline's own without a base."""
    base = policy.base_ref()
    if base is None:
        return PIPELINE_ROOT
    commit = policy.resolve(base)
    if policy.tree_commit(PIPELINE_ROOT) == commit:
        return PIPELINE_ROOT
    folder = Path(session.virtualenv.location).parent / f"policy-{commit[:16]}"
    policy.materialize_once(base, folder)
    session.log(f"judged by the policy of {base} ({commit[:12]}), from {folder}")
    return folder


def run_gate(session: nox.Session, install: Installer = install_lock) -> None:
    """Install the gate's lock (or what ``install`` builds from it) and run the
    gate, its code taken from the policy's tree only: ``-P`` keeps a folder of
    the checkout's named like the pipeline's from standing in for it."""
    spec = gates.get(session.name)
    at_target(session)
    root = policy_root(session)
    install(session, root / spec.lock)
    session.run(
        "python",
        "-P",
        "-m",
        spec.module,
        *session.posargs,
        env={"PYTHONPATH": str(root), policy.ROOT_ENV: str(root)},
    )


def gate_sessions() -> list[str]:
    return [name for name, func in nox.registry.get().items() if gates.GATE_TAG in func.tags]


def check_every_gate_has_a_session() -> None:
    declared, sessions = set(gates.registry()), set(gate_sessions())
    if missing := sorted(declared - sessions):
        raise RuntimeError(f"noxfile.py: no @gate session for {', '.join(missing)}")
    if extra := sorted(sessions - declared):
        raise RuntimeError(f"noxfile.py: sessions tagged gate without a gate module: {extra}")
