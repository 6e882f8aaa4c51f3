"""The hash locks against the pins they were generated from, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import locks, pins

ROOT = Path(__file__).resolve().parent.parent


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
    """The test venv runs the service on exactly what requirements.txt ships."""
    versions: dict[str, set[str]] = {}
    for lock in locks.all_locks():
        for pin in pins.read(lock.path):
            versions.setdefault(pin.name, set()).add(pin.version)
    assert {name: found for name, found in versions.items() if len(found) > 1} == {}
    assert len(versions) > 50


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
    assert "locks match their pins" in result.stdout
