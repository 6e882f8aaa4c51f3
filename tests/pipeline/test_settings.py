"""[tool.pipeline]: defaults, values, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, run_gate

from tools import gates, settings
from tools.errors import SettingsError
from tools.settings import DEFAULT_PACKS, Settings, default_timeouts


def load(tmp_path: Path, text: str) -> Settings:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text, encoding="utf-8")
    return settings.load(pyproject)


def test_the_repository_states_the_defaults() -> None:
    loaded = settings.load(ROOT / "pyproject.toml")
    assert loaded.semgrep_packs == DEFAULT_PACKS
    assert loaded.timeouts == default_timeouts()


@pytest.mark.parametrize("text", ["", "[project]\nname = 'x'\n", "[tool.ruff]\nline-length = 1\n"])
def test_without_the_table_every_default_holds(tmp_path: Path, text: str) -> None:
    assert load(tmp_path, text) == Settings()


def test_no_pyproject_at_all_means_defaults(tmp_path: Path) -> None:
    assert settings.load(tmp_path / "pyproject.toml") == Settings()


def test_values_are_read_and_missing_timeouts_keep_their_default(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        '[tool.pipeline]\nsemgrep-packs = ["p/python", " r/custom "]\n'
        "[tool.pipeline.timeouts]\ntest = 90\nsast = 12.5\n",
    )
    assert loaded.semgrep_packs == ("p/python", "r/custom")
    assert loaded.timeout(gates.get("test")) == 90.0
    assert loaded.timeout(gates.get("sast")) == 12.5
    assert loaded.timeout(gates.get("lint")) == gates.get("lint").timeout_s


def test_no_packs_is_allowed(tmp_path: Path) -> None:
    assert load(tmp_path, "[tool.pipeline]\nsemgrep-packs = []\n").semgrep_packs == ()


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[tool.pipeline]\nsemgrep-packs = 'p/python'\n", "semgrep-packs"),
        ("[tool.pipeline]\nsemgrep-packs = ['p/python', 3]\n", "semgrep-packs"),
        ("[tool.pipeline]\nsemgrep-packs = ['']\n", "semgrep-packs"),
        ("[tool.pipeline]\ntimeouts = 30\n", "timeouts"),
        ("[tool.pipeline.timeouts]\ntests = 30\n", "timeouts.tests: no such gate"),
        ("[tool.pipeline.timeouts]\ntest = '30'\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = 0\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = -5\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = true\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = nan\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = inf\n", "timeouts.test"),
        ("[tool.pipeline.timeouts]\ntest = 1e300\n", "timeouts.test"),
        (f"[tool.pipeline.timeouts]\ntest = 1{'0' * 400}\n", "timeouts.test"),
        ("tool = 3\n", "must be a table"),
        ("[tool.pipeline]\nsemgrep_packs = []\n", "unknown key(s): semgrep_packs"),
        ("[tool]\npipeline = 3\n", "must be a table"),
        ("[tool.pipeline\n", "cannot read"),
    ],
)
def test_each_mistake_is_one_line_naming_it(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(SettingsError) as error:
        load(tmp_path, text)
    message = str(error.value)
    assert names in message
    assert "\n" not in message


def test_a_gate_with_broken_settings_fails_with_that_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pipeline.timeouts]\ntest = 'soon'\n", encoding="utf-8"
    )
    result = run_gate("test", tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    assert (
        "test: error: tool.pipeline.timeouts.test must be a number of seconds above 0"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
