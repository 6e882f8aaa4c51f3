"""The trusted run (tools/trusted.py), against a GitHub API and a SOC webhook
served on 127.0.0.1, and real git repositories: an origin holding the base
branch and the pull request's head under refs/pull/N/head, and a checkout of
the default branch, as pipeline-trusted.yml has."""

from __future__ import annotations

import http.server
import json
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.pipeline.helpers import clean_env, commit, git, new_repo, run
from tools import gates

REPO = "acme/service"
BASE_POLICY = {
    "tools/gates/__init__.py": "# the pipeline's gate table\n",
    "pyproject.toml": '[project]\nname = "service"\n\n'
    '[tool.pipeline]\nsemgrep-packs = ["p/python"]\n',
    ".gitleaks.toml": "[extend]\nuseDefault = true\n",
    ".semgrep/rules.yml": "rules:\n  - id: no-eval\n    severity: ERROR\n    languages: [python]\n"
    "    message: eval\n    pattern: eval(...)\n",
    "src/app.py": "print('hello')\n",
}


@dataclass
class GitHub:
    """GitHub's API as the trusted run uses it, plus the SOC's webhook."""

    token: str
    jobs: dict[str, str]  # job name -> conclusion
    pulls: list[dict] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # paths answering 500
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)
    soc: list[dict] = field(default_factory=list)

    def answer(  # noqa: PLR0911 -- one return per route, as a router reads
        self, method: str, url: str, body: dict, authorization: str
    ) -> tuple[int, object]:
        parts = urlsplit(url)
        self.requests.append((method, parts.path, parse_qs(parts.query)))
        if parts.path == "/hook":
            self.soc.append(body)
            return 200, {}
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if any(parts.path.startswith(prefix) for prefix in self.broken):
            return 500, {"message": "boom"}
        prefix = f"/repos/{REPO}"
        path = parts.path.removeprefix(prefix)
        if method == "GET" and path.startswith("/actions/runs/") and path.endswith("/jobs"):
            listed = [{"name": name, "conclusion": c} for name, c in self.jobs.items()]
            return 200, {"total_count": len(listed), "jobs": listed}
        if method == "GET" and path == "/pulls":
            head = parse_qs(parts.query).get("head", [""])[0]
            return 200, [p for p in self.pulls if p["head"]["label"] == head]
        if method == "GET" and path.startswith("/pulls/"):
            found = [p for p in self.pulls if str(p["number"]) == path.rsplit("/", 1)[1]]
            return (200, found[0]) if found else (404, {"message": "Not Found"})
        if method == "POST" and path.startswith("/statuses/"):
            self.statuses.append({**body, "sha": path.rsplit("/", 1)[1]})
            return 201, {}
        return 404, {"message": "Not Found"}


@pytest.fixture
def github() -> Iterator[GitHub]:
    state = GitHub(token="ghs_" + secrets.token_hex(18), jobs={})

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            code, document = state.answer(
                method, self.path, body, self.headers.get("Authorization", "")
            )
            data = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.handle_one("GET")

        def do_POST(self) -> None:
            self.handle_one("POST")

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Repos:
    origin: Path
    checkout: Path  # the default branch, as the trusted job checks it out
    work: Path


def repos(tmp_path: Path, head_files: dict[str, str | None], number: int = 7) -> tuple[Repos, str]:
    """An origin whose main holds BASE_POLICY and whose refs/pull/N/head holds the
    pull request; returns the pull request's head commit."""
    work = new_repo(tmp_path / "work")
    commit(work, "base", BASE_POLICY)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(origin))
    git(work, "switch", "-q", "-c", "feature")
    head = commit(work, "the pull request", head_files)
    git(work, "push", "-q", str(origin), f"HEAD:refs/pull/{number}/head")
    checkout = tmp_path / "trusted"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    return Repos(origin, checkout, work), head


def every_gate(conclusion: str = "success") -> dict[str, str]:
    return dict.fromkeys(gates.registry(), conclusion)


def event(tmp_path: Path, head: str, *, number: int | None, event_name: str = "pull_request",
          owner: str = "acme") -> Path:  # fmt: skip
    path = tmp_path / "event.json"
    pulls = [{"number": number, "head": {"sha": head}}] if number is not None else []
    path.write_text(
        json.dumps(
            {
                "workflow_run": {
                    "id": 4242,
                    "run_attempt": 1,
                    "event": event_name,
                    "head_sha": head,
                    "head_branch": "feature",
                    "head_repository": {"owner": {"login": owner}},
                    "html_url": f"https://github.example/{REPO}/actions/runs/4242",
                    "actor": {"login": "contributor"},
                    "pull_requests": pulls,
                }
            }
        ),
        encoding="utf-8",
    )
    return path


def pull(number: int, head: str, owner: str = "acme") -> dict:
    return {"number": number, "head": {"sha": head, "label": f"{owner}:feature"},
            "base": {"ref": "main"}}  # fmt: skip


