"""The noxfile's side of the gate table: one session per gate.

``@gate`` turns a function named after a gate into that gate's nox session,
with the ``requires=`` its ``GATE`` declares; ``run_gate`` installs the gate's
lock and runs its module. ``check_every_gate_has_a_session`` makes a gate
module without a session (or a session without a module) a load error of the
noxfile, not a gate the pipeline quietly never runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nox

from tools import gates
from tools.venvs import install_lock

Session = Callable[[nox.Session], None]
Installer = Callable[[nox.Session, Path], None]


def gate(func: Session) -> Session:
    spec = gates.get(func.__name__)
    return nox.session(
        name=spec.name, tags=[gates.GATE_TAG], allow_parallel=True, requires=list(spec.requires)
    )(func)


def run_gate(session: nox.Session, install: Installer = install_lock) -> None:
    """Install the gate's lock (or what ``install`` builds from it) and run the gate."""
    spec = gates.get(session.name)
    install(session, spec.lock)
    session.run("python", "-m", spec.module, *session.posargs)


def gate_sessions() -> list[str]:
    return [name for name, func in nox.registry.get().items() if gates.GATE_TAG in func.tags]


def check_every_gate_has_a_session() -> None:
    declared, sessions = set(gates.registry()), set(gate_sessions())
    if missing := sorted(declared - sessions):
        raise RuntimeError(f"noxfile.py: no @gate session for {', '.join(missing)}")
    if extra := sorted(sessions - declared):
        raise RuntimeError(f"noxfile.py: sessions tagged gate without a gate module: {extra}")
