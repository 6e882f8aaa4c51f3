"""Running a gate's tool: from the venv running the gate, bounded in time, one
clear error when it cannot run; and the state a tool keeps between runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.errors import GateError


def venv_state(name: str) -> Path | None:
    """Where a gate keeps what it learned between runs (a verdict, a parse):
    inside the venv running it, so a new venv starts afresh. None outside a
    venv, where it would land in a system Python's prefix: nothing is kept."""
    return Path(sys.prefix) / name if sys.prefix != sys.base_prefix else None


def tool_path(name: str) -> str:
    """A tool from this interpreter's venv first, then from PATH: the gate's
    pinned tool wins even when the venv is not activated."""
    venv_bin = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")])) or name


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
