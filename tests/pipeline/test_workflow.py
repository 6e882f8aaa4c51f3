"""The GitHub Actions workflows: pipeline.yml against the noxfile (the same gates and
graph, each job running one nox session alone, no secret anywhere), pipeline-trusted.yml
(the default branch's code only, holding the secrets), least privilege, pinned actions,
and zizmor's verdict."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, run_gate
from packaging.specifiers import SpecifierSet

from tools import gates
from tools.gates import GATE_TAG
from tools.toolrun import tool_path

WORKFLOW = ROOT / ".github" / "workflows" / "pipeline.yml"
TRUSTED = ROOT / ".github" / "workflows" / "pipeline-trusted.yml"
SECRETS = ("SHUFFLE_WEBHOOK_URL", "SHUFFLE_WEBHOOK_SECRET", "SHUFFLE_WEBHOOK_TOKEN",
           "THEHIVE_URL", "THEHIVE_API_KEY")  # fmt: skip
CHECKOUT = "actions/checkout"
SETUP_PYTHON = "actions/setup-python"
UPLOAD_SARIF = "github/codeql-action/upload-sarif"
UPLOAD_ARTIFACT = "actions/upload-artifact"
# What each gate writes for the Security tab, as the gate declares it.
SARIF_REPORTS = {
    gate.name: {report.as_posix() for report in gate.sarif_reports}
    for gate in gates.registry().values()
}
ZIZMOR_TIMEOUT_S = 120

Doc = dict[str, Any]
Sessions = dict[str, dict[str, list[str]]]

# Loads the noxfile in a fresh interpreter (nox's registry is process-global) and
# prints each session's tags and `requires=`, which `nox -l --json` does not show.
_READ_NOXFILE = """
import importlib.util, json, sys
import nox.registry
spec = importlib.util.spec_from_file_location("noxfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({
    name: {"tags": list(func.tags), "requires": list(func.requires)}
    for name, func in nox.registry.get().items()
}))
"""
_MATRIX_EXPR = re.compile(r"^\$\{\{\s*matrix\.([\w-]+)\s*\}\}$")
_SHELL_VAR = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
_TAG_COMMENT = re.compile(r"^\s+#\s*(?P<tag>v\d+(?:\.\d+)*)\s*$")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# The secrets context, not a gate named secrets (`needs.secrets`, `reports/secrets.sarif`).
_SECRETS_CONTEXT = re.compile(r"(?<![\w./-])secrets\b")
_SUPPRESSION = re.compile(r"zizmor:\s*ignore\[[^\]]*\](?P<why>.*)$")


# --- reading the workflow ------------------------------------------------------------


def load_workflow(path: Path = WORKFLOW) -> Doc:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(job: Doc) -> list[Doc]:
    return list(job.get("steps") or [])


def action(step: Doc) -> str | None:
    uses = step.get("uses")
    return uses.split("@", 1)[0] if uses else None


def steps_using(job: Doc, name: str) -> list[Doc]:
    return [step for step in steps(job) if action(step) == name]


def needs(job: Doc) -> set[str]:
    value = job.get("needs") or []
    return {value} if isinstance(value, str) else set(value)


def legs(job: Doc) -> list[dict[str, Any]]:
    """The job's matrix combinations, expanded as GitHub does (one empty combination
    without a matrix): `include` entries extend the combinations whose original values
    they leave alone, or else become combinations of their own."""
    matrix = (job.get("strategy") or {}).get("matrix")
    if not matrix:
        return [{}]
    assert "exclude" not in matrix, "matrix exclude is not modelled here"
    axes = {key: value for key, value in matrix.items() if key != "include"}
    originals: list[dict[str, Any]] = [{}] if axes else []
    for key, values in axes.items():
        originals = [{**combo, key: value} for combo in originals for value in values]
    combos = [dict(combo) for combo in originals]
    for extra in matrix.get("include") or []:
        fits = [
            combo
            for original, combo in zip(originals, combos, strict=False)
            if all(original.get(key, value) == value for key, value in extra.items())
        ]
        for combo in fits:
            combo.update(extra)
        if not fits:
            combos.append(dict(extra))
    return combos


def expand(value: Any, leg: dict[str, Any]) -> Any:
    """Substitute `${{ matrix.X }}` (whole value or inside a string) for one leg."""
    if not isinstance(value, str):
        return value
    if whole := _MATRIX_EXPR.match(value.strip()):
        return leg[whole[1]]
    return re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", lambda m: str(leg[m[1]]), value)


def command_lines(script: str) -> Iterator[list[str]]:
    for raw in script.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            yield shlex.split(line)


def resolve(token: str, env: dict[str, Any]) -> str:
    """A shell argument that is exactly `$VAR` or `${VAR}` takes its value from env:."""
    if var := _SHELL_VAR.match(token):
        name = var[1] or var[2]
        assert name in env, f"{token} is not set in env:"
        return str(env[name])
    return token


def nox_calls(job: Doc) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Every `nox ...` command of the job, per matrix leg, with shell variables
    resolved through the step's and job's `env:`."""
    for leg in legs(job):
        for step in steps(job):
            env = {**(job.get("env") or {}), **(step.get("env") or {})}
            for argv in command_lines(step.get("run") or ""):
                if not argv or argv[0] != "nox":
                    continue
                yield leg, [str(expand(resolve(token, env), leg)) for token in argv]


