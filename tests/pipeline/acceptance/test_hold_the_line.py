"""Hold the line on a code base with debt: findings in every scanning gate,
baselined with `nox -s baseline` and committed; then pull requests onto it.

One repository serves every case, in order (each case its own branch off
main): the full run on main passes and reports the debt; a pull request with
one new finding per gate fails naming only those; one that moves code with old
findings passes; one that fixes an old finding passes and reports it fixed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import sys
from pathlib import Path

import helpers
import pytest

from tools import git, snapshot
from tools.baseline import baselined_gates
from tools.snapshot import commit_all

ENVDIR = Path(os.environ.get("ACCEPTANCE_ENVDIR", snapshot.ROOT / ".nox"))
SCANS = tuple(gate.name for gate in baselined_gates())

LEGACY = '''"""Old maintenance scripts."""

import subprocess

import requests


def fetch(url: str) -> bytes:
    return requests.get(url).content


def again(url: str) -> bytes:
    return requests.get(url).content


def shell(command: str) -> int:
    return subprocess.call(command, shell=True)
'''
NEW = '''"""New scripts."""

import subprocess

import requests


def download(url: str) -> bytes:
    return requests.get(url).content


def sh(command: str) -> int:
    return subprocess.call(command, shell=True)
'''


def key_id() -> str:
    # Built at run time: nothing secret-shaped is committed to this repository.
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


def write(repo: Path, name: str, text: str) -> None:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def indebted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = snapshot.adopt(tmp_path_factory.mktemp("debt") / "project")
    write(repo, "scripts/legacy.py", LEGACY)
    write(repo, "scripts/cloud.py", f'"""Cloud."""\n\nKEY_ID = "{key_id()}"\n')
    commit_all(repo, "Years of history")
    result = helpers.run(
        [sys.executable, "-m", "nox", "-s", "baseline", "--", "--envdir", str(ENVDIR)],
        cwd=repo,
        env=snapshot.offline_env(),
        timeout=helpers.PIPELINE_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "baseline: lint: 2 finding(s) recorded, 2 added" in result.stdout
    assert "baseline: sast: 1 finding(s) recorded, 1 added" in result.stdout
    assert "baseline: secrets: 1 finding(s) recorded, 1 added" in result.stdout
    shutil.rmtree(repo / "reports")
    commit_all(repo, "Baseline the debt")
    return repo


def branch(repo: Path, name: str) -> None:
    git.output("switch", "-q", "main", cwd=repo)
    git.output("switch", "-q", "-c", name, cwd=repo)


def pipeline(repo: Path, *args: str) -> tuple[int, str, dict[str, dict]]:
    shutil.rmtree(repo / "reports", ignore_errors=True)
    result = helpers.run_pipeline(repo, ENVDIR, *args)
    record = json.loads((repo / "reports/pipeline.json").read_text(encoding="utf-8"))
    return result.returncode, result.stdout + result.stderr, {g["gate"]: g for g in record["gates"]}


def debt(gates: dict[str, dict]) -> dict[str, dict]:
    return {name: gates[name]["debt"] for name in SCANS}


def test_full_mode_on_main_reports_the_debt_and_passes(indebted: Path) -> None:
    branch(indebted, "full")
    code, output, gates = pipeline(indebted)
    assert code == 0, output[-4000:]
    assert debt(gates)["lint"] == {"new": 0, "existing": 2, "fixed": 0}
    assert debt(gates)["sast"] == {"new": 0, "existing": 1, "fixed": 0}
    assert debt(gates)["secrets"] == {"new": 0, "existing": 1, "fixed": 0}
    summary = (indebted / "reports/summary.md").read_text(encoding="utf-8")
    assert "| lint | passed |" in summary and " 0 / 2 / 0 " in summary


def test_a_pull_request_fails_on_its_new_findings_only(indebted: Path) -> None:
    branch(indebted, "new-findings")
    write(indebted, "scripts/new.py", NEW)
    write(indebted, "scripts/cloud2.py", f'"""Cloud 2."""\n\nSECOND_KEY_ID = "{key_id()}"\n')
    commit_all(indebted, "More scripts")
    code, output, gates = pipeline(indebted, "--base", "main", "--keep-going")
    assert code == 1, output[-4000:]
    blocking = {name: {(f["rule"], f["path"]) for f in gates[name]["blocking"]} for name in SCANS}
    assert blocking["lint"] == {("S113", "scripts/new.py")}
    assert blocking["sast"] == {("subprocess-shell-true", "scripts/new.py")}
    assert blocking["secrets"] == {("aws-access-token", "scripts/cloud2.py")}
    assert gates["lint"]["coverage"]["changed"] == 2
    assert "scanned 2 of 2 changed of" in " ".join(gates["lint"]["notes"])


def test_a_pull_request_moving_old_findings_passes(indebted: Path) -> None:
    branch(indebted, "move")
    moved = "\n\ndef again(url: str) -> bytes:\n    return requests.get(url).content\n"
    assert moved in LEGACY
    write(indebted, "scripts/legacy.py", LEGACY.replace(moved, ""))
    write(indebted, "scripts/moved.py", '"""Moved."""\n\nimport requests\n' + moved)
    commit_all(indebted, "Move a function")
    code, output, gates = pipeline(indebted, "--base", "main")
    assert code == 0, output[-4000:]
    assert debt(gates)["lint"] == {"new": 0, "existing": 2, "fixed": 0}


def test_a_pull_request_fixing_an_old_finding_reports_it_fixed(indebted: Path) -> None:
    branch(indebted, "fix")
    fixed = LEGACY.replace(
        "\n\ndef shell(command: str) -> int:\n    return subprocess.call(command, shell=True)\n", ""
    ).replace("import subprocess\n\n", "")
    write(indebted, "scripts/legacy.py", fixed)
    commit_all(indebted, "Drop the shell helper")
    code, output, gates = pipeline(indebted, "--base", "main")
    assert code == 0, output[-4000:]
    assert debt(gates)["lint"] == {"new": 0, "existing": 2, "fixed": 0}
    assert debt(gates)["sast"] == {"new": 0, "existing": 0, "fixed": 1}
    assert "fixed: subprocess-shell-true (was in scripts/legacy.py)" in gates["sast"]["notes"]
