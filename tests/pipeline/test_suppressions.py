"""Suppressions: every tool's, in one syntax (rule, reason, optional end), applied
by the gates themselves on the real tools' findings in real git repositories;
each weakness of the tools' own syntax fails, a sound one passes and is listed,
an expired one fails, a stale one warns, and a pull request's new ones are marked."""

from __future__ import annotations

import json
import secrets
import shutil
import string
from datetime import date
from pathlib import Path

import pytest
from helpers import ROOT, clean_env, commit, git, new_repo, run_gate

from tools import baseline, suppressions
from tools.suppressions import NOQA, NOSEMGREP, ZIZMOR

FUTURE, PAST = "2999-12-31", "2001-01-01"
# This project's gitleaks rules; each repository's own .gitleaksignore.
GITLEAKS = ("--config", str(ROOT / ".gitleaks.toml"))


def key_id() -> str:
    # Built at run time: nothing secret-shaped is committed to this repository.
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


@pytest.mark.parametrize(
    ("marker", "text", "rules", "reason", "until"),
    [
        (NOQA, "# noqa: S307 -- our own constant", ("S307",), "our own constant", None),
        (NOQA, f"# noqa: S307, S102 -- both (until {FUTURE})", ("S307", "S102"), "both", FUTURE),
        (NOQA, "# noqa: S307", ("S307",), None, None),
        (NOQA, "# noqa", (), None, None),
        (NOQA, "# noqa: S307 because I say so", ("S307",), None, None),
        (NOSEMGREP, "# nosemgrep: flask-debug-true -- demo", ("flask-debug-true",), "demo", None),
        (NOSEMGREP, "# nosemgrep", (), None, None),
        (ZIZMOR, "# zizmor: ignore[template-injection] -- ours", ("template-injection",), "ours",
         None),
    ],
)  # fmt: skip
def test_one_syntax(
    marker: suppressions.Marker,
    text: str,
    rules: tuple[str, ...],
    reason: str | None,
    until: str | None,
) -> None:
    found = suppressions.parse(marker, text, "a.py", 1)
    assert found is not None
    assert (found.rules, found.reason, found.until) == (rules, reason, until)


def test_a_string_that_reads_like_a_suppression_is_none(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('TEXT = "x = 1  # noqa: S307"\n', encoding="utf-8")
    assert suppressions.in_files(tmp_path, ["a.py"], [NOQA]) == []


def test_a_date_that_is_no_date_is_invalid() -> None:
    found = suppressions.parse(NOQA, "# noqa: S307 -- why (until soon)", "a.py", 1)
    assert found is not None
    assert found.problem(date.today()) == (
        suppressions.INVALID,
        "`noqa` ends on 'soon', which is no YYYY-MM-DD date",
    )


# -- lint: ruff and zizmor ------------------------------------------------------------------------


def lint_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "code", files)
    return repo


def blocking(result) -> set[tuple[str, str, int | None]]:
    return {(f["rule"], f["path"], f["line"]) for f in result.record["blocking"]}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x = eval(str(1))  # noqa: S307\n", {"suppression-invalid", "S307"}),
        ("x = eval(str(1))  # noqa\n", {"suppression-invalid", "S307"}),
        (
            f"x = eval(str(1))  # noqa: S307 -- old (until {PAST})\n",
            {"suppression-expired", "S307"},
        ),
        ("x = eval(str(1))  # noqa: S102 -- the wrong rule\n", {"S307"}),
    ],
    ids=["no-reason", "bare", "expired", "another-rule"],
)
def test_a_noqa_that_is_not_sound_fails(tmp_path: Path, line: str, expected: set[str]) -> None:
    result = run_gate("lint", lint_repo(tmp_path, {"app.py": line}))
    assert result.code == 1, result.stdout + result.stderr
    assert {rule for rule, _, _ in blocking(result)} == expected


def test_a_file_level_noqa_fails(tmp_path: Path) -> None:
    repo = lint_repo(tmp_path, {"app.py": "# ruff: noqa\nx = eval(str(1))\n"})
    result = run_gate("lint", repo)
    assert result.code == 1
    assert blocking(result) == {("suppression-invalid", "app.py", 1), ("S307", "app.py", 2)}


