"""The hash locks against the pins they were generated from, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from tools import locks
from tools.deps import pins
from tools.errors import LockError


def test_every_lock_matches_its_pins() -> None:
    assert [lock.name for lock in locks.stale(locks.all_locks())] == []


def test_a_bumped_pin_makes_every_lock_stale(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"ruff==' in pyproject
    bumped = tmp_path / "pyproject.toml"
    bumped.write_text(pyproject.replace('"ruff==', '"ruff>='), encoding="utf-8")
    # The locks are resolved together: a new ruff could move any shared dependency.
    every = locks.all_locks(bumped)
    assert locks.stale(every) == every


def test_every_package_has_one_version_in_every_lock() -> None:
    """One resolution: pip-audit audits one set of the pipeline's pins."""
    every = locks.all_locks()
    assert locks.disagreements(every) == {}
    assert len({pin.name for lock in every for pin in pins.read(lock.path)}) > 50


def test_two_versions_of_a_package_are_a_disagreement(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("click==8.4.2 \\\n    --hash=sha256:00\n", encoding="utf-8")
    second.write_text("Click==8.5.1 \\\n    --hash=sha256:00\n", encoding="utf-8")
    split = locks.disagreements([locks.Lock("a", first, ()), locks.Lock("b", second, ())])
    assert split == {"click": ["8.4.2", "8.5.1"]}


def test_a_lock_without_its_digest_is_stale(tmp_path: Path) -> None:
    lock = locks.Lock("lint", tmp_path / "lint.txt", ("ruff==1.0",))
    lock.path.write_text("ruff==1.0 --hash=sha256:00\n", encoding="utf-8")
    assert locks.stale([lock]) == [lock]


def test_the_check_command_passes_on_the_repository() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.locks", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "locks match their pins and agree" in result.stdout


def test_another_python_makes_every_lock_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    every = locks.all_locks()
    assert locks.stale(every) == []
    monkeypatch.setattr(locks, "PYTHON_VERSION", "3.99")
    assert locks.stale(every) == every


@pytest.mark.parametrize(
    "project",
    [
        "",  # no [project] at all
        '[project]\nname = "x"\nversion = "1"\n',  # no dependencies
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["flask>=2"]\n',
    ],
)
def test_only_the_pipelines_groups_are_locked(tmp_path: Path, project: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        project
        + "[dependency-groups]\n"
        + 'test = ["pytest>=8"]\n'  # a group of the project's own, named like a gate
        + 'lint = ["flake8"]\n'
        + 'pipeline-lint = ["ruff==0.17.6"]\n'
        + 'pipeline-test = ["pytest==9.2.0", {include-group = "pipeline-lint"}]\n',
        encoding="utf-8",
    )
    found = {lock.name: lock for lock in locks.all_locks(pyproject)}
    assert set(found) == {"pipeline-lint", "pipeline-test"}
    assert found["pipeline-test"].path == locks.LOCK_DIR / "test.txt"
    assert found["pipeline-test"].pins == ("pytest==9.2.0", "ruff==0.17.6")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[project\n", "cannot read"),
        ('[dependency-groups]\ntest = ["pytest"]\n', r"has no pipeline-\* dependency group"),
        ("dependency-groups = 3\n", "is not a table"),
    ],
)
def test_a_pyproject_without_pipeline_groups_is_one_line(
    tmp_path: Path, text: str, said: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text, encoding="utf-8")
    with pytest.raises(LockError, match=said):
        locks.all_locks(pyproject)