def trusted(checkout: Path, github: GitHub, event_path: Path) -> tuple[int, str]:
    result = run(
        [sys.executable, "-m", "tools.trusted"],
        cwd=checkout,
        env=clean_env(
            GITHUB_EVENT_PATH=str(event_path),
            GITHUB_API_URL=github.url,  # type: ignore[attr-defined]
            GITHUB_TOKEN=github.token,
            GITHUB_REPOSITORY=REPO,
            SHUFFLE_WEBHOOK_URL=f"{github.url}/hook",  # type: ignore[attr-defined]
        ),
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert github.token not in output
    assert all(github.token not in json.dumps(sent) for sent in github.soc)
    return result.returncode, output


def test_a_weakening_pull_request_fails_the_status_and_the_soc_hears_of_it(
    tmp_path: Path, github: GitHub
) -> None:
    rules = BASE_POLICY[".semgrep/rules.yml"].replace("ERROR", "WARNING")
    repo, head = repos(
        tmp_path,
        {
            ".gitleaks.toml": "[extend]\nuseDefault = true\n\n[[allowlists]]\npaths = ['''.*''']\n",
            ".semgrep/rules.yml": rules,
        },
    )
    github.jobs, github.pulls = every_gate(), [pull(7, head)]
    code, output = trusted(repo.checkout, github, event(tmp_path, head, number=7))
    assert code == 0, output
    [status] = github.statuses
    assert status["sha"] == head
    assert status["context"] == "pipeline/policy"
    assert status["state"] == "failure"
    assert status["description"].startswith("policy: 2 weakening change(s); gates: policy failed")
    assert "1 allowlist entry(ies) added to .gitleaks.toml" in output
    assert "rule no-eval: ERROR -> WARNING" in output
    [sent] = github.soc
    assert sent["commit"] == head
    assert sent["status"] == "failed"
    assert sent["severity_label"] == "high"
    changes = {change["what"] for change in sent["policy_changes"]}
    assert changes == {"1 allowlist entry(ies) added to .gitleaks.toml",
                       "rule no-eval: ERROR -> WARNING"}  # fmt: skip
    # The pull request's own policy job said success; the trusted comparison decides.
    [policy] = [gate for gate in sent["gates"] if gate["gate"] == "policy"]
    assert policy["status"] == "failed"
    assert policy["blocking_rules"] == ["policy-weakened"]


def test_a_fork_is_found_by_its_head_and_its_real_job_results_reported(
    tmp_path: Path, github: GitHub
) -> None:
    repo, head = repos(tmp_path, {"src/app.py": "print('changed')\n"}, number=9)
    jobs = every_gate()
    jobs["sast"] = "failure"
    del jobs["test"]  # renamed or removed by the pull request's workflow
    github.jobs, github.pulls = jobs, [pull(9, head, owner="stranger")]
    code, output = trusted(repo.checkout, github, event(tmp_path, head, number=None,
                                                        owner="stranger"))  # fmt: skip
    assert code == 0, output
    lookups = [query for method, path, query in github.requests if path.endswith("/pulls")]
    assert lookups == [{"state": ["all"], "head": ["stranger:feature"]}]
    [status] = github.statuses
    assert status["state"] == "failure"
    assert status["description"] == "policy holds; gates: sast failed, test skipped"
    [sent] = github.soc
    assert sent["not_run"] == ["test"]
    assert sent["policy_changes"] == []


def test_a_legitimate_rule_passes_and_says_what_it_added(tmp_path: Path, github: GitHub) -> None:
    rules = BASE_POLICY[".semgrep/rules.yml"] + (
        "  - id: no-exec\n    severity: ERROR\n    languages: [python]\n"
        "    message: exec\n    pattern: exec(...)\n"
    )
    repo, head = repos(
        tmp_path, {".semgrep/rules.yml": rules, ".semgrep/tests/rules.py": "# ruleid: no-exec\n"}
    )
    github.jobs, github.pulls = every_gate(), [pull(7, head)]
    code, output = trusted(repo.checkout, github, event(tmp_path, head, number=7))
    assert code == 0, output
    [status] = github.statuses
    assert (status["state"], status["description"]) == (
        "success",
        f"policy holds; all {len(gates.registry())} gates passed",
    )
    assert "tightens: rule no-exec added (.semgrep/rules.yml)" in output
    [sent] = github.soc
    assert sent["status"] == "passed"
    assert [c["what"] for c in sent["policy_changes"]] == [
        "rule no-exec added",
        "rule tests changed (1 file(s))",
    ]


def test_a_push_is_judged_on_its_gates_alone(tmp_path: Path, github: GitHub) -> None:
    repo, head = repos(tmp_path, {"src/app.py": "print('pushed')\n"})
    github.jobs = every_gate()
    code, output = trusted(
        repo.checkout, github, event(tmp_path, head, number=None, event_name="push")
    )
    assert code == 0, output
    assert [s["state"] for s in github.statuses] == ["success"]
    assert not [path for _, path, _ in github.requests if "/pulls" in path]


def test_an_api_that_fails_is_an_error_status_and_the_soc_still_hears(
    tmp_path: Path, github: GitHub
) -> None:
    repo, head = repos(tmp_path, {"src/app.py": "print('x')\n"})
    github.broken = {f"/repos/{REPO}/actions/"}
    code, output = trusted(repo.checkout, github, event(tmp_path, head, number=7))
    assert code == 1
    assert "GitHub API GET /repos/acme/service/actions/runs/4242/jobs: HTTP 500" in output
    [status] = github.statuses
    assert status["state"] == "error"
    [sent] = github.soc
    assert sent["status"] == "unknown"


def test_a_pull_request_that_moved_on_is_not_judged_on_another_commit(
    tmp_path: Path, github: GitHub
) -> None:
    repo, head = repos(tmp_path, {"src/app.py": "print('x')\n"})
    github.jobs, github.pulls = every_gate(), [pull(7, "0" * 40)]
    code, output = trusted(repo.checkout, github, event(tmp_path, head, number=7))
    assert code == 1
    assert "no pull request has head" in output
    assert [s["state"] for s in github.statuses] == ["error"]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"workflow_run": {"id": "x"}})])
def test_an_event_that_is_not_a_workflow_run_is_one_line(
    tmp_path: Path, github: GitHub, content: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(content, encoding="utf-8")
    code, output = trusted(tmp_path, github, path)
    assert code == 1
    assert len(output.strip().splitlines()) == 1
    assert output.startswith("trusted: error: ")
    assert github.statuses == [] and github.soc == []