def test_a_sound_noqa_passes_and_is_listed(tmp_path: Path) -> None:
    line = f"x = eval(str(1))  # noqa: S307 -- a constant we wrote (until {FUTURE})\n"
    result = run_gate("lint", lint_repo(tmp_path, {"app.py": line, "style.py": "y = 1  # noqa\n"}))
    assert result.code == 0, result.stdout + result.stderr
    assert result.record["suppressions"] == [
        {"tool": "noqa", "path": "app.py", "line": 1, "rules": ["S307"],
         "reason": "a constant we wrote", "until": FUTURE}
    ]  # fmt: skip
    (run,) = result.report("lint.sarif")["runs"]
    [suppressed] = [r for r in run["results"] if r["ruleId"] == "S307"]
    assert suppressed["suppressions"] == [
        {"kind": "inSource", "justification": "a constant we wrote"}
    ]


def test_a_stale_noqa_warns(tmp_path: Path) -> None:
    result = run_gate("lint", lint_repo(tmp_path, {"app.py": "x = 1  # noqa: S307 -- was eval\n"}))
    assert result.code == 0, result.stdout + result.stderr
    assert result.record["findings"] == {"warning": 1}
    findings = result.outputs["reports/gates/lint.findings.json"]
    assert '"rule": "suppression-unused"' in findings


WORKFLOW = """on: pull_request
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - run: echo "${{ github.event.pull_request.title }}" # zizmor: ignore[template-injection]%s
"""


@pytest.mark.parametrize(
    ("suffix", "code"), [("", 1), (" -- the title is echoed to our own log only", 0)]
)
def test_a_zizmor_ignore_needs_a_reason(tmp_path: Path, suffix: str, code: int) -> None:
    repo = lint_repo(tmp_path, {".github/workflows/greet.yml": WORKFLOW % suffix})
    result = run_gate("lint", repo)
    assert result.code == code, result.stdout + result.stderr
    if code:
        assert ("suppression-invalid", ".github/workflows/greet.yml", 8) in blocking(result)
        assert ("zizmor/template-injection", ".github/workflows/greet.yml", 8) in blocking(result)


# -- sast: Semgrep -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "code"),
    [
        ("# nosemgrep", 1),
        ("# nosemgrep: subprocess-shell-true -- commands come from our own config", 0),
    ],
)
def test_a_nosemgrep_needs_a_rule_and_a_reason(tmp_path: Path, comment: str, code: int) -> None:
    repo = lint_repo(
        tmp_path,
        {
            "app.py": "import subprocess\n\n\ndef run(command: str) -> int:\n"
            f"    return subprocess.call(command, shell=True)  {comment}\n"
        },
    )
    # This project's own rules and settings judge it.
    policy = clean_env(PIPELINE_OFFLINE="1", PIPELINE_POLICY_ROOT=str(ROOT))
    result = run_gate("sast", repo, env=policy)
    assert result.code == code, result.stdout + result.stderr
    if code:
        assert {rule for rule, _, _ in blocking(result)} == {
            "suppression-invalid",
            "subprocess-shell-true",
        }
    else:
        assert [s["rules"] for s in result.record["suppressions"]] == [["subprocess-shell-true"]]


# -- secrets: gitleaks ---------------------------------------------------------------------------


def test_a_trailing_gitleaks_allow_silences_nothing(tmp_path: Path) -> None:
    repo = lint_repo(tmp_path, {"cloud.py": f'KEY_ID = "{key_id()}"  # gitleaks:allow\n'})
    result = run_gate("secrets", repo, *GITLEAKS)
    assert result.code == 1
    assert {rule for rule, _, _ in blocking(result)} == {"suppression-invalid", "aws-access-token"}


def test_a_sound_gitleaks_allow_passes_and_is_listed(tmp_path: Path) -> None:
    line = (
        f'KEY_ID = "{key_id()}"  # gitleaks:allow aws-access-token -- AWS\'s documented example\n'
    )
    result = run_gate("secrets", lint_repo(tmp_path, {"cloud.py": line}), *GITLEAKS)
    assert result.code == 0, result.stdout + result.stderr
    [entry] = result.record["suppressions"]
    assert (entry["tool"], entry["rules"]) == ("gitleaks:allow", ["aws-access-token"])


