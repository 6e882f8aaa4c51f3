"""Installing a gate's lock into its nox virtualenv, once per lock.

nox reuses each gate's venv (``reuse_venv = "yes"``); a stamp in the venv
records the digest of the lock it was synced from. An unchanged lock costs
nothing; a changed lock re-syncs the venv to exactly the new pins, so a gate
never runs a stale tool version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nox
from nox.virtualenv import find_uv

LOCK_DIR = Path(__file__).resolve().parent.parent / "locks"
STAMP = ".pipeline-lock.sha256"
# `uv pip sync` also removes whatever a previous lock had and this one has not.
# Unlike pip, uv writes no bytecode unless asked: without it every gate start
# recompiles its tool from source (semgrep took 3.6 s instead of 2.4 s here).
UV_SYNC = ("pip", "sync", "--quiet", "--require-hashes", "--compile-bytecode")
PIP_INSTALL = ("--quiet", "--require-hashes", "--no-deps", "-r")


def install_lock(session: nox.Session, lock: Path) -> None:
    """Sync the session's venv to ``lock`` (relative: under this pipeline's root)."""
    lock = lock if lock.is_absolute() else LOCK_DIR.parent / lock
    uses_uv = session.venv_backend == "uv"
    # The stamp covers how the venv was installed as well as from which lock.
    recipe = repr(UV_SYNC if uses_uv else PIP_INSTALL).encode()
    digest = hashlib.sha256(recipe + b"\0" + lock.read_bytes()).hexdigest()
    venv = Path(session.virtualenv.location)
    stamp = venv / STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        session.log(f"venv matches locks/{lock.name}, nothing to install")
        return
    stamp.unlink(missing_ok=True)
    if uses_uv:
        _, uv, _ = find_uv()
        session.run_install(uv, *UV_SYNC, str(lock), env={"VIRTUAL_ENV": str(venv)}, external=True)
    else:
        session.install(*PIP_INSTALL, str(lock))
    stamp.write_text(digest + "\n", encoding="utf-8")
