"""`python -m tools.gates.lint`: real ruff and zizmor on a throwaway project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ROOT, run_gate

CLEAN = '"""A clean module."""\n\n\ndef double(value: int) -> int:\n    return value * 2\n'
EVAL = (
    '"""Plugin loading."""\n\n\ndef load(expression: str) -> object:\n    return eval(expression)\n'
)
NO_TIMEOUT = (
    '"""Fetching."""\n\nimport requests\n\n\ndef fetch(url: str) -> bytes:\n'
    "    return requests.get(url).content\n"
)
UNFORMATTED = '"""Spacing."""\n\nVALUE = {  "a":1 }\n'
UNPINNED = (
    "on: push\n"
    "permissions: {}\n"
    "jobs:\n"
    "  build:\n"
    "    runs-on: ubuntu-24.04\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "        with:\n"
    "          persist-credentials: false\n"
)


def make_project(where: Path, files: dict[str, str]) -> Path:
    (where / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text, encoding="utf-8")
    return where


def test_clean_code_passes_with_its_reports(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"src/clean.py": CLEAN})
    result = run_gate("lint", project)
    assert result.code == 0, result.stdout + result.stderr
    assert result.record["status"] == "passed"
    assert result.record["reports"] == ["reports/lint.sarif"]


def test_each_tool_reports_its_own_findings_in_one_run(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "src/plugins.py": NO_TIMEOUT,
            "src/spacing.py": UNFORMATTED,
            ".github/workflows/build.yml": UNPINNED,
        },
    )
    result = run_gate("lint", project)
    assert result.code == 1, result.stdout + result.stderr
    blocking = {(item["rule"], item["path"], item["line"]) for item in result.record["blocking"]}
    assert ("S113", "src/plugins.py", 7) in blocking
    assert ("ruff-format", "src/spacing.py", 3) in blocking
    # Paths relative to the checkout, as GitHub resolves them, not to .github/.
    assert ("zizmor/unpinned-uses", ".github/workflows/build.yml", 7) in blocking
    zizmor = json.loads((project / "reports/zizmor.sarif").read_text(encoding="utf-8"))
    uris = {
        location["physicalLocation"]["artifactLocation"]["uri"]
        for result in zizmor["runs"][0]["results"]
        for location in result["locations"]
    }
    assert uris == {".github/workflows/build.yml"}
    assert sorted(result.record["reports"]) == ["reports/lint.sarif", "reports/zizmor.sarif"]


def test_the_policy_names_the_s_rules_that_do_not_block(tmp_path: Path) -> None:
    # This project's [tool.pipeline.lint] ignore holds S307, with its reason: the
    # Semgrep pack's eval-of-dynamic-code stands for it. Without it, S307 blocks.
    project = make_project(tmp_path, {"src/plugins.py": EVAL})
    assert run_gate("lint", project).code == 0
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    result = run_gate("lint", project)
    assert result.code == 1
    assert [f["rule"] for f in result.record["blocking"]] == ["S307"]


def test_lint_fits_the_repository_and_changes_no_file(tmp_path: Path) -> None:
    # A project whose ruff fixes on every run, selects no S rule and wants short
    # lines; its tests assert; its README shows badly formatted Python.
    config = "[tool.ruff]\nfix = true\nline-length = 60\n\n[tool.ruff.lint]\nselect = ['E']\n"
    files = {
        "pyproject.toml": config,
        "src/app.py": NO_TIMEOUT.replace("import requests\n", "import os, requests\n"),
        "tests/test_app.py": "def test_truth() -> None:\n    assert True\n",
        "README.md": "# App\n\n```python\nVALUE = {  'a':1 }\n```\n",
        # The pipeline's own file: linted with the pipeline's configuration (100 columns).
        "noxfile.py": f'"""Sessions."""\n\nNOTE = "{"x" * 70}"\n',
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_gate("lint", tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    blocking = {(item["rule"], item["path"]) for item in result.record["blocking"]}
    # The S rules run whatever `select` says; the project's own E rules too.
    assert blocking == {("S113", "src/app.py"), ("E401", "src/app.py")}, blocking
    # Nothing was fixed or reformatted, whatever `fix = true` asks.
    for name, text in files.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text, name


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[tool.ruff]\nline-length = 'wide'\n", "lint: error: ruff check failed (exit 2)"),
        # Not TOML at all: the gate's own settings cannot be read either.
        ("[tool.ruff\n", "lint: error: cannot read pyproject.toml"),
    ],
)
def test_a_config_ruff_cannot_read_is_one_error_line(
    tmp_path: Path, config: str, expected: str
) -> None:
    project = make_project(tmp_path, {"src/clean.py": CLEAN})
    (project / "pyproject.toml").write_text(config, encoding="utf-8")
    result = run_gate("lint", project)
    assert result.code == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.record["status"] == "failed"


def test_a_file_ruff_cannot_parse_is_named_in_the_error(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"src/broken.py": "def broken(:\n    pass\n"})
    result = run_gate("lint", project)
    assert result.code == 2, result.stdout + result.stderr
    assert "lint: error: ruff format failed (exit 2): src/broken.py:1 invalid-syntax" in (
        result.stderr
    )