def test_a_gitleaksignore_line_without_its_commit_fails(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    leak = commit(repo, "leak", {"leak.cfg": f"key = {key_id()}\n"})
    commit(repo, "ignore it everywhere", {".gitleaksignore": "leak.cfg:aws-access-token:1\n"})
    result = run_gate("secrets", repo, *GITLEAKS)
    assert result.code == 1
    assert ("suppression-invalid", ".gitleaksignore", 1) in blocking(result)
    assert ("aws-access-token", "leak.cfg", 1) in blocking(result)
    # With its commit and a reason, it silences exactly that finding.
    ignore = f"{leak}:leak.cfg:aws-access-token:1 -- a revoked test key\n"
    shutil.rmtree(repo / "reports")
    commit(repo, "ignore it there", {".gitleaksignore": ignore})
    result = run_gate("secrets", repo, *GITLEAKS)
    assert result.code == 0, result.stdout + result.stderr
    assert [e["reason"] for e in result.record["suppressions"]] == ["a revoked test key"]


# -- deps: advisories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (f"we never call the affected function (until {FUTURE})", 0),
        (f"we never call the affected function (until {PAST})", 1),
        ("", 1),
    ],
    ids=["sound", "expired", "no-reason"],
)
def test_an_ignored_advisory_needs_a_reason_and_ends(
    tmp_path: Path, advisory_db: Path, value: str, code: int
) -> None:
    repo = lint_repo(
        tmp_path,
        {
            "requirements.txt": "gratient==0.5\n",
            "pyproject.toml": f'[tool.pipeline.deps]\nignore = {{ "PYSEC-2024-1" = "{value}" }}\n',
        },
    )
    result = run_gate("deps", repo, env=clean_env(PIPELINE_OSV_DB=str(advisory_db)))
    assert result.code == code, result.stdout + result.stderr
    if code == 0:
        [entry] = result.record["suppressions"]
        assert (entry["tool"], entry["rules"]) == ("deps ignore", ["PYSEC-2024-1"])


# -- a pull request's new suppressions ------------------------------------------------------------


def test_the_suppressions_a_pull_request_adds_are_marked_new(tmp_path: Path) -> None:
    old = "x = eval(str(1))  # noqa: S307 -- a constant we wrote\n"
    repo = lint_repo(tmp_path, {"old.py": old})
    git(repo, "switch", "-q", "-c", "pr")
    new = "y = eval(str(2))  # noqa: S307 -- another constant\n"
    commit(repo, "pr", {"old.py": old + "z = 3\n", "new.py": new})
    result = run_gate("lint", repo, env=clean_env(PIPELINE_BASE_REF="main"))
    assert result.code == 0, result.stdout + result.stderr
    marks = {(e["path"], e["new"]) for e in result.record["suppressions"]}
    assert marks == {("old.py", False), ("new.py", True)}


def test_reasonless_suppressions_of_today_are_baselined_as_debt(tmp_path: Path) -> None:
    repo = lint_repo(tmp_path, {"app.py": "x = eval(str(1))  # noqa: S307\n"})
    first = run_gate("lint", repo)
    assert first.code == 1
    found = baseline.read_findings(repo / "reports/gates/lint.findings.json")
    shutil.rmtree(repo / "reports")
    document = {
        "schema_version": baseline.SCHEMA_VERSION,
        "gates": {"lint": [entry.to_json() for entry in baseline.entries_of(found)]},
    }
    commit(repo, "baseline", {baseline.BASELINE: json.dumps(document)})
    result = run_gate("lint", repo)
    assert result.code == 0, result.stdout + result.stderr
    assert result.record["debt"] == {"new": 0, "existing": 2, "fixed": 0}
    # A new one still blocks.
    shutil.rmtree(repo / "reports")
    commit(repo, "another", {"more.py": "y = eval(str(2))  # noqa: S307\n"})
    result = run_gate("lint", repo)
    assert result.code == 1
    assert {f["path"] for f in result.record["blocking"]} == {"more.py"}
