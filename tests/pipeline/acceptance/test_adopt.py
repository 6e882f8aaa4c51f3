"""`nox -s adopt -- PATH` on repositories of the shapes users bring, each built
here: adopted with the one command and no hand edit, the pipeline's verdicts
there are exactly the expected ones, and the checkout is as the run found it.
Then: adopting twice changes nothing, and an upgrade from an older release of
the pipeline keeps the user's settings and edits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import commit, git, new_repo, poetry_lock, run

from tools import snapshot

ROOT = snapshot.ROOT
ENVDIR = Path(os.environ.get("ACCEPTANCE_ENVDIR", ROOT / ".nox"))
TIMEOUT_S = 1200

SERVICE = '''"""A small service."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
'''
LIBRARY = '''"""A small library."""


def add(left: int, right: int) -> int:
    return left + right


def scale(value: int, factor: int) -> int:
    if factor < 0:
        raise ValueError("factor must not be negative")
    return value * factor
'''
TEST_ADD = """from {package} import add


def test_add() -> None:
    assert add(2, 3) == 5
"""
TEST_SCALE = """import pytest

from {package} import scale


def test_scale() -> None:
    assert scale(2, 3) == 6


def test_negative() -> None:
    with pytest.raises(ValueError):
        scale(2, -1)
"""
UV_PYPROJECT = """[project]
name = "adder"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = []

# The project's own test group: the pipeline's groups are named pipeline-*.
[dependency-groups]
test = ["pytest==9.2.0"]

[tool.ruff]
# ruff may fix on every run here: the lint gate must still change nothing.
fix = true

[tool.ruff.lint]
select = ["E", "F", "I"]
"""
POETRY_PYPROJECT = """[tool.poetry]
name = "poet"
version = "0.1.0"
description = "A library managed with poetry"
authors = ["Someone <someone@example.invalid>"]

[tool.poetry.dependencies]
python = "^3.11"
flask = "^2.2"
"""
POETRY_LOCK = poetry_lock(("flask", "2.2.4"))
SHAPES = {
    # A flat application on `master`, an unhashed requirements.txt, no tests.
    "flat Flask application without tests": (
        "master",
        {"app.py": SERVICE, "requirements.txt": "flask==3.1.3\n"},
        {"test": "no tests collected"},
    ),
    "src/ library with uv.lock, its own test group and ruff fix = true": (
        "main",
        {
            "pyproject.toml": UV_PYPROJECT,
            "src/adder/__init__.py": LIBRARY,
            "tests/test_add.py": TEST_ADD.format(package="adder"),
            "tests/test_scale.py": TEST_SCALE.format(package="adder"),
        },
        {},
    ),
    # Its lock pins flask 2.2.4, which has a published advisory: a true finding.
    "library with poetry.lock": (
        "main",
        {
            "pyproject.toml": POETRY_PYPROJECT,
            "poetry.lock": POETRY_LOCK,
            "poet/__init__.py": LIBRARY,
            "tests/test_add.py": TEST_ADD.format(package="poet"),
            "tests/test_scale.py": TEST_SCALE.format(package="poet"),
        },
        {"deps": "PYSEC-2023-62"},
    ),
    # Half of the code is tested; the .coveragerc tries to wave that through.
    "project whose .coveragerc lowers the threshold": (
        "main",
        {
            "pyproject.toml": '[project]\nname = "half"\nversion = "0.1.0"\n',
            ".coveragerc": "[report]\nfail_under = 0\n\n[run]\nsource = elsewhere\n",
            "src/half/__init__.py": LIBRARY,
            "tests/test_add.py": TEST_ADD.format(package="half"),
        },
        {"test": "coverage-under-threshold"},
    ),
}


def adopt(target: Path, *args: str, source: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The one command, from a clone of the pipeline, offline."""
    argv = [
        sys.executable,
        "-m",
        "nox",
        "-f",
        str(source / "noxfile.py"),
        "-s",
        "adopt",
        "--envdir",
        str(ENVDIR),
        "--",
        str(target),
        *args,
    ]
    return run(argv, cwd=source, env=snapshot.offline_env(), timeout=TIMEOUT_S)


def user_repo(path: Path, branch: str, files: dict[str, str]) -> Path:
    repo = new_repo(path)
    if branch != "main":
        git(repo, "checkout", "-q", "-b", branch)
    commit(repo, "The project", files)
    return repo


def with_uv_lock(repo: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    subprocess.run([str(uv), "lock", "-q"], cwd=repo, check=True, timeout=300)
    commit(repo, "Lock", {})


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=all")


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_each_shape_is_adopted_with_one_command(tmp_path: Path, shape: str, verdict) -> None:
    branch, files, failures = SHAPES[shape]
    repo = user_repo(tmp_path / "repo", branch, files)
    if "uv" in shape:
        with_uv_lock(repo)
    before = {name: (repo / name).read_bytes() for name in git(repo, "ls-files").splitlines()}

    result = adopt(repo, "--", "--envdir", str(ENVDIR), "--keep-going")
    output = result.stdout + result.stderr

    assert "adopt: found source:" in output, output[-3000:]
    assert "UNRESOLVED" not in output, output[-3000:]
    record = json.loads((repo / "reports/pipeline.json").read_text(encoding="utf-8"))
    gates = {gate["gate"]: gate for gate in record["gates"]}
    failed = {name for name, gate in gates.items() if gate["status"] == "failed"}
    assert failed == set(failures), output[-4000:]
    assert result.returncode == (1 if failures else 0), output[-3000:]
    for gate, reason in failures.items():
        ids = (
            " ".join(f["rule"] for f in gates[gate]["blocking"])
            + " "
            + (gates[gate]["reason"] or "")
        )
        assert reason in ids, gates[gate]
    for name, gate in gates.items():
        assert name in failed or gate["status"] == "passed", gate
    # Each gate says what it covered.
    assert re.search(r"^adopt: lint: passed \(\d+ of \d+ files\)$", output, re.M), output[-3000:]
    assert re.search(r"^adopt: secrets: passed \(\d+ of \d+ commits\)$", output, re.M), output[
        -3000:
    ]
    # The user's bytes are all still there, and the run changed no file of theirs.
    for name, content in before.items():
        if name != "pyproject.toml":
            assert (repo / name).read_bytes() == content, name
    if "pyproject.toml" in before:
        # Every line of theirs is still there, in their order.
        adopted = iter((repo / "pyproject.toml").read_text(encoding="utf-8").splitlines())
        theirs = before["pyproject.toml"].decode().splitlines()
        assert all(any(line == mine for mine in adopted) for line in theirs), theirs
    changed = {line[3:] for line in status(repo).splitlines()}
    assert not {name for name in changed if name in before and name != "pyproject.toml"}
    assert not [name for name in changed if name.startswith(("reports/", ".nox/"))]
    settings = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert settings["pipeline"]["source"], settings
    if branch != "main":
        workflow = (repo / ".github/workflows/pipeline.yml").read_text(encoding="utf-8")
        assert f'branches: ["{branch}"]' in workflow
    verdict(
        f"adopt: {shape}",
        ", ".join(sorted(failures)) or "none",
        ", ".join(sorted(failed)) or "none",
        "; ".join(failures.values()) or "-",
        failed == set(failures),
    )


def test_adopting_twice_changes_nothing_and_bad_input_changes_nothing(tmp_path: Path) -> None:
    repo = user_repo(
        tmp_path / "repo", "main", SHAPES["project whose .coveragerc lowers the threshold"][1]
    )
    first = adopt(repo, "--no-run")
    assert first.returncode == 0, first.stdout + first.stderr
    commit(repo, "Adopt the pipeline", {})
    second = adopt(repo, "--no-run")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout
    assert status(repo) == ""

    dirty = tmp_path / "dirty"
    user_repo(dirty, "main", {"app.py": SERVICE})
    (dirty / "app.py").write_text(SERVICE + "# edited\n", encoding="utf-8")
    broken = user_repo(tmp_path / "broken", "main", {"pyproject.toml": "[project\n", "a.py": ""})
    untabled = user_repo(tmp_path / "untabled", "main", {"pyproject.toml": "tool = 3\n"})
    plain = tmp_path / "plain"
    plain.mkdir()
    no_python = user_repo(tmp_path / "js", "main", {"index.js": "console.log(1)\n"})
    for target, says in (
        (dirty, "uncommitted changes"),
        (broken, "is not TOML"),
        (untabled, "tool must be a table"),
        (plain, "not the top of a git repository"),
        (no_python, "holds no Python"),
    ):
        result = adopt(target, "--no-run")
        output = result.stdout + result.stderr
        lines = [line for line in output.splitlines() if line.startswith("adopt:")]
        assert result.returncode != 0 and len(lines) == 1 and says in lines[0], output
        assert "Traceback" not in output
    assert status(dirty) == "M app.py" and status(broken) == ""

    # What is the user's is never overwritten: listed, one action each, nothing written.
    theirs = user_repo(
        tmp_path / "theirs",
        "main",
        {
            "app.py": SERVICE,
            "noxfile.py": "import nox\n",
            "tools/release.py": "VERSION = 1\n",
            "pyproject.toml": '[dependency-groups]\npipeline-lint = ["ruff==0.1.0"]\n',
        },
    )
    clash = adopt(theirs, "--no-run")
    output = clash.stdout + clash.stderr
    assert clash.returncode == 1, output
    for what in (
        "noxfile.py: noxfile.py is yours",
        "tools/: the pipeline's code",
        "pyproject.toml [dependency-groups] pipeline-lint: rename your group",
    ):
        assert f"UNRESOLVED {what}" in output, output
    assert "nothing written" in output and status(theirs) == ""


def source_at(tmp_path: Path) -> tuple[Path, str, str]:
    """A clone of the pipeline with an older release (a commit made here) and HEAD."""
    source = tmp_path / "pipeline"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(source)], check=True, timeout=120)
    for key, value in (("user.name", "Pipeline"), ("user.email", "pipeline@example.invalid")):
        git(source, "config", key, value)
    newer = git(source, "rev-parse", "HEAD")
    clock = (source / "tools/clock.py").read_text(encoding="utf-8")
    rules = (source / ".semgrep/rules.yml").read_text(encoding="utf-8")
    older = commit(
        source,
        "An older release",
        {
            "tools/clock.py": clock + "# an older release's line\n",
            ".semgrep/rules.yml": rules.replace("rules:", "# older header\nrules:", 1),
        },
    )
    return source, older, newer


def test_an_upgrade_keeps_the_users_settings_and_edits(tmp_path: Path) -> None:
    source, older, newer = source_at(tmp_path)
    repo = user_repo(
        tmp_path / "repo",
        "main",
        SHAPES["src/ library with uv.lock, its own test group and ruff fix = true"][1],
    )
    git(source, "checkout", "-q", older)
    assert adopt(repo, "--no-run", source=source).returncode == 0
    commit(repo, "Adopt the pipeline", {})
    pyproject = (repo / "pyproject.toml").read_text(encoding="utf-8")
    own_rule = "\n# our own addition to the pack\n"
    commit(
        repo,
        "Tune the pipeline",
        {
            "pyproject.toml": pyproject.replace(
                "[tool.pipeline]\n", "[tool.pipeline]\nsemgrep-packs = []\n"
            ),
            ".semgrep/rules.yml": (repo / ".semgrep/rules.yml").read_text(encoding="utf-8")
            + own_rule,
        },
    )

    git(source, "checkout", "-q", newer)
    result = adopt(repo, "--no-run", source=source)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert (repo / "tools/clock.py").read_bytes() == (source / "tools/clock.py").read_bytes()
    assert "tools/clock.py: updated" in output
    merged = (repo / ".semgrep/rules.yml").read_text(encoding="utf-8")
    assert own_rule in merged and "# older header" not in merged, merged
    assert ".semgrep/rules.yml: merged with your edit" in output
    assert "semgrep-packs = []" in (repo / "pyproject.toml").read_text(encoding="utf-8")
    assert json.loads((repo / ".pipeline/adopted.json").read_text())["commit"] == newer

    # The same line edited on both sides: a conflict, listed, and exit 1.
    commit(repo, "Upgrade", {})
    clock = (repo / "tools/clock.py").read_text(encoding="utf-8")
    commit(repo, "Edit the pipeline", {"tools/clock.py": clock + "# ours\n"})
    commit(source, "A newer release", {"tools/clock.py": clock + "# theirs\n"})
    clash = adopt(repo, "--no-run", source=source)
    assert clash.returncode == 1
    assert "UNRESOLVED tools/clock.py: resolve the conflict markers" in clash.stdout + clash.stderr
    assert "<<<<<<< tools/clock.py (yours)" in (repo / "tools/clock.py").read_text(encoding="utf-8")
