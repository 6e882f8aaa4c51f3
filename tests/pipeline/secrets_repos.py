"""What the `secrets` gate's tests share: secret-shaped values made at run time,
and the gate run on a repository with this project's gitleaks config.

Every secret-shaped value is assembled at run time from a prefix and random
characters: this file sits in the history the gate scans, so it must hold none.
"""

from __future__ import annotations

import math
import string
import sys
from collections import Counter
from pathlib import Path
from secrets import choice

from helpers import ROOT, GateRun, clean_env, commit, git, new_repo
from helpers import run_gate as run_any_gate

__all__ = ["GateRun", "commit", "git", "new_repo"]

CONFIG = ROOT / ".gitleaks.toml"
ALNUM = string.ascii_letters + string.digits
# git, untranslated and without the machine's own configuration.
GIT_ENV = clean_env(LC_ALL="C")


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


# -- repositories and the gate -----------------------------------------------------


def run_gate(
    cwd: Path, *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ()
) -> GateRun:
    """The secrets gate with this project's gitleaks config, as nox runs it."""
    return run_any_gate(
        "secrets",
        cwd,
        "--config",
        str(CONFIG),
        *args,
        env={**GIT_ENV, **(env or {})},
        python=python or (sys.executable,),
        timeout=300,
    )


def leak_lines(run: GateRun, rule: str | None = None) -> set[int]:
    return {
        leak["line"]
        for leak in run.report("secrets.json")["leaks"]
        if rule is None or leak["rule"] == rule
    }


def assert_error(run: GateRun, *words: str) -> None:
    """A gate error: exit 2, a failed record, and a message saying what to do."""
    assert run.code == 2, run.stderr
    assert run.record["status"] == "failed"
    for word in words:
        assert word in run.record["reason"]
        assert word in run.stderr
