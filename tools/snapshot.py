"""The project as a user adopts it: a copy in a fresh git repository.

The copy holds every tracked file except the pipeline's own tests, which live
under ``tests/pipeline/`` (they test the pipeline, not the service, and run in
this project's own `test` gate): the pipeline, the service and the service's
tests, as a user's repository would. Used by the acceptance suite and the
benchmark.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tools import git, network

ROOT = Path(__file__).resolve().parent.parent
# The pipeline's own tests and their fixtures: not part of what a user adopts.
PIPELINE_TESTS = "tests/pipeline/"
# Committed advisories: the offline `deps` gate's data for a copy.
ADVISORIES = ROOT / "tests/pipeline/fixtures/advisories"
AUTHOR = ("-c", "user.name=Pipeline", "-c", "user.email=pipeline@example.invalid")
# What steers the pipeline from outside: CI's identity, the pipeline's own
# variables, the SOC's endpoints, nox's options, proxies. A copy (or a test) states its own.
STEERING = ("GITHUB_", "PIPELINE_", "SHUFFLE_", "THEHIVE_", "NOX", "SEMGREP_URL")
PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def scrubbed_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that steers the pipeline, plus
    ``extra``: what a run on a copy (or a test, which CI runs inside GitHub
    Actions) starts from."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(STEERING) and name.lower() not in PROXIES
    }
    return {**env, **extra}


def offline_env(**extra: str) -> dict[str, str]:
    """A copy's pipeline run offline, against the committed advisories."""
    return scrubbed_env(**{network.OFFLINE_ENV: "1", "PIPELINE_OSV_DB": str(ADVISORIES)}, **extra)


def commit_all(repo: Path, message: str) -> None:
    git.output("add", "-A", cwd=repo)
    git.output(*AUTHOR, "commit", "-q", "--no-verify", "-m", message, cwd=repo)


def adopted_files(root: Path = ROOT) -> list[str]:
    tracked = git.paths("ls-files", "-z", cwd=root)
    return [name for name in tracked if not name.startswith(PIPELINE_TESTS)]


def adopt(dest: Path, root: Path = ROOT) -> Path:
    """Copy the project into ``dest`` (which must not exist) as one commit."""
    dest.mkdir(parents=True)
    for name in adopted_files(root):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git.output("init", "-q", "-b", "main", cwd=dest)
    commit_all(dest, "The project, as a user adopts it")
    return dest
