"""What the pipeline's tests share: a clean environment, real git repositories,
and running one gate the way nox does, with everything it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import git as tools_git
from tools import snapshot

ROOT = Path(__file__).resolve().parents[2]
GATE_TIMEOUT_S = 600
PIPELINE_TIMEOUT_S = 900
# git as a fresh machine has it: no user's or system's configuration.
GIT_ISOLATION = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a test runs the pipeline's code in: nothing of the caller's
    that steers it (CI runs these tests in GitHub Actions), git isolated, this
    checkout's ``tools`` importable."""
    return snapshot.scrubbed_env(**{**GIT_ISOLATION, "PYTHONPATH": str(ROOT), **extra})


def git(repo: Path, *args: str) -> str:
    return tools_git.output(*args, cwd=repo)


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for key, value in (
        ("user.name", "Test Author"),
        ("user.email", "author@example.invalid"),
        ("commit.gpgsign", "false"),
    ):
        git(path, "config", key, value)
    return path


def write_files(root: Path, files: dict[str, str | bytes | None]) -> None:
    """Write (or, for None, delete) each file under ``root``."""
    for name, content in files.items():
        path = root / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def commit(repo: Path, message: str, files: dict[str, str | bytes | None]) -> str:
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = GATE_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """A command to completion, its output captured, in ``clean_env()`` unless told."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_pipeline(
    project: Path, envdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`nox -s pipeline` in a copy of the project, offline, reusing ``envdir``'s venvs."""
    return run(
        [sys.executable, "-m", "nox", "-s", "pipeline", "--", "--envdir", str(envdir), *args],
        cwd=project,
        env=env if env is not None else snapshot.offline_env(),
        timeout=PIPELINE_TIMEOUT_S,
    )


@dataclass
class GateRun:
    project: Path
    gate: str
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)  # console and every report

    @property
    def record(self) -> dict:
        return json.loads(self.outputs[f"reports/gates/{self.gate}.json"])

    def report(self, name: str) -> dict:
        return json.loads(self.outputs[f"reports/{name}"])

    def has_report(self, name: str) -> bool:
        return f"reports/{name}" in self.outputs

    def assert_never_shows(self, *values: str) -> None:
        assert self.outputs, "no output to search"
        for value in values:
            for fragment in (value, value[-12:]):
                for where, text in self.outputs.items():
                    assert fragment not in text, f"a planted value shows in {where}"


def run_gate(
    gate: str,
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
    python: Sequence[str] = (sys.executable,),
    timeout: float = GATE_TIMEOUT_S,
) -> GateRun:
    """``python -m tools.gates.<gate> args`` in ``project``, as its nox session runs it."""
    result = run(
        [*python, "-m", f"tools.gates.{gate}", *args], cwd=project, env=env, timeout=timeout
    )
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    for path in sorted((project / "reports").rglob("*")):
        if path.is_file():
            name = path.relative_to(project).as_posix()
            outputs[name] = path.read_text(encoding="utf-8", errors="replace")
    return GateRun(project, gate, result.returncode, result.stdout, result.stderr, outputs)


def poetry_lock(*pins: tuple[str, str]) -> str:
    """A poetry.lock (lock-version 2.1) holding each ``(name, version)`` pin."""
    packages = "".join(
        f'[[package]]\nname = "{name}"\nversion = "{version}"\ndescription = ""\n'
        'optional = false\npython-versions = ">=3.7"\nfiles = []\n\n'
        for name, version in pins
    )
    metadata = '[metadata]\nlock-version = "2.1"\npython-versions = "^3.11"\ncontent-hash = "0"\n'
    return "# Generated by Poetry: do not edit by hand.\n\n" + packages + metadata
