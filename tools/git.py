"""The one way the pipeline runs git: untranslated, never prompting, bounded in
time, with file names decoded losslessly (a name that is not UTF-8 keeps its
bytes as surrogates instead of crashing the reader)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tools.errors import GitError
from tools.text import last_line

TIMEOUT_S = 30


def environment() -> dict[str, str]:
    # git's messages are parsed by callers: keep them in English.
    return {**os.environ, "LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"}


def _spawn(
    args: tuple[str, ...],
    cwd: Path | None,
    timeout: float,
    extra_env: dict[str, str] | None = None,
    **text: Any,
) -> Any:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**environment(), **(extra_env or {})},
            capture_output=True,
            timeout=timeout,
            check=False,
            **text,
        )
    except OSError as error:
        raise GitError(f"cannot run git: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        what = args[0] if args else ""
        raise GitError(f"git {what} did not finish within {timeout:.0f} s") from None


def run(
    *args: str,
    cwd: Path | None = None,
    timeout: float = TIMEOUT_S,
    input: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """git ``args`` to completion, whatever its exit code; only a git that cannot
    run at all, or does not finish in time, is an error. ``extra_env`` reaches
    this git only (a credential, say), never the environment of anything else."""
    return _spawn(
        args,
        cwd,
        timeout,
        extra_env,
        input=input,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )


def run_bytes(*args: str, cwd: Path | None = None, timeout: float = TIMEOUT_S) -> bytes:
    """What git printed, as bytes (an archive, a blob); a failure is a GitError."""
    result = _spawn(args, cwd, timeout)
    if result.returncode != 0:
        why = last_line(result.stderr.decode("utf-8", "replace"))
        raise GitError(f"git {args[0] if args else ''} failed: {why}")
    return result.stdout


def output(*args: str, cwd: Path | None = None, timeout: float = TIMEOUT_S) -> str:
    """What git printed, stripped; a failure is a GitError with git's own reason."""
    result = run(*args, cwd=cwd, timeout=timeout)
    if result.returncode != 0:
        raise GitError(f"git {args[0] if args else ''} failed: {last_line(result.stderr)}")
    return result.stdout.strip()


def paths(*args: str, cwd: Path | None = None) -> list[str]:
    """The NUL-separated names a ``-z`` listing printed, exactly as git stores them."""
    result = run(*args, cwd=cwd)
    if result.returncode != 0:
        raise GitError(f"git {args[0] if args else ''} failed: {last_line(result.stderr)}")
    return [name for name in result.stdout.split("\0") if name]


def answer(*args: str, cwd: Path | None = None) -> str | None:
    """What git printed, or None when it could not say (no repository, no commit)."""
    try:
        result = run(*args, cwd=cwd)
    except GitError:
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None
