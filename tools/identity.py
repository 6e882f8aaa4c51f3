"""Which run this is: GitHub Actions' variables when present, else git.

Shared by the run record and the notifier, so both name a run the same way.
Locally a repository is named by its folder, never by its absolute path: the
name travels to the SOC.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10


def env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def repository() -> str:
    return env("GITHUB_REPOSITORY") or Path(git("rev-parse", "--show-toplevel") or Path.cwd()).name


def commit() -> str | None:
    return env("GITHUB_SHA") or git("rev-parse", "--verify", "-q", "HEAD")


def branch() -> str | None:
    return (
        env("GITHUB_HEAD_REF") or env("GITHUB_REF_NAME") or git("rev-parse", "--abbrev-ref", "HEAD")
    )


def ref() -> str | None:
    return env("GITHUB_REF") or git("symbolic-ref", "-q", "HEAD")
