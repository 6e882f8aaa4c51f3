"""Gate policy: a base's policy read out of git, a pull request's changes to it
itemised in plain words (each weakening class, and what strictly tightens), the
release manifest behind "pipeline X -> Y", and the policy gate on real
repositories."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from helpers import ROOT, clean_env, commit, git, new_repo, run, run_gate, write_files

from tools import policy, release
from tools.policy_changes import compare

PYPROJECT = '[project]\nname = "app"\n\n[tool.pipeline]\nsemgrep-packs = ["p/python"]\n'
RULES = (
    "rules:\n"
    "  - id: no-eval\n    severity: ERROR\n    languages: [python]\n"
    "    message: eval\n    pattern: eval(...)\n"
)
GITLEAKS = "[extend]\nuseDefault = true\n"
BASE = {
    "tools/gates/__init__.py": "# the gate table\n",
    "pyproject.toml": PYPROJECT,
    ".semgrep/rules.yml": RULES,
    ".semgrepignore": "tests/\n",
    ".gitleaks.toml": GITLEAKS,
    ".github/CODEOWNERS": "/tools/ @acme/security\n/.semgrep/ @acme/security\n",
    "src/app.py": "print('hello')\n",
}


def changes_between(tmp_path: Path, edits: dict[str, str | None]) -> dict[str, bool]:
    """Each change from BASE to BASE with ``edits``, as {what: tightens}."""
    base, head = tmp_path / "base", tmp_path / "head"
    write_files(base, BASE)
    write_files(head, BASE)
    write_files(head, edits)
    return {change.what: change.tightens for change in compare(base, head)}


def settings(text: str) -> dict[str, str]:
    return {"pyproject.toml": PYPROJECT + text}


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # [tool.pipeline]
        (
            {"pyproject.toml": PYPROJECT.replace('["p/python"]', "[]")},
            {"semgrep-packs: p/python -> none": False},
        ),
        (
            {"pyproject.toml": PYPROJECT.replace('["p/python"]', '["p/python", "p/flask"]')},
            {"semgrep-packs: p/python -> p/flask, p/python": True},
        ),
        (settings("[tool.pipeline.test]\nfail-under = 0\n"), {"coverage threshold 80 -> 0": False}),
        (
            settings("[tool.pipeline.test]\nfail-under = 97\n"),
            {"coverage threshold 80 -> 97": True},
        ),
        (
            settings('[tool.pipeline.sast]\nexclude = { "src/" = "generated" }\n'),
            {"sast.exclude: none -> src/": False},
        ),
        (
            settings('[tool.pipeline.lint]\nignore = { S307 = "we trust our input" }\n'),
            {"lint.ignore: none -> S307": False},
        ),
        (
            settings('[tool.pipeline.lint]\ntest-ignore = ["S101"]\n'),
            {"lint.test-ignore: S101, S105, S106, S108 -> S101": True},
        ),
        (
            settings("[tool.pipeline.timeouts]\nsast = 5\n"),
            {"timeouts.sast: null -> 5": False},
        ),
        # Semgrep's rules and their exclusions
        (
            {".semgrep/rules.yml": RULES.replace("ERROR", "WARNING")},
            {"rule no-eval: ERROR -> WARNING": False},
        ),
        ({".semgrep/rules.yml": "rules: []\n"}, {"rule no-eval removed": False}),
        (
            {".semgrep/rules.yml": RULES.replace("eval(...)", "eval(1)")},
            {"rule no-eval rewritten": False},
        ),
        (
            {".semgrep/rules.yml": RULES + RULES.split("\n", 1)[1].replace("no-eval", "no-exec")},
            {"rule no-exec added": True},
        ),
        (
            {".semgrep/more.yml": RULES.replace("no-eval", "no-exec")},
            {"rule no-exec added": True},
        ),
        (
            {".semgrepignore": "src/app.py\n"},
            {
                "1 exclusion(s) added to .semgrepignore": False,
                "1 exclusion(s) removed from .semgrepignore": True,
            },
        ),
        # gitleaks
        (
            {".gitleaks.toml": GITLEAKS + "\n[[allowlists]]\npaths = ['''.*''']\n"},
            {"1 allowlist entry(ies) added to .gitleaks.toml": False},
        ),
        (
            {".gitleaks.toml": GITLEAKS + "\n[allowlist]\nstopwords = ['x', 'y']\n"},
            {"2 allowlist entry(ies) added to .gitleaks.toml": False},
        ),
        (
            {".gitleaks.toml": GITLEAKS.replace("true", "false")},
            {"gitleaks' default rules: True -> False": False},
        ),
        (
            {".gitleaks.toml": GITLEAKS + "disabledRules = ['aws-access-token']\n"},
            {"default rule(s) disabled: aws-access-token": False},
        ),
        (
            {".gitleaksignore": "abc123:src/app.py:generic-api-key:1\n"},
            {"1 fingerprint(s) added to .gitleaksignore": False},
        ),
        # ruff, zizmor, code owners, the baseline, the pipeline itself
        (
            {"pyproject.toml": PYPROJECT + '\n[tool.ruff.lint]\nignore = ["S307"]\n'},
            {"rules ignored: S307": False},
        ),
        ({"ruff.toml": "[lint]\nselect = []\n"}, {"rules unselected: E4, E7, E9, F": False}),
        (
            {".github/zizmor.yml": "rules:\n  template-injection:\n    disable: true\n"},
            {"zizmor configuration added": False},
        ),
        (
            {".github/CODEOWNERS": "/tools/ @acme/security\n"},
            {"1 code-owner line(s) removed from .github/CODEOWNERS": False},
        ),
        (
            {
                ".pipeline/baseline.json": json.dumps(
                    {
                        "schema_version": 1,
                        "gates": {
                            "sast": [
                                {
                                    "rule": "no-eval",
                                    "path": "src/app.py",
                                    "fingerprint": "f1",
                                    "count": 2,
                                }
                            ]
                        },
                    }
                )
            },
            {"2 finding(s) added to the baseline": False},
        ),
        (
            {"tools/gates/__init__.py": "# every gate passes now\n"},
            {"the pipeline's own files changed: tools/gates/__init__.py": False},
        ),
        (
            {"noxfile.py": "# secrets reads lax.toml\n"},
            {"the pipeline's own files changed: noxfile.py": False},
        ),
        (
            {".github/workflows/pipeline.yml": "on: push\n"},
            {"the pipeline's own files changed: .github/workflows/pipeline.yml": False},
        ),
        # Not policy: the gates never read these, so they change nothing.
        ({"src/ruff.toml": "[lint]\nselect = []\n"}, {}),
        ({".coveragerc": "[report]\nfail_under = 0\n"}, {}),
        ({"src/app.py": "print('changed')\n"}, {}),
    ],
    ids=lambda value: next(iter(value), "none") if isinstance(value, dict) else None,
)
def test_each_policy_change_in_plain_words(
    tmp_path: Path, edits: dict[str, str | None], expected: dict[str, bool]
) -> None:
    assert changes_between(tmp_path, edits) == expected


def test_a_policy_file_that_does_not_parse_is_a_change_not_a_crash(tmp_path: Path) -> None:
    found = changes_between(tmp_path, {".semgrep/rules.yml": "rules: [\n"})
    assert found == {"rule no-eval removed": False, "rule rules.yml: not YAML added": True}


# -- the release manifest ------------------------------------------------------------------


def shipped_tree(tmp_path: Path, name: str, version: str, body: str) -> Path:
    root = tmp_path / name
    write_files(root, {"noxfile.py": "# nox\n", "tools/gates/__init__.py": body, "locks/a.txt": ""})
    write_files(root, {release.MANIFEST: release.manifest(version, release.shipped_files(root))})
    return root


def test_an_upgrade_as_released_is_one_change(tmp_path: Path) -> None:
    base = shipped_tree(tmp_path, "base", "0.4.0", "# old gates\n")
    head = shipped_tree(tmp_path, "head", "0.5.0", "# new gates\n")
    assert [(c.what, c.tightens) for c in compare(base, head)] == [
        ("pipeline 0.4.0 -> 0.5.0 (as released)", False)
    ]


def test_an_upgrade_with_an_edited_file_lists_the_edit(tmp_path: Path) -> None:
    base = shipped_tree(tmp_path, "base", "0.4.0", "# old gates\n")
    head = shipped_tree(tmp_path, "head", "0.5.0", "# new gates\n")
    write_files(head, {"tools/gates/__init__.py": "# new gates, and a quiet change\n"})
    assert [c.what for c in compare(base, head)] == [
        "the pipeline's own files changed: tools/gates/__init__.py, tools/release.json"
    ]
    write_files(head, {"tools/gates/__init__.py": "# new gates\n", "tools/extra.py": "#\n"})
    assert release.as_released(head) is None


def test_this_repository_is_its_release() -> None:
    result = run([sys.executable, "-m", "tools.release", "--check"], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    recorded = release.read(ROOT)
    assert recorded is not None
    assert release.shipped_files(ROOT, tracked=True) == recorded.files


# -- the base's policy, out of git --------------------------------------------------------


def base_repo(tmp_path: Path) -> Path:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "base", BASE)
    git(repo, "switch", "-q", "-c", "pr")
    return repo


def test_the_base_is_read_from_git_objects_not_the_checkout(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    commit(repo, "pr", {".gitleaks.toml": GITLEAKS + "[[allowlists]]\npaths = ['''.*''']\n"})
    write_files(repo, {".semgrepignore": "src/\n"})  # uncommitted, in the working tree
    made = policy.materialize("main", tmp_path / "policy", cwd=repo)
    assert not made.adopting
    assert (made.folder / ".gitleaks.toml").read_text(encoding="utf-8") == GITLEAKS
    assert (made.folder / ".semgrepignore").read_text(encoding="utf-8") == "tests/\n"
    assert not (made.folder / "src").exists()  # policy files only


def test_a_base_without_the_pipeline_is_judged_by_the_shipped_defaults(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "the project", {"src/app.py": "print('hello')\n", "pyproject.toml": PYPROJECT})
    git(repo, "switch", "-q", "-c", "adopt")
    commit(repo, "adopt", {**BASE, ".gitleaksignore": "abc:src/app.py:rule:1\n"})
    made = policy.materialize("main", tmp_path / "policy", cwd=repo)
    assert made.adopting
    assert (made.folder / "tools/gates/__init__.py").is_file()
    assert "[tool.pipeline]" not in (made.folder / "pyproject.toml").read_text(encoding="utf-8")
    assert not (made.folder / ".gitleaksignore").exists()


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x"])
def test_a_base_that_is_no_commit_is_one_line(tmp_path: Path, ref: str) -> None:
    repo = base_repo(tmp_path)
    with pytest.raises(policy.PolicyError) as error:
        policy.materialize(ref, tmp_path / "policy", cwd=repo)
    assert "\n" not in str(error.value)


def test_materialized_once_per_commit(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    folder = tmp_path / "policy"
    policy.materialize_once("main", folder, cwd=repo)
    (folder / "marker").write_text("kept", encoding="utf-8")
    policy.materialize_once("main", folder, cwd=repo)
    assert (folder / "marker").is_file()  # same commit: reused
    git(repo, "switch", "-q", "main")
    commit(repo, "newer base", {".semgrepignore": "tests/\ndocs/\n"})
    policy.materialize_once("main", folder, cwd=repo)
    assert not (folder / "marker").exists()  # another commit: made afresh
    assert policy.tree_commit(folder) == git(repo, "rev-parse", "main")


# -- the policy gate -------------------------------------------------------------------------


def policy_gate(repo: Path, *args: str) -> tuple[int, str, dict]:
    shutil.rmtree(repo / "reports", ignore_errors=True)
    result = run_gate("policy", repo, *args, env=clean_env())
    written = result.report("policy.json") if result.has_report("policy.json") else {}
    return result.code, result.stdout + result.stderr, written


def test_the_gate_blocks_a_weakening_and_says_what(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    commit(repo, "pr", {".semgrep/rules.yml": RULES.replace("ERROR", "INFO")})
    code, output, report = policy_gate(repo, "--base", "main")
    assert code == 1, output
    assert "WEAKENS or may: rule no-eval: ERROR -> INFO (.semgrep/rules.yml)" in output
    assert report["changes"] == [
        {"where": ".semgrep/rules.yml", "what": "rule no-eval: ERROR -> INFO", "tightens": False}
    ]


def test_the_gate_passes_a_tightening_and_lists_it(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    commit(repo, "pr", {".semgrep/more.yml": RULES.replace("no-eval", "no-exec")})
    code, output, report = policy_gate(repo, "--base", "main")
    assert code == 0, output
    assert "tightens: rule no-exec added (.semgrep/more.yml)" in output
    assert [change["tightens"] for change in report["changes"]] == [True]


def test_without_a_base_there_is_nothing_to_compare(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    code, output, report = policy_gate(repo)
    assert code == 0, output
    assert "no base: nothing to compare" in output
    assert report == {"base": None, "changes": []}


def test_a_base_that_does_not_resolve_fails_the_gate(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    code, output, _ = policy_gate(repo, "--base", "origin/main")
    assert code == 2, output
    assert "base ref 'origin/main' does not resolve to a commit here" in output


def test_every_policy_file_has_code_owners() -> None:
    owned = {
        line.split()[0].lstrip("/")
        for line in (ROOT / ".github/CODEOWNERS").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert owned == set(policy.POLICY_PATHS)