def sessions_run(job: Doc) -> list[str]:
    sessions = []
    for _leg, argv in nox_calls(job):
        parsed = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("-s", "--session")]
        sessions.extend(parsed)
    return sessions


# --- reading the noxfile -------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> Doc:
    return load_workflow()


@pytest.fixture(scope="module")
def trusted() -> Doc:
    return load_workflow(TRUSTED)


@pytest.fixture(scope="module")
def nox_sessions() -> Sessions:
    result = subprocess.run(
        [sys.executable, "-c", _READ_NOXFILE, str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def gates_of(sessions: Sessions) -> set[str]:
    return {name for name, info in sessions.items() if GATE_TAG in info["tags"]}


# --- the graph check ------------------------------------------------------------------


def session_problems(jobs: dict[str, Doc], sessions: Sessions) -> tuple[list[str], dict[str, str]]:
    """Each job runs existing sessions alone; each gate runs in exactly one job.
    Returns the problems and the job of each gate."""
    problems: list[str] = []
    gates = gates_of(sessions)
    job_of: dict[str, str] = {}
    for name, job in jobs.items():
        calls = list(nox_calls(job))
        if not calls:
            problems.append(f"job {name} runs no nox session")
        problems += [
            f"job {name}: {shlex.join(argv)} lacks --no-dependencies"
            for _leg, argv in calls
            if "--no-dependencies" not in argv
        ]
        for session in sessions_run(job):
            if session not in sessions:
                problems.append(f"job {name} runs {session}, not a session of the noxfile")
            elif session not in gates:
                problems.append(f"job {name} runs {session}, not a gate of the noxfile")
            elif job_of.setdefault(session, name) != name:
                problems.append(f"gate {session} runs in jobs {job_of[session]} and {name}")
    problems += [f"gate {gate} runs in no job" for gate in sorted(gates - set(job_of))]
    return problems, job_of


def needs_problems(jobs: dict[str, Doc], sessions: Sessions, job_of: dict[str, str]) -> list[str]:
    """A job needs exactly the jobs of what its sessions require, and no session
    requires one that runs beside it in the same job (matrix legs run at once)."""
    problems: list[str] = []
    for name, job in jobs.items():
        expected: set[str] = set()
        for session in sessions_run(job):
            for required in sessions.get(session, {}).get("requires", []):
                if job_of.get(required) == name:
                    problems.append(f"{session} requires {required}, but both run in job {name}")
                elif required in job_of:
                    expected.add(job_of[required])
        if needs(job) != expected:
            problems.append(
                f"job {name} needs {sorted(needs(job))}, the noxfile implies {sorted(expected)}"
            )
    return problems


def graph_problems(workflow: Doc, sessions: Sessions) -> list[str]:
    """Every way the workflow's jobs differ from the noxfile's gate graph."""
    jobs: dict[str, Doc] = workflow["jobs"]
    problems, job_of = session_problems(jobs, sessions)
    return problems + needs_problems(jobs, sessions, job_of)


def test_workflow_runs_the_noxfile_graph(workflow: Doc, nox_sessions: Sessions) -> None:
    assert gates_of(nox_sessions) == set(gates.registry())
    assert graph_problems(workflow, nox_sessions) == []


def _gate_step(workflow: Doc, job: str) -> Doc:
    return next(s for s in workflow["jobs"][job]["steps"] if "nox -s" in s.get("run", ""))


def _drop_the_deps_job(workflow: Doc, _sessions: Sessions) -> None:
    del workflow["jobs"]["deps"]
    workflow["jobs"]["test"]["needs"].remove("deps")


def _add_gate_to_noxfile(_workflow: Doc, sessions: Sessions) -> None:
    sessions["fuzz"] = {"tags": [GATE_TAG], "requires": ["lint"]}


def _add_job_running_a_non_gate(workflow: Doc, _sessions: Sessions) -> None:
    workflow["jobs"]["bench"] = {"needs": "lint", "steps": [{"run": "nox -s bench"}]}


def _test_needs_lint_only(workflow: Doc, _sessions: Sessions) -> None:
    workflow["jobs"]["test"]["needs"] = "lint"


def _test_requires_lint_only(_workflow: Doc, sessions: Sessions) -> None:
    sessions["test"]["requires"] = ["lint"]


def _scan_requires_another_scan(_workflow: Doc, sessions: Sessions) -> None:
    sessions["deps"]["requires"].append("sast")


def _gate_without_no_dependencies(workflow: Doc, _sessions: Sessions) -> None:
    step = _gate_step(workflow, "lint")
    step["run"] = step["run"].replace(" --no-dependencies", "")


def _unknown_session(workflow: Doc, _sessions: Sessions) -> None:
    step = _gate_step(workflow, "sast")
    step["run"] = step["run"].replace("nox -s sast", "nox -s sats")


@pytest.mark.parametrize(
    "mutate",
    [
        _drop_the_deps_job,
        _add_gate_to_noxfile,
        _add_job_running_a_non_gate,
        _test_needs_lint_only,
        _test_requires_lint_only,
        _scan_requires_another_scan,
        _gate_without_no_dependencies,
        _unknown_session,
    ],
)
def test_graph_check_sees_each_disagreement(
    workflow: Doc, nox_sessions: Sessions, mutate: Callable[[Doc, Sessions], None]
) -> None:
    changed_workflow, changed_sessions = copy.deepcopy(workflow), copy.deepcopy(nox_sessions)
    mutate(changed_workflow, changed_sessions)
    assert graph_problems(changed_workflow, changed_sessions)


# --- triggers, pins, versions ----------------------------------------------------------


def test_triggers(workflow: Doc) -> None:
    on = workflow["on"]
    assert set(on) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert [entry["cron"] for entry in on["schedule"]]


def test_superseded_runs_of_a_ref_are_cancelled(workflow: Doc) -> None:
    concurrency = workflow["concurrency"]
    assert "github.ref" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_every_job_has_a_timeout(workflow: Doc, trusted: Doc) -> None:
    for name, job in [*workflow["jobs"].items(), *trusted["jobs"].items()]:
        assert isinstance(job.get("timeout-minutes"), int), name
        assert 0 < job["timeout-minutes"] <= 60, name


def test_actions_are_pinned_to_commits_with_their_tag() -> None:
    files = (WORKFLOW, TRUSTED)
    lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    uses_lines = [m for line in lines if (m := _USES_LINE.match(line))]
    parsed = [
        step["uses"]
        for path in files
        for job in load_workflow(path)["jobs"].values()
        for step in steps(job)
        if "uses" in step
    ]
    assert len(uses_lines) == len(parsed) > 0
    pins: dict[str, set[str]] = {}
    for match in uses_lines:
        pinned = _PINNED.match(match["ref"])
        assert pinned, f"{match['ref']} is not pinned to a full commit SHA"
        assert _TAG_COMMENT.match(match["rest"]), f"{match['ref']} has no `# vX.Y.Z` tag comment"
        repo = "/".join(pinned["action"].split("/")[:2])
        pins.setdefault(repo, set()).add(pinned["sha"])
    # One repository, one commit: a bump updates every use of an action at once.
    assert all(len(shas) == 1 for shas in pins.values()), pins


def test_python_and_nox_come_from_the_repository_pins(workflow: Doc, trusted: Doc) -> None:
    version = (ROOT / "locks" / "python-version").read_text(encoding="utf-8").strip()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert version in SpecifierSet(pyproject["project"]["requires-python"])
    install = "python -m pip install --disable-pip-version-check --require-hashes -r locks/nox.txt"
    for name, job in [*workflow["jobs"].items(), *trusted["jobs"].items()]:
        setups = steps_using(job, SETUP_PYTHON)
        assert len(setups) == 1, name
        assert setups[0]["with"]["python-version-file"] == "locks/python-version", name
        assert "python-version" not in setups[0]["with"], name
        assert any(step.get("run", "").strip() == install for step in steps(job)), name


def test_dependency_cache_is_keyed_on_the_locks_each_job_installs(workflow: Doc) -> None:
    for name, job in workflow["jobs"].items():
        settings = steps_using(job, SETUP_PYTHON)[0]["with"]
        assert settings["cache"] == "pip", name
        for leg in legs(job):
            paths = set(expand(settings["cache-dependency-path"], leg).split())
            gates = {argv[argv.index("-s") + 1] for leg_, argv in nox_calls(job) if leg_ == leg}
            assert paths == {"locks/nox.txt"} | {f"locks/{gate}.txt" for gate in gates}, name


def test_online_in_actions() -> None:
    assert "PIPELINE_OFFLINE" not in WORKFLOW.read_text(encoding="utf-8")


# --- least privilege --------------------------------------------------------------------


def test_permissions_are_minimal(workflow: Doc) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        if steps_using(job, UPLOAD_SARIF):
            assert permissions == {
                "contents": "read",
                "security-events": "write",
                "actions": "read",
            }, name
        else:
            assert permissions in (None, {"contents": "read"}), name


def test_checkouts_keep_no_credentials(workflow: Doc, trusted: Doc) -> None:
    for name, job in [*workflow["jobs"].items(), *trusted["jobs"].items()]:
        checkouts = steps_using(job, CHECKOUT)
        assert len(checkouts) == 1, name
        assert checkouts[0]["with"]["persist-credentials"] is False, name


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def secrets_used(document: Doc) -> set[str]:
    return {
        path
        for path, text in _strings(document)
        # `if:` is an expression even without `${{ }}`.
        for expression in ([text] if path.endswith(".if") else _EXPRESSION.findall(text))
        if _SECRETS_CONTEXT.search(expression)
    }


def test_the_pull_requests_code_never_holds_a_secret(workflow: Doc) -> None:
    # Every job of pipeline.yml runs the pull request's noxfile and tools.
    assert secrets_used(workflow) == set()
    assert "github.token" not in WORKFLOW.read_text(encoding="utf-8")


def test_secrets_reach_only_the_trusted_step(trusted: Doc) -> None:
    (job_name,) = trusted["jobs"]
    job_steps = steps(trusted["jobs"][job_name])
    index = next(i for i, step in enumerate(job_steps) if "nox -s trusted" in step.get("run", ""))
    allowed = {f".jobs.{job_name}.steps[{index}].env.{name}" for name in SECRETS}
    assert secrets_used(trusted) == allowed
    for name in SECRETS:
        assert job_steps[index]["env"][name] == f"${{{{ secrets.{name} }}}}"
    assert job_steps[index]["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


def test_the_trusted_run_runs_the_default_branch_only(trusted: Doc, workflow: Doc) -> None:
    assert trusted["on"] == {
        "workflow_run": {"workflows": [workflow["name"]], "types": ["completed"]}
    }
    assert trusted["permissions"] == {}
    (job,) = trusted["jobs"].values()
    assert job["permissions"] == {
        "contents": "read",
        "actions": "read",
        "statuses": "write",
        "pull-requests": "read",
    }
    # Nothing of the pull request's: no checkout of its ref, no artifact of its
    # run, no cache it could have written.
    assert {action(step) for step in steps(job) if "uses" in step} == {CHECKOUT, SETUP_PYTHON}
    (checkout,) = steps_using(job, CHECKOUT)
    assert checkout["with"] == {
        "ref": "${{ github.event.repository.default_branch }}",
        "persist-credentials": False,
    }
    assert "cache" not in steps_using(job, SETUP_PYTHON)[0]["with"]
    assert [step["run"] for step in steps(job) if "nox -s" in step.get("run", "")] == [
        "nox -s trusted"
    ]
    assert "pull_request_target" not in TRUSTED.read_text(encoding="utf-8")


def test_no_expression_is_expanded_inside_a_script(workflow: Doc, trusted: Doc) -> None:
    # `${{ }}` in `run:` is pasted into the shell before it runs: template injection.
    for path, text in [*_strings(workflow), *_strings(trusted)]:
        if path.endswith(".run"):
            assert "${{" not in text, path


# --- the gates' jobs --------------------------------------------------------------------


def test_sarif_is_uploaded_per_gate_under_always(workflow: Doc) -> None:
    uploaded: dict[str, set[str]] = {}
    categories: list[str] = []
    for job in workflow["jobs"].values():
        uploads = steps_using(job, UPLOAD_SARIF)
        for step in uploads:
            assert step["if"].startswith("always()"), step
        for leg in legs(job):
            gates = [argv[argv.index("-s") + 1] for leg_, argv in nox_calls(job) if leg_ == leg]
            for step in uploads:
                for gate in gates:
                    uploaded.setdefault(gate, set()).add(expand(step["with"]["sarif_file"], leg))
                categories.append(expand(step["with"]["category"], leg))
    assert {gate: files for gate, files in uploaded.items() if files} == {
        gate: files for gate, files in SARIF_REPORTS.items() if files
    }
    assert len(categories) == len(set(categories)) == sum(map(len, SARIF_REPORTS.values()))


def test_reports_are_kept_as_artifacts_under_always(workflow: Doc) -> None:
    for name, job in workflow["jobs"].items():
        (upload,) = steps_using(job, UPLOAD_ARTIFACT)
        assert upload["if"] == "always()", name
        assert upload["with"]["path"] == "reports/", name
        names = {expand(upload["with"]["name"], leg) for leg in legs(job)}
        assert len(names) == len(legs(job)), name


def test_every_job_has_the_history_the_base_policy_is_read_from(workflow: Doc) -> None:
    # On a pull request each gate reads its base's policy out of git
    # (origin/$GITHUB_BASE_REF), and secrets scans the history: every commit.
    for name, job in workflow["jobs"].items():
        for leg in legs(job):
            (checkout,) = steps_using(job, CHECKOUT)
            assert expand(checkout["with"]["fetch-depth"], leg) == 0, name


# --- zizmor -------------------------------------------------------------------------------


def run_zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    # The lint gate's flags: offline, and a workflow zizmor cannot validate is an error.
    return subprocess.run(
        [tool_path("zizmor"), "--offline", "--strict-collection", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=ZIZMOR_TIMEOUT_S,
        check=False,
    )


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    result = run_zizmor(ROOT / ".github")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_zizmor_catches_an_unsafe_workflow(tmp_path: Path) -> None:
    # Proof that the zero above is zizmor's verdict, not a scan that saw nothing.
    unsafe = tmp_path / ".github" / "workflows" / "unsafe.yml"
    unsafe.parent.mkdir(parents=True)
    unsafe.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    result = run_zizmor(tmp_path / ".github")
    assert result.returncode in range(10, 15), result.stderr
    found = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"unpinned-uses", "template-injection", "artipacked"} <= found


def test_every_zizmor_suppression_says_why() -> None:
    lines = [*WORKFLOW.read_text("utf-8").splitlines(), *TRUSTED.read_text("utf-8").splitlines()]
    for line in lines:
        if suppressed := _SUPPRESSION.search(line):
            assert len(suppressed["why"].strip(" -:")) >= 10, line


def test_lint_gate_fails_on_a_workflow_zizmor_cannot_validate(tmp_path: Path) -> None:
    # Beside a valid workflow, an invalid one would otherwise be skipped with a warning.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "pipeline.yml").write_text(WORKFLOW.read_text(encoding="utf-8"), "utf-8")
    broken = WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "runs_on:")
    (workflows / "broken.yml").write_text(broken, encoding="utf-8")
    result = run_gate("lint", tmp_path, timeout=ZIZMOR_TIMEOUT_S)
    assert result.code == 2, result.stdout + result.stderr
    assert "lint: error: zizmor failed (exit 1): failed to load" in result.stderr
    assert "broken.yml" in result.stderr
    assert result.record["status"] == "failed"
