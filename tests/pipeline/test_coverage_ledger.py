"""lint and sast scan every tracked file and prove it: "scanned N of N", every
file left out listed with its reason, and a file their tools could not analyse
failing the gate.

Each way a pull request hid code from the tools (a file too large for Semgrep's
default, a tracked file under an ignored path, a link into an excluded folder,
a name that is not UTF-8) is planted in a real git repository with the real
tools; the gate must still find the vulnerable line, or fail naming the file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import ROOT, GateRun, clean_env, git, new_repo, run_gate

from tools.gates.sast import MAX_TARGET_BYTES, QUIET_ENV

JWT = (
    "import jwt\n\n\ndef claims(token: str, key: str) -> dict:\n"
    '    return jwt.decode(token, key, options={"verify_signature": False})\n'
)
SHELL = (
    "import subprocess\n\n\ndef run(command: str) -> int:\n"
    "    return subprocess.call(command, shell=True)\n"
)
CLEAN = '"""A clean module."""\n\n\ndef double(value: int) -> int:\n    return value * 2\n'
PYPROJECT = '[project]\nname = "demo"\nversion = "0.1.0"\n\n[tool.ruff]\nline-length = 100\n'


def project(path: Path, files: dict[str, str | bytes]) -> Path:
    """A repository with the pipeline's Semgrep setup and ``files``, all tracked
    (``git add -f``: nothing any ignore file says takes them away)."""
    repo = new_repo(path)
    shutil.copytree(ROOT / ".semgrep", repo / ".semgrep")
    (repo / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for name, content in {"src/demo/__init__.py": CLEAN, **files}.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    git(repo, "add", "-f", "-A")
    git(repo, "commit", "-q", "-m", "The project")
    return repo


def sast(repo: Path) -> GateRun:
    return run_gate("sast", repo, env=clean_env(**QUIET_ENV, PIPELINE_OFFLINE="1"))


def lint(repo: Path) -> GateRun:
    return run_gate("lint", repo)


def flagged(run: GateRun) -> set[tuple[str, str]]:
    return {(b["path"], b["rule"]) for b in run.record["blocking"]}


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Vulnerable code placed where the tools' own walks did not look."""
    padding = "# " + "x" * 98 + "\n"
    repo = project(
        tmp_path_factory.mktemp("hidden") / "repo",
        {
            # Over Semgrep's 1 MB default: skipped unannounced before.
            "src/demo/big.py": padding * 12_000 + JWT,
            # Tracked, but named by .gitignore: a file, and a whole folder.
            ".gitignore": "src/demo/ignored.py\ngenerated/\n",
            "src/demo/ignored.py": SHELL,
            "generated/tokens.py": JWT,
            # A module that is a link into the rule fixtures, which the gates exclude.
            ".semgrep/tests/planted.py": JWT,
        },
    )
    (repo / "src/demo/linked.py").symlink_to("../../.semgrep/tests/planted.py")
    # A chain of links, ending in an excluded folder of the project's own.
    (repo / "vendor").mkdir()
    (repo / "vendor/shell.py").write_text(SHELL, encoding="utf-8")
    (repo / "src/demo/first.py").symlink_to("second.py")
    (repo / "src/demo/second.py").symlink_to("../../vendor/shell.py")
    with (repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[tool.pipeline.sast]\nexclude = { "vendor/" = "third-party code here" }\n')
    git(repo, "add", "-f", "-A")
    git(repo, "commit", "-q", "-m", "Links")
    return repo


@pytest.fixture(scope="module")
def hidden_sast(hidden: Path) -> GateRun:
    return sast(hidden)


def test_sast_finds_what_the_tools_own_walk_skipped(hidden_sast: GateRun) -> None:
    assert hidden_sast.code == 1, hidden_sast.stderr
    assert flagged(hidden_sast) >= {
        ("src/demo/big.py", "jwt-decode-without-verification"),
        ("src/demo/ignored.py", "subprocess-shell-true"),
        ("generated/tokens.py", "jwt-decode-without-verification"),
        # Scanned at their targets: a link makes excluded code part of the project.
        (".semgrep/tests/planted.py", "jwt-decode-without-verification"),
        ("vendor/shell.py", "subprocess-shell-true"),
    }


def test_sast_says_what_it_covered(hidden_sast: GateRun) -> None:
    notes = hidden_sast.record["notes"]
    coverage = hidden_sast.record["coverage"]
    assert notes[0] == f"scanned {coverage['scanned']} of {coverage['total']} tracked files, " + (
        f"{coverage['excluded_count']} excluded by policy"
    )
    assert "src/demo/linked.py links to .semgrep/tests/planted.py: scanned at its target" in notes
    assert "src/demo/first.py links to vendor/shell.py: scanned at its target" in notes


def test_lint_finds_the_ignored_file_too(hidden: Path) -> None:
    run = lint(hidden)
    assert run.code == 1, run.stderr
    assert ("src/demo/ignored.py", "S602") in flagged(run)


@pytest.fixture(scope="module")
def unreadable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the tools cannot analyse: each must fail the gate, named."""
    repo = project(
        tmp_path_factory.mktemp("unreadable") / "repo",
        {"src/demo/huge.py": "# " + "y" * (MAX_TARGET_BYTES + 10) + "\n"},
    )
    outside = repo.parent / "outside.py"
    outside.write_text(JWT, encoding="utf-8")
    (repo / "src/demo/away.py").symlink_to(outside)
    os.makedirs(repo / "src/demo", exist_ok=True)
    (repo / os.fsdecode(b"src/demo/bad\xff.py")).write_text(SHELL, encoding="utf-8")
    git(repo, "add", "-f", "-A")
    git(repo, "commit", "-q", "-m", "Unreadable")
    return repo


def test_sast_fails_on_what_it_cannot_analyse(unreadable: Path) -> None:
    run = sast(unreadable)
    assert run.code == 1, run.stderr
    skipped = {(s["path"], s["why"]) for s in run.record["coverage"]["skipped"]}
    assert skipped == {
        ("src/demo/huge.py", f"over {MAX_TARGET_BYTES // 1_000_000} MB, the gate's size limit"),
        ("src/demo/away.py", "a link out of the repository"),
        ("src/demo/bad\\xff.py", "its name is not UTF-8 text"),
    }
    assert {rule for _path, rule in flagged(run)} == {"not-analysed"}


def test_lint_fails_on_what_it_cannot_analyse(unreadable: Path) -> None:
    run = lint(unreadable)
    assert run.code == 1, run.stderr
    assert {b["path"] for b in run.record["blocking"] if b["rule"] == "not-analysed"} == {
        "src/demo/away.py",
        "src/demo/bad\\xff.py",
    }


def test_a_skip_accepted_with_a_reason_passes_and_is_listed(unreadable: Path) -> None:
    with (unreadable / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            "\n[tool.pipeline.lint]\naccept = { "
            '"src/demo/away.py" = "a shared module, linted where it lives", '
            '"src/demo/bad*" = "a legacy name, renamed in the next release" }\n'
        )
    run = lint(unreadable)
    assert run.code == 0, run.stderr
    assert (
        "not analysed: src/demo/away.py: a link out of the repository "
        "(accepted: a shared module, linted where it lives)"
    ) in run.record["notes"]


def test_the_clean_project_is_scanned_whole(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo", {"src/demo/util.py": CLEAN})
    for run in (sast(repo), lint(repo)):
        assert run.code == 0, run.stderr
        coverage = run.record["coverage"]
        assert coverage["scanned"] == coverage["total"] - coverage["excluded_count"] > 0
        assert run.record["notes"][0].startswith(f"scanned {coverage['scanned']} of ")
