"""The trusted run: the code that holds the SOC's secrets and posts the status
branch protection requires. It is always the default branch's.

``pipeline.yml`` runs the gates on a pull request's own code, with no secret
and a read-only token. When that run completes, ``pipeline-trusted.yml``
(GitHub's ``workflow_run``) runs this module from the default branch, and:

- reads the run's real job results from GitHub's API (a job a pull request
  renamed or removed is a gate that did not run);
- for a pull request, forks included, fetches its commits and reads its policy
  files out of git as data (never checked out, never run), and compares them
  with the base branch's (``tools.policy_changes``): that comparison, not the
  pull request's own ``policy`` job, is the policy gate's verdict;
- posts the commit status ``pipeline/policy`` on the run's head commit: failure
  when the policy weakens or any gate did not pass;
- tells the SOC, with the gates' results and the policy changes.

A pull request editing the workflow cannot skip this: the workflow is itself
policy, so the edit fails the status, and a status that never arrives blocks
a branch that requires it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import git, github, policy
from tools.errors import PipelineError
from tools.gates import policy as policy_gate
from tools.gates import registry
from tools.github import Api
from tools.notify import __main__ as notify
from tools.notify import inputs, payload
from tools.notify.delivery import Policy
from tools.notify.target import BadConfig
from tools.policy import Change
from tools.text import console
from tools.verdict import GateRecord, Status, counts

STATUS_CONTEXT = "pipeline/policy"
EVENT_ENV = "GITHUB_EVENT_PATH"
# GitHub's limit on a status description.
MAX_DESCRIPTION = 140
SHA = re.compile(r"[0-9a-f]{40}")
# GitHub's job conclusions in the pipeline's words; any other (timed_out,
# action_required, neutral, stale, none) is a gate that did not pass.
CONCLUSIONS = {"success": Status.PASSED, "skipped": Status.SKIPPED, "cancelled": Status.CANCELLED}
HEAD_REF, BASE_REF = "refs/pipeline/head", "refs/pipeline/base"


class TrustedError(PipelineError):
    """The trusted run cannot judge the run it was woken for."""


@dataclass(frozen=True)
class Run:
    """The completed pipeline run, as the workflow_run event describes it."""

    id: int
    attempt: int
    event: str  # what started it: pull_request, push, schedule...
    head_sha: str
    head_branch: str
    head_owner: str  # the fork's owner, for a pull request from a fork
    url: str
    actor: str | None
    pull: int | None  # the pull request's number, when the event names it (never for forks)


@dataclass(frozen=True)
class Pull:
    number: int
    base: str  # the branch it targets


def _field(document: Any, *keys: str) -> Any:
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def read_event(path: Path) -> Run:
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrustedError(f"{EVENT_ENV} is not a readable event: {type(error).__name__}") from None
    run = _field(event, "workflow_run")
    sha = str(_field(run, "head_sha") or "")
    if not isinstance(run, dict) or not SHA.fullmatch(sha) or type(run.get("id")) is not int:
        raise TrustedError("the event is not a completed workflow_run: run this on workflow_run")
    pulls = [p for p in run.get("pull_requests") or [] if type(_field(p, "number")) is int]
    return Run(
        id=run["id"],
        attempt=int(run.get("run_attempt") or 1),
        event=str(run.get("event") or ""),
        head_sha=sha,
        head_branch=str(run.get("head_branch") or ""),
        head_owner=str(_field(run, "head_repository", "owner", "login") or ""),
        url=str(run.get("html_url") or ""),
        actor=_field(run, "actor", "login"),
        pull=pulls[0]["number"] if pulls else None,
    )


# -- what the run's jobs concluded ----------------------------------------------------------


def gate_results(api: Api, run: Run) -> list[GateRecord]:
    """One record per gate this pipeline has, from the run's job of that name."""
    concluded = {}
    for job in api.jobs(run.id):
        concluded.setdefault(str(job.get("name")), job.get("conclusion"))
    records = []
    for name in registry():
        if name not in concluded:
            records.append(GateRecord(gate=name, status=Status.SKIPPED, reason="no such job"))
            continue
        status = CONCLUSIONS.get(str(concluded[name]), Status.FAILED)
        records.append(GateRecord(gate=name, status=status))
    return records


# -- the pull request and its policy ----------------------------------------------------------


def find_pull(api: Api, run: Run) -> Pull | None:
    """The pull request the run was for. GitHub leaves the event's list empty
    for a fork's pull request: then it is looked up by its head."""
    if run.event not in {"pull_request", "pull_request_target"}:
        return None
    if run.pull is not None:
        found = api.get(f"/pulls/{run.pull}")
        candidates = [found] if isinstance(found, dict) else []
    else:
        answer = api.get("/pulls", state="all", head=f"{run.head_owner}:{run.head_branch}")
        candidates = answer if isinstance(answer, list) else []
    for candidate in candidates:
        number = _field(candidate, "number")
        if _field(candidate, "head", "sha") == run.head_sha and type(number) is int:
            base = str(_field(candidate, "base", "ref") or "")
            if git.run("check-ref-format", "--branch", base).returncode != 0:
                raise TrustedError(f"pull request #{number} has no usable base branch")
            return Pull(number, base)
    raise TrustedError(f"no pull request has head {run.head_sha[:12]}: it may have moved on")


