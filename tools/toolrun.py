"""Running a gate's tool: the pinned one from the venv running the gate, bounded
in time, one clear error when it cannot run; and the state a tool keeps
between runs.

A tool is looked up in this venv only, never on PATH (a ``ruff`` on PATH ran
unchecked when the venv lacked one), and ``pinned`` checks it before a gate
trusts it: the distribution installed here is the version the gate's lock
pins, and the executable's bytes are those its RECORD lists.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from tools.errors import GateError

PIPELINE_ROOT = Path(__file__).resolve().parents[1]


def venv_state(name: str) -> Path | None:
    """Where a gate keeps what it learned between runs (a verdict, a parse):
    inside the venv running it, so a new venv starts afresh. None outside a
    venv, where it would land in a system Python's prefix: nothing is kept."""
    return Path(sys.prefix) / name if sys.prefix != sys.base_prefix else None


def tool_path(name: str) -> str:
    """A tool of this interpreter's venv, by name (an absolute path is kept as is)."""
    if Path(name).is_absolute():
        return name
    return str(Path(sys.executable).parent / name)


def locked_version(lock: Path, distribution: str) -> str | None:
    """The version ``lock`` (a hash lock under locks/) pins ``distribution`` at."""
    pattern = re.compile(rf"^{re.escape(distribution)}==([^\s;\\]+)", re.IGNORECASE)
    for line in (PIPELINE_ROOT / lock).read_text(encoding="utf-8").splitlines():
        if found := pattern.match(line):
            return found.group(1)
    return None


def pinned(lock: Path, distribution: str, executable: str | None = None) -> None:
    """Refuse to run ``distribution`` (and its ``executable``, a console script or
    binary in this venv) unless it is the version ``lock`` pins, unaltered."""
    expected = locked_version(lock, distribution)
    if expected is None:
        raise GateError(f"{lock} pins no {distribution}: regenerate the locks (`nox -s lock`)")
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise GateError(
            f"{distribution} is not installed in this venv: run the gate through nox "
            "(a copy found on PATH is never used)"
        ) from None
    if dist.version != expected:
        raise GateError(
            f"this venv holds {distribution} {dist.version}, but {lock} pins {expected}: "
            "re-sync it with nox"
        )
    if executable is None:
        return
    binary = Path(tool_path(executable))
    if not binary.is_file():
        raise GateError(f"{executable} is not installed in this venv ({binary}): run through nox")
    for entry in dist.files or []:
        if Path(str(dist.locate_file(entry))).resolve() != binary.resolve():
            continue
        if entry.hash and entry.hash.mode == "sha256":
            digest = base64.urlsafe_b64encode(hashlib.sha256(binary.read_bytes()).digest())
            if digest.rstrip(b"=").decode() != entry.hash.value:
                raise GateError(
                    f"{binary} differs from what {distribution} installed: re-create the venv"
                )
        return
    raise GateError(f"{binary} is not {distribution}'s: re-create the venv with nox")


def run_tool(
    argv: Sequence[str], *, timeout: float, what: str, capture: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion; a missing binary or a timeout is a GateError.
    argv[0] is looked up with ``tool_path``. With ``capture=False`` the tool's
    output goes straight to the console."""
    argv = [tool_path(argv[0]), *argv[1:]]
    try:
        return subprocess.run(
            argv, capture_output=capture, text=True, timeout=timeout, check=False, **kwargs
        )  # type: ignore[call-overload]
    except PermissionError as error:
        raise GateError(f"{what} cannot be run ({error.filename}): permission denied") from None
    except FileNotFoundError as error:
        raise GateError(
            f"{what} is not installed ({error.filename}): run the gate through nox"
        ) from None
    except subprocess.TimeoutExpired:
        raise GateError(f"{what} did not finish within {timeout:.0f} s") from None
