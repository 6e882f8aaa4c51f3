"""Real git repositories and real runs of the `secrets` gate, for its tests.

Every secret-shaped value is assembled at run time from a prefix and random
characters: this file sits in the history the gate scans, so it must hold none.
"""

from __future__ import annotations

import json
import math
import os
import string
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from secrets import choice

from tools.gates import secrets as gate

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".gitleaks.toml"
ALNUM = string.ascii_letters + string.digits
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}
GIT_ENV.pop(gate.BASE_REF_ENV, None)


# -- secrets made at run time ----------------------------------------------------


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def random_text(alphabet: str, length: int) -> str:
    # Redraw the rare low-entropy draw, so a rule's entropy floor never makes a test flaky.
    while True:
        text = "".join(choice(alphabet) for _ in range(length))
        if entropy(text) > 3.2:
            return text


def random_value(extra: str = "") -> str:
    """A high-entropy value; it ends in a digit, since digit-free values read as names."""
    text = random_text(ALNUM, 32)
    return text[:12] + extra + text[12:] + choice(string.digits)


def aws_key() -> str:
    return "AKIA" + random_text(string.ascii_uppercase + "234567", 16)


def github_token() -> str:
    return "ghp_" + random_text(ALNUM, 36)


# -- real git repositories -------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Author")
    git(path, "config", "user.email", "author@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    return path


def commit(repo: Path, message: str, files: dict[str, str | bytes | None]) -> str:
    for name, text in files.items():
        if text is None:
            (repo / name).unlink()
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (repo / name).write_bytes(text)
        else:
            (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class GateRun:
    code: int
    stdout: str
    stderr: str
    record: dict
    outputs: dict[str, str]  # every console stream and every file under reports/

    def reports(self, name: str) -> dict:
        return json.loads(self.outputs[f"reports/{name}"])

    def leak_lines(self, rule: str | None = None) -> set[int]:
        return {
            leak["line"]
            for leak in self.reports("secrets.json")["leaks"]
            if rule is None or leak["rule"] == rule
        }

    def assert_never_shows(self, *values: str) -> None:
        assert self.outputs, "no output to search"
        for value in values:
            for fragment in (value, value[-12:]):
                for where, text in self.outputs.items():
                    assert fragment not in text, f"a planted value shows in {where}"


def run_gate(
    cwd: Path, *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ()
) -> GateRun:
    environment = {**GIT_ENV, "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run(
        [
            *(python or (sys.executable,)),
            "-m",
            "tools.gates.secrets",
            "--config",
            str(CONFIG),
            *args,
        ],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    for path in sorted((cwd / "reports").rglob("*")):
        if path.is_file():
            outputs[path.relative_to(cwd).as_posix()] = path.read_text(encoding="utf-8")
    record = json.loads(outputs["reports/gates/secrets.json"])
    return GateRun(result.returncode, result.stdout, result.stderr, record, outputs)


def assert_error(run: GateRun, *words: str) -> None:
    """A gate error: exit 2, a failed record, and a message saying what to do."""
    assert run.code == 2, run.stderr
    assert run.record["status"] == "failed"
    for word in words:
        assert word in run.record["reason"]
        assert word in run.stderr
