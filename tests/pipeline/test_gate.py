"""The edge every gate shares: verdicts, exit codes and the record."""

from __future__ import annotations

import argparse
import json
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from tools import sarif, text
from tools.errors import GateError
from tools.gates import Gate, Severity
from tools.gates._gate import EXIT_ERROR, EXIT_FINDINGS, EXIT_PASSED, Outcome, main
from tools.toolrun import venv_state
from tools.verdict import Finding

DEMO = Gate(
    name="demo",
    requires=(),
    timeout_s=10,
    severity=Severity.LOW,
    reports=(Path("reports/demo.sarif"),),
    bare=lambda _bench: [],
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def record() -> dict:
    return json.loads(Path("reports/gates/demo.json").read_text(encoding="utf-8"))


def gate(run: object) -> int:
    return main(DEMO, run, argparse.ArgumentParser(), [])  # type: ignore[arg-type]


def test_clean_outcome_passes() -> None:
    warning = Finding("W1", "warning", "a.py", 1, "meh", blocking=False)
    assert gate(lambda _args: Outcome(findings=[warning])) == EXIT_PASSED
    assert (record()["status"], record()["findings"], record()["reason"]) == (
        "passed",
        {"warning": 1},
        None,
    )


def test_blocking_finding_fails_with_its_rule() -> None:
    error = Finding("E1", "error", "a.py", 3, "bad", blocking=True)
    assert gate(lambda _args: Outcome(findings=[error])) == EXIT_FINDINGS
    assert record()["reason"] == "1 blocking finding(s): E1"
    assert record()["blocking"] == [{"rule": "E1", "path": "a.py", "line": 3, "message": "bad"}]


def test_gate_error_is_an_error_not_findings(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(_context: object) -> Outcome:
        raise GateError("the tool wrote no report: rerun it")

    assert gate(broken) == EXIT_ERROR
    assert record()["reason"] == "the tool wrote no report: rerun it"
    assert "demo: error: the tool wrote no report" in capsys.readouterr().err


def test_a_crash_is_a_recorded_error_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    def crashing(_context: object) -> Outcome:
        raise KeyError("surprise")

    assert gate(crashing) == EXIT_ERROR
    assert record()["status"] == "failed"
    assert record()["reason"] == "internal error: KeyError: 'surprise'"
    assert "Traceback" not in capsys.readouterr().err


def test_rule_messages_replace_what_a_tool_matched() -> None:
    log = {
        "runs": [
            {
                "tool": {
                    "driver": {
                        "rules": [
                            {
                                "id": "r1",
                                "fullDescription": {"text": "Subprocess built from $CMD"},
                                "defaultConfiguration": {"level": "error"},
                            }
                        ]
                    }
                },
                "results": [
                    {
                        "ruleId": "r1",
                        "message": {"text": "Subprocess built from rm -rf build"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "a.py"},
                                    "region": {"startLine": 7},
                                }
                            }
                        ],
                    }
                ],
            }
        ]
    }
    (found,) = sarif.findings(log, blocking=lambda level: level == "error", rule_messages=True)
    assert (found.rule, found.level, found.line, found.blocking) == ("r1", "error", 7, True)
    assert found.message == "Subprocess built from $CMD"
    (raw,) = sarif.findings(log, blocking=lambda _level: True)
    assert "rm -rf build" in raw.message


def test_gate_state_lives_in_the_venv_and_nowhere_else() -> None:
    assert venv_state(".state") == Path(sys.prefix) / ".state"
    # The interpreter this venv was made from: no venv, so nothing is kept.
    outside = subprocess.run(
        [
            sys._base_executable,
            "-c",
            "from tools.toolrun import venv_state; print(venv_state('.state'))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (outside.returncode, outside.stdout.strip()) == (0, "None"), outside.stderr


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("workflows/ci.yml", ".github/workflows/ci.yml"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("/repo/.github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("file:///repo/.github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("https://example.invalid/ci.yml", "https://example.invalid/ci.yml"),
    ],
)
def test_locations_relative_to_the_scanned_folder_become_relative_to_the_checkout(
    uri: str, expected: str
) -> None:
    log = {
        "runs": [
            {
                "results": [
                    {"locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]}
                ],
                "artifacts": [{"location": {"uri": uri}}],
            }
        ]
    }
    run = sarif.relativize(log, Path("/repo"), scanned=Path(".github"))["runs"][0]
    assert sarif.first_location(run["results"][0])[0] == expected
    assert run["artifacts"][0]["location"]["uri"] == expected


def test_masking_keeps_file_paths_and_hides_keys() -> None:
    # Built at run time: a 40-character base64 key with slashes, as cloud keys are.
    alphabet = string.ascii_letters + string.digits
    segments = ["".join(secrets.choice(alphabet) for _ in range(12)) for _ in range(3)]
    key = "Ab1/".join(segments)
    path = "requests/packages/oauthlib/oauth1/rfc5849/parameters.py"
    shown = text.mask_secrets(f"{path}:32 signed with {key}")
    assert shown == f"{path}:32 signed with ***"
