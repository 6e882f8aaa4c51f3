"""The notifier against a real webhook receiver on 127.0.0.1.

The receiver is http.server in a thread answering from a script; the notifier
runs as `python -m tools.notify` in a subprocess, exactly as nox runs it.
Tokens and secrets are made at run time, never written in the source.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from helpers import clean_env, run

from tools.notify import inputs, payload, target
from tools.notify.delivery import MAX_TOTAL_S, Policy, deliver_within, retry_after_s
from tools.verdict import GateRecord, Status

# Generous: a guard against a hung test, not a measurement.
SUBPROCESS_TIMEOUT_S = 90
FAST = ["--backoff", "0.05", "--connect-timeout", "2", "--read-timeout", "2"]
PAYLOAD_FIELDS = {
    "schema_version",
    "event_id",
    "dedupe_key",
    "timestamp",
    "title",
    "repository",
    "commit",
    "ref",
    "actor",
    "run_id",
    "run_url",
    "status",
    "severity",
    "severity_label",
    "source",
    "input_error",
    "duration_s",
    "gates",
    "gates_omitted",
    "not_run",
    "policy_changes",
    "policy_changes_omitted",
}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # read the request, then never answer
    trickle: bool = False  # answer one byte at a time, forever


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver answering each request with the next scripted reply
    (the last one repeats), recording what it received."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.received: list[Received] = []
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                reply = receiver.replies[min(len(receiver.received), len(receiver.replies)) - 1]
                if reply.hang:
                    receiver.release.wait(SUBPROCESS_TIMEOUT_S)
                    return
                if reply.trickle:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not receiver.release.wait(0.2):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass  # the request line holds the token; keep the test log clean

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(*replies: Reply) -> Receiver:
        started.append(Receiver(list(replies) or [Reply()]))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def secret() -> str:
    return "whsec" + secrets.token_hex(20)


def hook_url(server: Receiver, token: str) -> str:
    """A Shuffle-style URL carrying the token in its path and its query."""
    return f"{server.base}/api/v1/hooks/webhook_{token}?auth={token}"


def run_notify(
    cwd: Path, *args: str, hidden: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    result = run(
        [sys.executable, "-m", "tools.notify", *args],
        cwd=cwd,
        env=clean_env(**env),
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    for value in hidden:
        assert value not in output
    assert "Traceback" not in output
    return result


def write_record(directory: Path, **overrides: object) -> dict:
    record = {
        "schema_version": 1,
        "repository": "acme/taskapi",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "branch": "main",
        "started_at": "2026-01-02T03:04:05.000Z",
        "ended_at": "2026-01-02T03:05:05.000Z",
        "duration_s": 60.0,
        "status": "failed",
        "gates": [
            {
                "gate": "lint",
                "status": "passed",
                "started_at": "2026-01-02T03:04:05.000Z",
                "ended_at": "2026-01-02T03:04:09.000Z",
                "duration_s": 4.0,
                "findings": {"error": 0, "warning": 1, "note": 0},
                "reports": ["reports/lint.sarif"],
                "reason": None,
                "blocking": [],
            },
            {
                "gate": "secrets",
                "status": "failed",
                "started_at": "2026-01-02T03:04:09.000Z",
                "ended_at": "2026-01-02T03:04:19.000Z",
                "duration_s": 10.0,
                "findings": {"error": 2, "warning": 0, "note": 0},
                "reports": ["reports/secrets.sarif"],
                "reason": "2 blocking finding(s): aws-access-token, generic-api-key",
                "blocking": [
                    {
                        "rule": "aws-access-token",
                        "path": "src/leaky_module.py",
                        "line": 3,
                        "message": "matched AKIA" + secrets.token_hex(8).upper(),
                    },
                    {
                        "rule": "generic-api-key",
                        "path": "config/leaky.ini",
                        "line": 7,
                        "message": "Detected a Generic API Key",
                    },
                ],
            },
            {
                "gate": "test",
                "status": "skipped",
                "started_at": None,
                "ended_at": None,
                "duration_s": None,
                "findings": {},
                "reports": [],
                "reason": "a required gate failed",
                "blocking": [],
            },
        ],
    }
    record.update(overrides)
    (directory / "reports").mkdir(exist_ok=True)
    (directory / "reports" / "pipeline.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def verifies(request: Received, key: str) -> bool:
    """What a GitHub-style receiver does (the HMAC of the body alone), written
    from GitHub's documentation, not from the sender's code. Every other scheme
    is checked with its reference code in test_notify_receivers.py."""
    expected = hmac.new(key.encode(), request.body, hashlib.sha256)
    return hmac.compare_digest(
        request.headers.get("X-Hub-Signature-256", ""), "sha256=" + expected.hexdigest()
    )


# --- delivery against the real receiver ---------------------------------------------


def test_payload_arrives_complete_and_signed(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str, secret: str
) -> None:
    record = write_record(tmp_path)
    server = receiver(Reply(200))
    result = run_notify(
        tmp_path,
        hidden=(token, secret),
        SHUFFLE_WEBHOOK_URL=hook_url(server, token),
        SHUFFLE_WEBHOOK_SECRET=secret,
    )
    assert result.returncode == 0, result.stderr
    assert "delivered to 127.0.0.1" in result.stdout
    assert "warning" not in result.stderr  # plain http to loopback is fine

    [request] = server.received
    body = request.json
    assert set(body) == PAYLOAD_FIELDS
    assert body["schema_version"] == 1
    assert (body["repository"], body["commit"]) == (record["repository"], record["commit"])
    assert body["ref"] == "refs/heads/main"
    assert (body["status"], body["severity"], body["severity_label"]) == ("failed", 3, "high")
    assert body["source"] == "pipeline.json"
    assert body["input_error"] is None
    assert body["duration_s"] == 60.0
    assert body["timestamp"].endswith("Z")
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert request.headers["X-Pipeline-Event-Id"] == body["event_id"]
    assert len(body["dedupe_key"]) == 32
    assert body["gates"] == [
        {
            "gate": "lint",
            "status": "passed",
            "findings": {"error": 0, "warning": 1, "note": 0},
            "blocking_rules": [],
            "blocking_rules_omitted": 0,
            "debt": None,
            "suppressions": {"in_force": 0, "new": 0},
        },
        {
            "gate": "secrets",
            "status": "failed",
            "findings": {"error": 2, "warning": 0, "note": 0},
            "blocking_rules": ["aws-access-token", "generic-api-key"],
            "blocking_rules_omitted": 0,
            "debt": None,
            "suppressions": {"in_force": 0, "new": 0},
        },
        {
            "gate": "test",
            "status": "skipped",
            "findings": {},
            "blocking_rules": [],
            "blocking_rules_omitted": 0,
            "debt": None,
            "suppressions": {"in_force": 0, "new": 0},
        },
    ]
    # Counts and rule ids only: no message, path, matched text, reason or URL.
    leaked = record["gates"][1]["blocking"][0]["message"].removeprefix("matched ")
    for absent in (leaked, "src/leaky_module.py", "Detected a Generic", "required gate", token):
        assert absent not in request.body.decode()

    assert request.headers["webhook-timestamp"].isdigit()
    assert request.headers["webhook-id"] == body["event_id"]
    assert verifies(request, secret)
    assert not verifies(request, secret + "x")


def test_unsigned_without_a_secret(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(204))
    result = run_notify(tmp_path, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token))
    assert result.returncode == 0
    assert "UNSIGNED" in result.stdout
    [request] = server.received
    assert "X-Hub-Signature-256" not in request.headers


def test_500_then_200_delivers_with_the_same_event_id(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str, secret: str
) -> None:
    write_record(tmp_path)
    server = receiver(Reply(500), Reply(200))
    result = run_notify(
        tmp_path,
        *FAST,
        hidden=(token, secret),
        SHUFFLE_WEBHOOK_URL=hook_url(server, token),
        SHUFFLE_WEBHOOK_SECRET=secret,
    )
    assert result.returncode == 0
    assert "after 2 attempt(s)" in result.stdout
    first, second = server.received
    assert first.body == second.body  # same event_id, timestamp and everything else
    assert first.json["event_id"] == second.json["event_id"]
    assert [r.headers["X-Pipeline-Delivery-Attempt"] for r in (first, second)] == ["1", "2"]
    assert verifies(first, secret) and verifies(second, secret)


def test_429_waits_as_long_as_retry_after_asks(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(429, {"Retry-After": "1"}), Reply(200))
    result = run_notify(
        tmp_path, *FAST, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token)
    )
    assert result.returncode == 0
    assert "retrying in 1.0 s" in result.stdout  # not the 0.05 s backoff
    assert len(server.received) == 2


def test_retry_after_beyond_the_cap_stops(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(503, {"Retry-After": "3600"}), Reply(200))
    result = run_notify(
        tmp_path, *FAST, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token)
    )
    assert result.returncode == 0
    assert "NOT delivered" in result.stderr and "cap" in result.stderr
    assert len(server.received) == 1


def test_400_is_not_retried(tmp_path: Path, receiver: Callable[..., Receiver], token: str) -> None:
    server = receiver(Reply(400), Reply(200))
    result = run_notify(
        tmp_path, *FAST, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token)
    )
    assert result.returncode == 0
    assert "NOT delivered to 127.0.0.1: HTTP 400, not retried" in result.stderr
    assert len(server.received) == 1


def test_redirects_are_not_followed(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    elsewhere = receiver(Reply(200))
    server = receiver(
        Reply(307, {"Location": f"http://localhost:{elsewhere.server.server_address[1]}/x"})
    )
    result = run_notify(
        tmp_path, *FAST, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token)
    )
    assert result.returncode == 0
    assert "307 redirect to localhost not followed" in result.stderr
    assert (len(server.received), len(elsewhere.received)) == (1, 0)


def test_a_server_that_never_answers_is_abandoned_within_the_bound(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(hang=True))
    budget = ["--budget", "3", "--read-timeout", "1", "--connect-timeout", "1", "--backoff", "0.2"]
    started = time.monotonic()
    result = run_notify(
        tmp_path, *budget, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token)
    )
    print(f"never-answering server abandoned after {time.monotonic() - started:.1f} s")
    assert result.returncode == 0
    assert "NOT delivered" in result.stderr and "no answer in time" in result.stderr
    assert server.received
    assert len({request.json["event_id"] for request in server.received}) == 1


def test_a_trickling_server_is_abandoned_by_the_watchdog(
    receiver: Callable[..., Receiver], token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each byte arrives well within the read timeout, so only the hard bound ends it.
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = receiver(Reply(trickle=True))
    policy = Policy(read_timeout_s=2, budget_s=1, grace_s=1)
    webhook = target.parse(hook_url(server, token))
    result = deliver_within(webhook, b"{}", event_id="e", secret=None, policy=policy)
    assert not result.delivered
    assert result.reason == "abandoned after 2 s"


def test_default_bound_is_at_most_30_seconds() -> None:
    defaults = Policy()
    assert defaults.max_total_s == defaults.budget_s + defaults.grace_s
    assert defaults.max_total_s <= MAX_TOTAL_S <= 30
    # Without the deadline the retries alone could take longer: the deadline is what bounds.
    attempts = defaults.attempts * (defaults.connect_timeout_s + 2 * defaults.read_timeout_s)
    waits = sum(defaults.backoff(n) for n in range(1, defaults.attempts))
    assert attempts + waits > defaults.budget_s


def test_a_refused_port_warns_and_exits_0(tmp_path: Path, token: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks/{token}?auth={token}"
        result = run_notify(
            tmp_path, "--attempts", "2", *FAST, hidden=(token,), SHUFFLE_WEBHOOK_URL=url
        )
    assert result.returncode == 0
    assert "notify: warning: notification NOT delivered to 127.0.0.1" in result.stderr
    assert "after 2 attempt(s)" in result.stderr


# --- configuration at the edge ------------------------------------------------------


@pytest.mark.parametrize("value", [None, "   "])
def test_an_unset_url_skips(tmp_path: Path, value: str | None) -> None:
    env = {} if value is None else {"SHUFFLE_WEBHOOK_URL": value}
    result = run_notify(tmp_path, **env)
    assert result.returncode == 0
    assert result.stdout == "notify: notification skipped: SHUFFLE_WEBHOOK_URL is not set\n"


@pytest.mark.parametrize("template", ["ftp://hooks.example.com/{t}", "garbage{t}"])
def test_a_bad_url_fails_with_one_line(tmp_path: Path, token: str, template: str) -> None:
    result = run_notify(tmp_path, hidden=(token,), SHUFFLE_WEBHOOK_URL=template.format(t=token))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("notify: error: SHUFFLE_WEBHOOK_URL must be an http:// or https:// URL")


@pytest.mark.parametrize(
    "template",
    [
        "{t}:{t}",
        "https://",
        "https:///{t}",
        "https://hooks.example.com:99999/{t}",
        "https://hooks.example.com:0/{t}",
        "https://hooks example.com/{t}",
        "https://hooks.example.com/{t}\nX-Injected: 1",
        "http://[::1/{t}",
        "file:///etc/{t}",
    ],
)
def test_urls_that_are_refused(token: str, template: str) -> None:
    with pytest.raises(target.BadURL) as refused:
        target.parse(template.format(t=token))
    assert token not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "host", "loopback"),
    [
        ("https://hooks.example.com/x", "hooks.example.com", False),
        ("HTTP://LocalHost:8080/x", "localhost", True),
        ("http://127.0.0.2/x", "127.0.0.2", True),
        ("http://[::1]:9/x", "::1", True),
        ("  https://10.0.0.1/x  ", "10.0.0.1", False),
    ],
)
def test_urls_that_are_accepted(url: str, host: str, loopback: bool) -> None:
    webhook = target.parse(url)
    assert (webhook.host, webhook.loopback) == (host, loopback)


def test_plain_http_to_a_remote_host_warns(tmp_path: Path, token: str) -> None:
    result = run_notify(
        tmp_path,
        hidden=(token,),
        SHUFFLE_WEBHOOK_URL=f"http://hooks.example.invalid/hooks/{token}",
        PIPELINE_OFFLINE="1",
    )
    assert result.returncode == 0
    assert "warning: plain http to hooks.example.invalid" in result.stderr
    assert "skipped: PIPELINE_OFFLINE=1" in result.stdout


def test_ci_mode_from_the_environment(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(200))
    sha = secrets.token_hex(20)
    result = run_notify(
        tmp_path,
        hidden=(token,),
        SHUFFLE_WEBHOOK_URL=hook_url(server, token),
        PIPELINE_STATUS="failure",
        PIPELINE_GATE_RESULTS="lint=success, sast=failure\ntest=skipped",
        GITHUB_REPOSITORY="acme/taskapi",
        GITHUB_SHA=sha,
        GITHUB_REF="refs/pull/7/merge",
        GITHUB_ACTOR="octocat",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_RUN_ID="123456",
        GITHUB_RUN_ATTEMPT="2",
    )
    assert result.returncode == 0, result.stderr
    body = server.received[0].json
    assert body["source"] == "environment"
    assert (body["repository"], body["commit"], body["ref"]) == (
        "acme/taskapi",
        sha,
        "refs/pull/7/merge",
    )
    assert (body["actor"], body["run_id"]) == ("octocat", "123456")
    assert body["run_url"] == "https://github.com/acme/taskapi/actions/runs/123456/attempts/2"
    assert (body["status"], body["severity_label"]) == ("failed", "high")
    assert [(gate["gate"], gate["status"]) for gate in body["gates"]] == [
        ("lint", "passed"),
        ("sast", "failed"),
        ("test", "skipped"),
    ]
    assert body["dedupe_key"] == payload.dedupe_key("acme/taskapi", sha, "123456.2")


def test_local_mode_reads_git(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    server = receiver(Reply(200))
    result = run_notify(tmp_path, hidden=(token,), SHUFFLE_WEBHOOK_URL=hook_url(server, token))
    assert result.returncode == 0
    body = server.received[0].json
    assert (body["commit"], body["ref"]) == (head, "refs/heads/main")
    # The folder's name, never its absolute path: the payload leaves this machine.
    assert body["repository"] == tmp_path.resolve().name
    assert str(tmp_path.parent) not in server.received[0].body.decode()
    assert (body["status"], body["source"], body["run_url"], body["gates"]) == (
        "unknown",
        "none",
        None,
        [],
    )


def test_a_broken_record_still_notifies_then_fails(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "pipeline.json").write_text("{not json", encoding="utf-8")
    server = receiver(Reply(200))
    result = run_notify(
        tmp_path,
        hidden=(token,),
        SHUFFLE_WEBHOOK_URL=hook_url(server, token),
        PIPELINE_STATUS="success",
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line == (
        "notify: error: reports/pipeline.json is not valid JSON (line 1); "
        "notifying with status 'passed'"
    )
    body = server.received[0].json
    assert (body["status"], body["input_error"]) == ("passed", "reports/pipeline.json")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schema_version": 9}', "schema_version 9, expected 1"),
        (b'{"schema_version": "1", "status": "passed"}', "not an integer"),
        (b'{"schema_version": 1, "status": "green", "gates": []}', "no valid status"),
        (b'{"schema_version": 1, "status": "passed"}', "no gates list"),
        (b'{"schema_version": 1, "status": "passed", "gates": [{"gate": "a b"}]}', "gate #1"),
        (b'{"schema_version": 1, "n": 1' + b"1" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_broken_records_are_bad_input(tmp_path: Path, content: bytes, why: str) -> None:
    record = tmp_path / "pipeline.json"
    record.write_bytes(content)
    with pytest.raises(inputs.BadInput, match=why) as bad:
        inputs.load_record(record)
    assert bad.value.source == str(record)
    outcome, problems = inputs.read_outcome(record)
    assert (outcome.status, [problem.source for problem in problems]) == ("unknown", [str(record)])


def test_a_missing_record_is_not_an_error(tmp_path: Path) -> None:
    assert inputs.load_record(tmp_path / "absent.json") is None


def test_bad_gate_results_are_one_line(
    tmp_path: Path, receiver: Callable[..., Receiver], token: str
) -> None:
    server = receiver(Reply(200))
    result = run_notify(
        tmp_path,
        hidden=(token,),
        SHUFFLE_WEBHOOK_URL=hook_url(server, token),
        PIPELINE_GATE_RESULTS="lint=success test",
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "PIPELINE_GATE_RESULTS: 'test' is not a name=result pair" in line
    assert server.received[0].json["status"] == "unknown"


# --- the payload and its parts ------------------------------------------------------


def test_payload_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no git here: the record's commit is not checked against HEAD
    wide = "\U0001f512" * 300  # four UTF-8 bytes each: the worst case per character
    gates = [
        {
            "gate": f"g{index}-" + "x" * 60,
            "status": "failed",
            "findings": {"error": 10**30, "warning": 10**30, "note": 10**30},
            "blocking": [
                {
                    "rule": f"r{rule}-" + wide[:80],
                    "path": "leaky.py",
                    "line": 1,
                    "message": wide[:9],
                }
                for rule in range(30)
            ],
        }
        for index in range(40)
    ]
    # A pull request weakening policy in more ways than the payload lists.
    gates[0]["gate"] = "policy"
    gates[0]["blocking"] = [
        {"rule": "policy-weakened", "path": wide[:90], "line": None, "message": wide}
        for _ in range(50)
    ]
    write_record(tmp_path, repository=wide, commit=wide, branch=wide, gates=gates)
    outcome = inputs.load_record(tmp_path / "reports" / "pipeline.json")
    assert outcome is not None
    context = inputs.RunContext(wide, wide, wide, wide, wide, wide, wide)
    body = payload.build(outcome, context, input_error=wide).body()
    assert len(body) <= payload.MAX_BODY_BYTES
    document = json.loads(body)
    assert len(document["gates"]) == payload.MAX_GATES
    assert document["gates_omitted"] == 40 - payload.MAX_GATES
    assert document["gates"][1]["blocking_rules_omitted"] == 30 - payload.MAX_RULES_PER_GATE
    assert len(document["policy_changes"]) == payload.MAX_POLICY_CHANGES
    assert document["policy_changes_omitted"] == 50 - payload.MAX_POLICY_CHANGES
    assert "leaky.py" not in body.decode()
    print(f"worst-case payload: {len(body)} bytes (bound {payload.MAX_BODY_BYTES})")


def test_severity_follows_the_gates_that_failed() -> None:
    def gates(**statuses: str) -> list[GateRecord]:
        return [GateRecord(gate=name, status=Status(status)) for name, status in statuses.items()]

    assert payload.severity("passed", gates(lint="passed", test="passed")) == 1
    # What the skipped gates would have found is unknown: not a low-severity all-clear.
    assert payload.severity("failed", gates(lint="failed", test="skipped")) == 2
    assert payload.severity("failed", gates(lint="failed", test="passed")) == 1
    assert payload.severity("failed", gates(deps="failed", lint="failed")) == 2
    assert payload.severity("failed", gates(deps="failed", sast="failed")) == 3
    assert payload.severity("failed", gates(custom="failed")) == 2
    assert payload.severity("failed", []) == 2
    assert payload.severity("unknown", []) == 2
    assert payload.severity("cancelled", gates(secrets="cancelled")) == 1


def test_dedupe_key_is_deterministic_and_event_id_unique() -> None:
    outcome = inputs.Outcome(status="passed", gates=[], source="none", started_at="t0")
    context = inputs.RunContext("acme/taskapi", "abc", None, None, "42", "1", None)
    first, second = payload.build(outcome, context), payload.build(outcome, context)
    assert first.dedupe_key == second.dedupe_key
    assert first.event_id != second.event_id
    rerun = inputs.RunContext("acme/taskapi", "abc", None, None, "42", "2", None)
    assert payload.build(outcome, rerun).dedupe_key != first.dedupe_key


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_s("7") == 7.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=5), usegmt=True), now) == 5.0
    assert retry_after_s(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None


def test_messages_are_redacted(token: str) -> None:
    webhook = target.parse(f"https://user:{token}@hooks.example.com/h/{token}?k={token}")
    assert webhook.host == "hooks.example.com"
    assert token not in repr(webhook)
    assert token not in target.redact(f"failed for {webhook.url} and /h/{token}", webhook)
