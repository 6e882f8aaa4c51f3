"""Holding the line: fingerprints that survive edits around a finding, and the
judgement of new, existing and fixed findings, on the real lint gate's
findings in real git repositories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import commit, new_repo, run_gate

from tools import baseline, fingerprint
from tools.verdict import Finding

LEGACY = '''"""Old scripts."""


def evaluate(text: str) -> object:
    return eval(text)


def again(text: str) -> object:
    return eval(text)
'''
REFORMATTED_CALL = '''"""Old scripts."""


def evaluate(text: str) -> object:
    return eval(
        text
    )


def again(text: str) -> object:
    return eval(text)
'''


def lint(repo: Path) -> dict:
    shutil.rmtree(repo / "reports", ignore_errors=True)
    result = run_gate("lint", repo)
    assert result.code in (0, 1), result.stdout + result.stderr
    return json.loads(result.outputs["reports/gates/lint.findings.json"])


def baselined(tmp_path: Path, files: dict[str, str]) -> Path:
    """A repository whose lint findings of today are its committed baseline."""
    repo = new_repo(tmp_path / "repo")
    commit(repo, "legacy", files)
    report = lint(repo)
    findings = baseline.read_findings(repo / "reports/gates/lint.findings.json")
    shutil.rmtree(repo / "reports")
    document = {
        "schema_version": baseline.SCHEMA_VERSION,
        "gates": {"lint": [entry.to_json() for entry in baseline.entries_of(findings)]},
    }
    commit(repo, "baseline", {baseline.BASELINE: json.dumps(document)})
    assert report["debt"] == {"new": 2, "existing": 0, "fixed": 0}
    return repo


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # Lines shifted above the findings.
        ({"scripts/legacy.py": LEGACY.replace('"""\n', '"""\n\nimport os\n\nos.getcwd()\n', 1)},
         {"new": 0, "existing": 2, "fixed": 0}),
        # The call reformatted over three lines (ruff format's own finding aside).
        ({"scripts/legacy.py": REFORMATTED_CALL}, {"new": 1, "existing": 2, "fixed": 0}),
        # The file renamed.
        ({"scripts/legacy.py": None, "scripts/old.py": LEGACY},
         {"new": 0, "existing": 2, "fixed": 0}),
        # One function moved to another file.
        (
            {
                "scripts/legacy.py": LEGACY.split("\n\n\ndef again", maxsplit=1)[0] + "\n",
                "scripts/moved.py": '"""Moved."""\n\n\ndef again(text: str) -> object:\n'
                "    return eval(text)\n",
            },
            {"new": 0, "existing": 2, "fixed": 0},
        ),
        # A third identical finding in the same file is new: two stay two.
        (
            {"scripts/legacy.py": LEGACY + "\n\ndef third(text: str) -> object:\n"
             "    return eval(text)\n"},
            {"new": 1, "existing": 2, "fixed": 0},
        ),
        # One fixed.
        ({"scripts/legacy.py": LEGACY.split("\n\n\ndef again", maxsplit=1)[0] + "\n"},
         {"new": 0, "existing": 1, "fixed": 1}),
    ],
    ids=["shifted", "reformatted", "renamed", "moved", "a-third-copy", "fixed"],
)  # fmt: skip
def test_a_baselined_finding_survives_what_happens_around_it(
    tmp_path: Path, edits: dict[str, str | None], expected: dict[str, int]
) -> None:
    repo = baselined(tmp_path, {"scripts/legacy.py": LEGACY})
    commit(repo, "change", edits)
    report = lint(repo)
    assert report["debt"] == expected, report["findings"]
    new = [f for f in report["findings"] if f["state"] == "new"]
    assert all(f["rule"] in {"S307", "ruff-format"} for f in new)


def test_existing_findings_pass_and_are_marked_unchanged_in_sarif(tmp_path: Path) -> None:
    repo = baselined(tmp_path, {"scripts/legacy.py": LEGACY})
    result = run_gate("lint", repo)
    assert result.code == 0, result.stdout + result.stderr
    assert result.record["debt"] == {"new": 0, "existing": 2, "fixed": 0}
    assert "hold the line: 0 new, 2 existing (2 in the baseline), 0 fixed" in result.record["notes"]
    (run,) = result.report("lint.sarif")["runs"]
    assert {r["baselineState"] for r in run["results"]} == {"unchanged"}
    assert all(fingerprint.VERSION in r["partialFingerprints"] for r in run["results"])


def test_a_new_finding_blocks_and_is_marked_new(tmp_path: Path) -> None:
    repo = baselined(tmp_path, {"scripts/legacy.py": LEGACY})
    commit(repo, "new", {"scripts/new.py": '"""New."""\n\nimport pickle\n\npickle.loads(b"")\n'})
    result = run_gate("lint", repo)
    assert result.code == 1
    assert [(f["rule"], f["path"]) for f in result.record["blocking"]] == [
        ("S301", "scripts/new.py")
    ]
    (run,) = result.report("lint.sarif")["runs"]
    states = {(r["ruleId"], r["baselineState"]) for r in run["results"]}
    assert states == {("S307", "unchanged"), ("S301", "new")}


def test_a_broken_baseline_is_one_line(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "x", {"scripts/a.py": LEGACY, baseline.BASELINE: "{not json"})
    result = run_gate("lint", repo)
    assert result.code == 2
    assert "lint: error: .pipeline/baseline.json is not a baseline" in result.stderr
    assert "Traceback" not in result.stderr


def finding(rule: str, path: str, print_: str | None) -> Finding:
    return Finding(rule, "error", path, 1, "m", blocking=True, fingerprint=print_)


def test_judging_by_the_base_and_the_baseline() -> None:
    old = baseline.Entry("R", "a.py", "f1", 1)
    findings = [finding("R", "b.py", "f1"), finding("R", "a.py", "f2"), finding("X", "a.py", None)]
    base = [finding("R", "a.py", "f2"), finding("R", "a.py", "f3")]
    judged, debt = baseline.judge(findings, [old], base, frozenset({"a.py", "b.py"}))
    assert [f.state for f in judged] == ["existing", "existing", "new"]
    assert [f.blocking for f in judged] == [False, False, True]
    assert (debt.new, debt.in_baseline, debt.at_base) == (1, 1, 1)
    # What the base had and the pull request has no more: fixed.
    assert [(e.fingerprint, e.count) for e in debt.fixed or []] == [("f3", 1)]
    # A partial scan matches only the baseline's entries of the files it covered.
    _, debt = baseline.judge([finding("R", "c.py", "f1")], [old], None, frozenset({"c.py"}))
    assert debt.new == 1
