"""Which run this is: GitHub Actions' variables when present, else git.

Shared by the run record and the notifier, so both name a run the same way.
Locally a repository is named by its folder, never by its absolute path: the
name travels to the SOC.
"""

from __future__ import annotations

import os
from pathlib import Path

from tools.git import answer as git


def env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


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
