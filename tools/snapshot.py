"""The project as a user adopts it: a copy in a fresh git repository.

The copy holds every tracked file of the pipeline and the service, and the
service's own tests, as a user's repository would; the pipeline's unit tests
stay behind (they test the pipeline, not the service, and run in this
project's own `test` gate). Used by the acceptance suite and the benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_TESTS = frozenset({"tests/conftest.py", "tests/test_api.py", "tests/test_server.py"})
# Committed advisories: the offline `deps` gate's data in a copy.
ADVISORIES = "tests/fixtures/advisories"
AUTHOR = ("-c", "user.name=Pipeline", "-c", "user.email=pipeline@example.invalid")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, *AUTHOR, "commit", "-q", "--no-verify", "-m", message)


def adopted_files(root: Path = ROOT) -> list[str]:
    tracked = filter(None, git(root, "ls-files", "-z").split("\0"))
    return [
        name
        for name in tracked
        if not name.startswith("tests/") or name in SERVICE_TESTS or name.startswith(ADVISORIES)
    ]


def adopt(dest: Path, root: Path = ROOT) -> Path:
    """Copy the project into ``dest`` (which must not exist) as one commit."""
    dest.mkdir(parents=True)
    for name in adopted_files(root):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "The project, as a user adopts it")
    return dest