def credentials(token: str) -> dict[str, str]:
    """The token for this git fetch only, as the header actions/checkout sends."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def fetch(api: Api, pull: Pull, run: Run) -> None:
    """The base branch and the pull request's head, as objects only: nothing is
    checked out, no hook or filter of theirs runs."""
    result = git.run(
        "fetch",
        "--no-tags",
        "--quiet",
        "origin",
        f"+refs/heads/{pull.base}:{BASE_REF}",
        f"+refs/pull/{pull.number}/head:{HEAD_REF}",
        timeout=300,
        extra_env=credentials(api.token),
    )
    if result.returncode != 0:
        raise TrustedError(f"cannot fetch pull request #{pull.number}: {console(result.stderr)}")
    if git.run("cat-file", "-e", f"{run.head_sha}^{{commit}}").returncode != 0:
        raise TrustedError(f"pull request #{pull.number} no longer holds {run.head_sha[:12]}")


def policy_changes(pull: Pull, run: Run) -> list[Change]:
    from tools.policy_changes import compare  # noqa: PLC0415 -- PyYAML: this session's venv only

    with tempfile.TemporaryDirectory(prefix="trusted-") as scratch:
        base = policy.materialize(BASE_REF, Path(scratch) / "base")
        head = Path(scratch) / "head"
        policy.extract(run.head_sha, head)
        return compare(base.folder, head)


def judged(gates: list[GateRecord], changes: list[Change]) -> list[GateRecord]:
    """The gates with the policy gate's verdict made here, from the comparison:
    the pull request's own policy job ran the pull request's code."""
    findings = [policy_gate.as_finding(change) for change in changes]
    blocking = [finding for finding in findings if finding.blocking]
    verdict = GateRecord(
        gate=policy_gate.GATE.name,
        status=Status.FAILED if blocking else Status.PASSED,
        findings=counts(findings),
        blocking=blocking,
        reason=f"{len(blocking)} policy change(s) that do not tighten" if blocking else None,
    )
    return [verdict if gate.gate == verdict.gate else gate for gate in gates]


def description(gates: list[GateRecord], pull: Pull | None, changes: list[Change]) -> str:
    weakening = [change for change in changes if not change.tightens]
    parts = []
    if pull is not None:
        parts.append(
            f"policy: {len(weakening)} weakening change(s)" if weakening else "policy holds"
        )
    failed = [f"{gate.gate} {gate.status}" for gate in gates if gate.status != Status.PASSED]
    parts.append(f"gates: {', '.join(failed)}" if failed else f"all {len(gates)} gates passed")
    return "; ".join(parts)[:MAX_DESCRIPTION]


# -- the edge ------------------------------------------------------------------------------------


def tell_the_soc(
    run: Run, api: Api, gates: list[GateRecord], changes: list[Change], problem: str | None
) -> None:
    try:
        receivers = notify.receivers_now()
    except BadConfig as bad:
        print(f"trusted: error: {bad}", file=sys.stderr)
        return
    if receivers is None:
        return
    failed = any(gate.status != Status.PASSED for gate in gates)
    outcome = inputs.Outcome(
        status="unknown" if problem else "failed" if failed else "passed",
        gates=gates,
        source="workflow_run",
        repository=api.repository,
        commit=run.head_sha,
        branch=run.head_branch,
        policy_changes=tuple(changes),
    )
    context = inputs.RunContext(
        repository=api.repository,
        commit=run.head_sha,
        ref=f"refs/heads/{run.head_branch}" if run.head_branch else None,
        actor=run.actor,
        run_id=str(run.id),
        run_attempt=str(run.attempt),
        run_url=run.url or None,
    )
    notify.send(receivers, payload.build(outcome, context, problem), Policy())


def main() -> int:
    try:
        run = read_event(Path(os.environ.get(EVENT_ENV) or ""))
        api = Api.from_environment()
    except PipelineError as error:
        print(f"trusted: error: {console(str(error))}", file=sys.stderr)
        return 1
    gates = [GateRecord(gate=name, status=Status.SKIPPED) for name in registry()]
    changes: list[Change] = []
    problem = None
    try:
        gates = gate_results(api, run)
        pull = find_pull(api, run)
        if pull is not None:
            fetch(api, pull, run)
            changes = policy_changes(pull, run)
            gates = judged(gates, changes)
            print(f"trusted: pull request #{pull.number} onto {pull.base}: "
                  f"{len(changes)} policy change(s)")  # fmt: skip
            for change in changes:
                marker = "tightens" if change.tightens else "WEAKENS or may"
                print(f"trusted:   {marker}: {console(change.what)} ({console(change.where)})")
        state = "failure" if any(g.status != Status.PASSED for g in gates) else "success"
        said = description(gates, pull, changes)
    except PipelineError as error:
        problem = console(str(error))
        state, said = "error", f"not judged: {problem}"[:MAX_DESCRIPTION]
    print(f"trusted: {STATUS_CONTEXT} {state}: {said}")
    try:
        api.status(run.head_sha, state, STATUS_CONTEXT, said, run.url)
    except github.GitHubError as error:
        print(f"trusted: error: cannot post the status: {console(str(error))}", file=sys.stderr)
        problem = problem or str(error)
    tell_the_soc(run, api, gates, changes, problem)
    if problem:
        print(f"trusted: error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
