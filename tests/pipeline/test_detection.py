"""`nox -s detection`, the measure the rule pack's figures come from: the real
Semgrep and ruff on annotated fixtures made here, and the table it prints."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import ROOT, run

RULE = """\
rules:
  - id: no-danger
    severity: ERROR
    languages: [python]
    message: danger() is dangerous
    pattern: danger(...)
"""
# Two vulnerable lines (one the rule misses), three safe ones (one the rule
# flags, one ruff's S101 flags): every cell of the table is known.
FIXTURE = """\
import os

# ruleid: no-danger
danger(os.environ["X"])
# ruleid: no-danger
also_danger(os.environ["X"])
# ok: no-danger
harmless(os.environ["X"])
# ok: no-danger
danger("a fixed argument")
# ok: no-danger
assert os.environ["X"]
"""


def detection(tmp_path: Path, *args: str, rule: str = RULE) -> tuple[int, str, str]:
    (tmp_path / "rules.yml").write_text(rule, encoding="utf-8")
    (tmp_path / "fixtures").mkdir(exist_ok=True)
    (tmp_path / "fixtures/danger.py").write_text(FIXTURE, encoding="utf-8")
    rules, fixtures = str(tmp_path / "rules.yml"), str(tmp_path / "fixtures")
    argv = [sys.executable, "-m", "tools.detection", "--rules", rules, "--fixtures", fixtures]
    result = run([*argv, *args], cwd=ROOT)
    return result.returncode, result.stdout, result.stderr


def row(stdout: str, name: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.startswith(name + " "))


def test_each_line_is_counted_caught_missed_or_flagged(tmp_path: Path) -> None:
    code, stdout, stderr = detection(tmp_path, "--details")
    assert code == 0, stderr
    fixture = tmp_path / "fixtures/danger.py"
    assert row(stdout, "danger") == ["danger", "1/2", "50.0", "%", "2/3", "66.7", "%"]
    assert row(stdout, "overall") == ["overall", "1/2", "50.0", "%", "2/3", "66.7", "%"]
    assert f"  missed  {fixture}:6" in stdout
    assert f"  flagged {fixture}:10 by no-danger" in stdout
    assert f"  flagged {fixture}:12 by S101" in stdout


def test_ignored_ruff_rules_are_not_counted(tmp_path: Path) -> None:
    code, stdout, stderr = detection(tmp_path, "--ruff-ignore", "s101")
    assert code == 0, stderr
    assert "ruff S minus S101" in stdout
    assert row(stdout, "danger") == ["danger", "1/2", "50.0", "%", "1/3", "33.3", "%"]


def test_a_rule_file_semgrep_cannot_load_is_one_error_line(tmp_path: Path) -> None:
    code, stdout, stderr = detection(tmp_path, rule="rules: 3\n")
    assert code == 2
    assert stdout == ""
    [line] = stderr.splitlines()
    assert line.startswith("detection: semgrep exited ")
