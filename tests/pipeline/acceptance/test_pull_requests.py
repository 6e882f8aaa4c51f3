"""Pull requests judged by their base's policy.

Each case is a base commit and a pull request commit in a copy of the project,
run with the real `nox -s pipeline -- --base main` offline (or, for the
upgrade, the policy gate alone). The hostile pull request weakens every
policy file it can and commits, in the same change, the finding each weakening
would hide; it runs with `--keep-going`, so that every gate's catch is seen in
one run. The legitimate pull request adds a rule with its fixture; the
adopting one brings the pipeline to a project that had none; the upgrading one
moves the pipeline to a new release.
"""

from __future__ import annotations

import json
import secrets
import shutil
import string
import sys
from pathlib import Path

import helpers
import pytest

from tools import git, snapshot
from tools.snapshot import commit_all
from tools.text import markdown

ENVDIR = Path(__import__("os").environ.get("ACCEPTANCE_ENVDIR", snapshot.ROOT / ".nox"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot.adopt(tmp_path_factory.mktemp("base") / "project")


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    shutil.copytree(pristine, repo, symlinks=True)
    git.output("switch", "-q", "-c", "pull-request", cwd=repo)
    return repo


def edit(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def pipeline(repo: Path, *args: str) -> tuple[int, str, dict]:
    result = helpers.run_pipeline(repo, ENVDIR, "--base", "main", *args)
    output = result.stdout + result.stderr
    try:
        record = json.loads((repo / "reports/pipeline.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pytest.fail(f"no run record:\n{output[-3000:]}")
    return result.returncode, output, {gate["gate"]: gate for gate in record["gates"]}


def blocking(gate: dict) -> set[tuple[str, str]]:
    return {(finding["rule"], finding["path"]) for finding in gate["blocking"]}


def aws_key_id() -> str:
    # Built at run time: nothing secret-shaped is committed to this repository.
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


UNTESTED = '''"""Reports nobody asked for, and nothing tests."""


def report(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        if row.get("done"):
            lines.append(f"[x] {row['title']}")
        elif row.get("title"):
            lines.append(f"[ ] {row['title']}")
        else:
            lines.append("[?]")
    header = f"{len(rows)} task(s)"
    footer = "end of report"
    return "\\n".join([header, *lines, footer])
'''


def weaken_everything(repo: Path) -> str:
    """Every weakening of the issue's list and more, each beside what it hides;
    returns the planted key."""
    key = aws_key_id()
    # gitleaks: allow every path, then commit a key.
    edit(repo, ".gitleaks.toml", "[extend]\n", "[[allowlists]]\npaths = ['''.*''']\n\n[extend]\n")
    write(repo, "src/taskapi/cloud.py", f'"""Cloud access."""\n\nACCESS_KEY_ID = "{key}"\n')
    # Semgrep: a project rule lowered to WARNING, and what it matches.
    edit(repo, ".semgrep/rules.yml", "flask-debug-true\n    severity: ERROR",
         "flask-debug-true\n    severity: WARNING")  # fmt: skip
    write(repo, "src/taskapi/devserver.py",
          '"""Development server."""\n\nfrom taskapi import create_app\n\n\n'
          "def serve() -> None:  # pragma: no cover\n"
          "    create_app().run(debug=True)  # noqa: S201\n")  # fmt: skip
    # .semgrepignore reduced to the one file with a finding; the packs switched off.
    write(repo, ".semgrepignore", "src/taskapi/maintenance.py\n")
    write(repo, "src/taskapi/maintenance.py",
          '"""Maintenance."""\n\nimport subprocess\n\n\n'
          "def run(command: str) -> int:  # pragma: no cover\n"
          "    return subprocess.call(command, shell=True)  # noqa: S602\n")  # fmt: skip
    edit(repo, "pyproject.toml", 'semgrep-packs = ["p/default", "p/python", "p/flask"]',
         "semgrep-packs = []")  # fmt: skip
    # Coverage: the threshold lowered twice, and code nothing tests.
    edit(repo, "pyproject.toml", "fail-under = 95", "fail-under = 0")
    write(repo, ".coveragerc", "[run]\nomit = src/*\n\n[report]\nfail_under = 0\n")
    write(repo, "src/taskapi/reporting.py", UNTESTED)
    # zizmor: a check disabled, and a workflow it would flag.
    write(repo, ".github/zizmor.yml", "rules:\n  template-injection:\n    disable: true\n")
    write(repo, ".github/workflows/greet.yml",
          "on: pull_request\npermissions: {}\njobs:\n  greet:\n    runs-on: ubuntu-24.04\n"
          "    timeout-minutes: 5\n    steps:\n"
          '      - run: echo "${{ github.event.pull_request.title }}"\n')  # fmt: skip
    # The noxfile pointing secrets at a config that finds nothing.
    write(repo, "lax.toml", "[extend]\nuseDefault = false\n")
    edit(repo, "noxfile.py", "    run_gate(session)\n\n\n@gate\ndef deps",
         '    session.env["GITLEAKS_CONFIG"] = "lax.toml"\n    run_gate(session)\n\n\n'
         "@gate\ndef deps")  # fmt: skip
    # A nested ruff configuration selecting nothing, and what S would flag.
    write(repo, "src/ruff.toml", "[lint]\nselect = []\n")
    write(repo, "src/taskapi/loader.py",
          '"""Loading."""\n\nimport yaml\n\n\ndef load(text: str) -> object:  # pragma: no cover\n'
          "    return yaml.load(text)\n")  # fmt: skip
    # The secrets gate's own code told to pass.
    edit(repo, "tools/gates/secrets.py", "def run(context: Context) -> Outcome:\n",
         "def run(context: Context) -> Outcome:\n    return Outcome(notes=['clean'])\n\n\n"
         "def _run(context: Context) -> Outcome:\n")  # fmt: skip
    commit_all(repo, "Tidy the configuration")
    return key


def test_a_hostile_pull_request_is_caught_by_the_base_policy(project: Path) -> None:
    key = weaken_everything(project)
    code, output, gates = pipeline(project, "--keep-going")
    assert code == 1, output[-4000:]
    assert key not in output

    changes = {finding["message"] for finding in gates["policy"]["blocking"]}
    assert changes == {
        "semgrep-packs: p/default, p/flask, p/python -> none",
        "coverage threshold 95 -> 0",
        "rule flask-debug-true: ERROR -> WARNING",
        "1 exclusion(s) added to .semgrepignore",
        "1 allowlist entry(ies) added to .gitleaks.toml",
        "zizmor configuration added",
        "the pipeline's own files changed: .github/workflows/greet.yml, noxfile.py, "
        "tools/gates/secrets.py",
    }
    assert gates["policy"]["status"] == "failed"
    # Each hidden finding, caught by the gate the base's policy runs.
    assert ("S506", "src/taskapi/loader.py") in blocking(gates["lint"])  # src/ruff.toml ignored
    assert ("zizmor/template-injection", ".github/workflows/greet.yml") in blocking(gates["lint"])
    assert {
        ("flask-debug-true", "src/taskapi/devserver.py"),  # still ERROR
        ("subprocess-shell-true", "src/taskapi/maintenance.py"),  # still scanned
    } <= blocking(gates["sast"])
    assert blocking(gates["secrets"]) == {("aws-access-token", "src/taskapi/cloud.py")}
    assert gates["test"]["status"] == "failed"
    assert {finding["rule"] for finding in gates["test"]["blocking"]} == {
        "coverage-under-threshold"
    }
    assert "under 95%" in gates["test"]["blocking"][0]["message"]
    summary = (project / "reports/summary.md").read_text(encoding="utf-8")
    assert markdown("rule flask-debug-true: ERROR -> WARNING") in summary
    for report in (project / "reports").rglob("*"):
        if report.is_file():
            assert key not in report.read_text(encoding="utf-8", errors="replace"), report


RULE = """
  - id: no-pickle-loads
    severity: ERROR
    languages: [python]
    message: >-
      pickle runs code while it loads: never unpickle data from outside the process.
    metadata:
      category: security
    pattern-either:
      - pattern: pickle.loads(...)
      - pattern: pickle.load(...)
"""

RULE_FIXTURE = """

def unpickle(blob: bytes) -> object:
    import pickle

    # ruleid: no-pickle-loads
    return pickle.loads(blob)


def serialize(value: object) -> str:
    import json

    # ok: no-pickle-loads
    return json.dumps(value)
"""


def test_a_legitimate_pull_request_passes_and_lists_what_it_changed(project: Path) -> None:
    rules = project / ".semgrep/rules.yml"
    rules.write_text(rules.read_text(encoding="utf-8").rstrip("\n") + "\n" + RULE, "utf-8")
    fixture = project / ".semgrep/tests/rules.py"
    fixture.write_text(fixture.read_text(encoding="utf-8") + RULE_FIXTURE, encoding="utf-8")
    commit_all(project, "sast: flag unpickling")
    code, output, gates = pipeline(project)
    assert code == 0, output[-4000:]
    assert {gate["status"] for gate in gates.values()} == {"passed"}
    notes = gates["policy"]["notes"]
    assert "tightens: rule no-pickle-loads added (.semgrep/rules.yml)" in notes
    assert "tightens: rule tests changed (1 file(s)) (.semgrep/tests/)" in notes
    summary = (project / "reports/summary.md").read_text(encoding="utf-8")
    assert "### policy\n" in summary
    assert markdown("tightens: rule no-pickle-loads added (.semgrep/rules.yml)") in summary


def test_the_adopting_pull_request_is_judged_by_the_shipped_defaults(
    pristine: Path, tmp_path: Path
) -> None:
    """A project without the pipeline on main; the pull request brings it."""
    repo = tmp_path / "adopter"
    shutil.copytree(pristine, repo, symlinks=True)
    shutil.rmtree(repo / ".git")
    pipeline_files = [
        "noxfile.py", "tools", "locks", ".semgrep", ".semgrepignore", ".gitleaks.toml",
        ".github",
    ]  # fmt: skip
    aside = tmp_path / "aside"
    aside.mkdir()
    for name in pipeline_files:
        shutil.move(repo / name, aside / name)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    own = text[: text.index("[tool.pipeline]")]
    rest = text[text.index("[tool.ruff]") :]
    pyproject.write_text(own + rest, encoding="utf-8")
    git.output("init", "-q", "-b", "main", cwd=repo)
    commit_all(repo, "The project, before the pipeline")
    git.output("switch", "-q", "-c", "adopt-the-pipeline", cwd=repo)
    for name in pipeline_files:
        shutil.move(aside / name, repo / name)
    pyproject.write_text(own + "[tool.pipeline.test]\nfail-under = 95\n\n" + rest, encoding="utf-8")
    commit_all(repo, "Adopt the pipeline")
    code, output, gates = pipeline(repo)
    assert code == 0, output[-4000:]
    assert {gate["status"] for gate in gates.values()} == {"passed"}
    notes = gates["policy"]["notes"]
    assert "the base has no pipeline yet: this adopts it, judged by its shipped defaults" in notes
    assert "tightens: coverage threshold 80 -> 95 (pyproject.toml [tool.pipeline])" in notes


def test_the_upgrading_pull_request_is_recognised_as_a_release(project: Path) -> None:
    def release(*args: str) -> None:
        result = helpers.run(
            [sys.executable, "-m", "tools.release", *args],
            cwd=project,
            env=helpers.clean_env(PYTHONPATH=str(project)),
        )
        assert result.returncode == 0, result.stderr

    edit(project, "tools/gates/policy.py", "timeout_s=120", "timeout_s=150")
    release("--write", "--version", "99.0.0")
    commit_all(project, "Upgrade the pipeline to 99.0.0")
    result = helpers.run_gate("policy", project, "--base", "main", env=helpers.clean_env())
    assert result.code == 1, result.stdout + result.stderr
    [change] = result.report("policy.json")["changes"]
    assert change["what"].startswith("pipeline ") and change["what"].endswith(
        " -> 99.0.0 (as released)"
    )
    # The same upgrade with one file edited beside the release is no release.
    edit(project, "tools/gates/policy.py", "timeout_s=150", "timeout_s=151")
    commit_all(project, "...and a little more")
    result = helpers.run_gate("policy", project, "--base", "main", env=helpers.clean_env())
    [change] = result.report("policy.json")["changes"]
    assert change["what"] == (
        "the pipeline's own files changed: tools/gates/policy.py, tools/release.json"
    )
