"""Each receiver the SOC already has, verifying real deliveries with its own code.

The receivers are HTTP servers on 127.0.0.1 in a thread; the notifier runs as
`python -m tools.notify` in a subprocess, exactly as nox runs it. Each receiver
checks what it receives the way its reference implementation does: the
`standardwebhooks` library, GitHub's documented check (itself checked against
GitHub's published test vector), a static header compared as Shuffle compares
it. Secrets, tokens and keys are made at run time, never written in the source,
and no output may contain them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import httpx
import pytest
import standardwebhooks.webhooks
from standardwebhooks import Webhook, WebhookVerificationError

from tools.notify import signing

ROOT = Path(__file__).resolve().parent.parent
SUBPROCESS_TIMEOUT_S = 90
FAST = ["--backoff", "0.05", "--connect-timeout", "2", "--read-timeout", "2"]
AUTH_HEADERS = {
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hub-signature-256",
    "x-pipeline-timestamp",
}
# GitHub's published test vector ("Validating webhook deliveries"): a documented
# example, not a credential.
GITHUB_VECTOR_KEY = "It's a Secret to Everybody"
GITHUB_VECTOR_BODY = b"Hello, World!"
GITHUB_VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


# --- a receiver on loopback ---------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: dict | None = None
    drop: bool = False  # act on the request, then close the connection without an answer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names lower-cased, as HTTP compares them
    body: bytes
    answered: int | None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


Judge = Callable[[str, dict[str, str], bytes], Answer]


class Server:
    """An HTTP server answering each POST with what ``judge`` decides, keeping
    every request and its answer."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with server.lock:
                    answer = server.judge(self.path, headers, body)
                    server.seen.append(
                        Seen(self.path, headers, body, None if answer.drop else answer.status)
                    )
                if answer.drop:
                    self.close_connection = True
                    return
                content = json.dumps(answer.body).encode() if answer.body is not None else b""
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_args: object) -> None:
                pass  # the request line may hold a token; keep the test log clean

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def replay(self, seen: Seen, **changed: str) -> int:
        """Send ``seen`` again, as an attacker who captured it would, with
        ``changed`` headers; the receiver's answer."""
        headers = {
            name: value
            for name, value in seen.headers.items()
            if name not in {"host", "content-length", "connection", "accept-encoding"}
        }
        headers.update(changed)
        return httpx.post(self.base + seen.path, content=seen.body, headers=headers).status_code

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Judge], Server]]:
    started: list[Server] = []

    def start(judge: Judge) -> Server:
        started.append(Server(judge))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Replays go through httpx in this process: straight to loopback.
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def whsec() -> str:
    """A secret as the Standard Webhooks specification serializes one."""
    return signing.WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "PIPELINE_", "SHUFFLE_", "THEHIVE_"))
        and name.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def run_notify(
    cwd: Path, *args: str, hidden: tuple[str, ...], **env: str
) -> subprocess.CompletedProcess[str]:
    """notify as nox runs it; fails the test if any of ``hidden`` is printed."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.notify", *FAST, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    assert hidden, "name the values that must not be printed"
    for value in hidden:
        assert value not in output
    assert "Traceback" not in output
    return result


def write_record(directory: Path, **overrides: object) -> dict:
    record: dict = {
        "schema_version": 1,
        "repository": "acme/taskapi",
        "commit": secrets.token_hex(20),
        "branch": "main",
        "started_at": "2026-01-02T03:04:05.000Z",
        "duration_s": 60.0,
        "status": "failed",
        "gates": [
            {"gate": "lint", "status": "passed", "findings": {"warning": 1}, "blocking": []},
            {
                "gate": "secrets",
                "status": "failed",
                "findings": {"error": 2},
                "blocking": [{"rule": "aws-access-token"}, {"rule": "generic-api-key"}],
            },
        ],
    }
    record.update(overrides)
    (directory / "reports").mkdir(exist_ok=True)
    (directory / "reports" / "pipeline.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def masked(headers: Mapping[str, str], *values: str) -> dict[str, str]:
    """``headers`` fit to print: every secret value, and every signature, masked."""
    shown = {}
    for name, raw in headers.items():
        text = raw
        for secret in values:
            text = text.replace(secret, "***")
        if name in {"webhook-signature", "x-hub-signature-256"}:
            text = text.split(",")[0] + ",…" if "," in text else text.split("=")[0] + "=…"
        shown[name] = text
    return shown


# --- the receivers' own checks ------------------------------------------------------


def github_receiver_accepts(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """GitHub's documented check: HMAC-SHA256 of the raw body, hex, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-hub-signature-256", ""))


def standard_webhooks_judge(verifier: Webhook) -> tuple[Judge, list[str]]:
    """A receiver built on the Standard Webhooks library: verify, then act on
    each webhook-id once, answering 200 to a repeat without acting (the
    specification's idempotency advice). Returns the judge and the ids acted on."""
    acted: list[str] = []

    def judge(_path: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError as refused:
            return Answer(401, {"error": str(refused)})
        if headers["webhook-id"] not in acted:
            acted.append(headers["webhook-id"])
        return Answer(200)

    return judge, acted


def test_githubs_test_vector() -> None:
    assert signing.github(GITHUB_VECTOR_KEY, GITHUB_VECTOR_BODY) == GITHUB_VECTOR_SIGNATURE
    # The receiver below is GitHub's check, proven on GitHub's own vector first.
    assert github_receiver_accepts(
        GITHUB_VECTOR_KEY, {"x-hub-signature-256": GITHUB_VECTOR_SIGNATURE}, GITHUB_VECTOR_BODY
    )
    assert not github_receiver_accepts(
        GITHUB_VECTOR_KEY, {"x-hub-signature-256": GITHUB_VECTOR_SIGNATURE}, b"Hello, World?"
    )


# --- Standard Webhooks --------------------------------------------------------------


@pytest.mark.parametrize("form", ["whsec", "raw"])
def test_the_standard_webhooks_library_verifies_a_real_delivery(
    tmp_path: Path, serve: Callable[[Judge], Server], whsec: str, token: str, form: str
) -> None:
    # A whsec_ secret goes to the library as it is; any other secret as raw bytes.
    secret = whsec if form == "whsec" else secrets.token_urlsafe(32)
    verifier = Webhook(secret if form == "whsec" else secret.encode())
    judge, acted = standard_webhooks_judge(verifier)
    server = serve(judge)
    write_record(tmp_path)
    result = run_notify(
        tmp_path,
        hidden=(secret, token),
        SHUFFLE_WEBHOOK_URL=f"{server.base}/hooks/{token}",
        SHUFFLE_WEBHOOK_SECRET=secret,
    )
    assert result.returncode == 0, result.stderr
    assert "notification delivered to 127.0.0.1 (HTTP 200)" in result.stdout
    [delivery] = server.seen
    assert delivery.answered == 200
    assert verifier.verify(delivery.body, delivery.headers) == delivery.json
    assert acted == [delivery.json["event_id"]] == [delivery.headers["webhook-id"]]
    assert delivery.headers["webhook-signature"].startswith("v1,")


def test_every_attempt_verifies_under_one_webhook_id(
    tmp_path: Path, serve: Callable[[Judge], Server], whsec: str
) -> None:
    verifier = Webhook(whsec)
    answers = iter([Answer(503), Answer(200)])
    refused: list[str] = []

    def judge(_path: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError as error:
            refused.append(str(error))
        return next(answers)

    server = serve(judge)
    result = run_notify(
        tmp_path, hidden=(whsec,), SHUFFLE_WEBHOOK_URL=server.base, SHUFFLE_WEBHOOK_SECRET=whsec
    )
    assert "after 2 attempt(s)" in result.stdout
    assert refused == []
    first, second = server.seen
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == first.json["event_id"]
    assert first.body == second.body


def test_replays_are_refused_by_the_standard_webhooks_check(
    tmp_path: Path,
    serve: Callable[[Judge], Server],
    whsec: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judge, acted = standard_webhooks_judge(Webhook(whsec))
    server = serve(judge)
    result = run_notify(
        tmp_path, hidden=(whsec,), SHUFFLE_WEBHOOK_URL=server.base, SHUFFLE_WEBHOOK_SECRET=whsec
    )
    assert result.returncode == 0
    [original] = server.seen
    assert original.answered == 200

    # Replayed at once: authentic, so the receiver answers, but acts on its id once only.
    assert server.replay(original) == 200
    assert acted == [original.headers["webhook-id"]]

    # Re-stamped, as a stale capture would have to be to pass the clock check:
    # the timestamp is signed, so the signature no longer matches.
    restamped = {"webhook-timestamp": str(int(original.headers["webhook-timestamp"]) + 2)}
    assert server.replay(original, **restamped) == 401
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(whsec).verify(original.body, {**original.headers, **restamped})

    # Replayed ten minutes on, as captured: the library refuses it as too old.
    class TenMinutesOn(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return datetime.now(tz) + timedelta(minutes=10)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", TenMinutesOn)
    assert server.replay(original) == 401
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(whsec).verify(original.body, original.headers)
    assert acted == [original.headers["webhook-id"]]


# --- GitHub's X-Hub-Signature-256 ---------------------------------------------------


def test_a_github_style_receiver_verifies_a_real_delivery(
    tmp_path: Path, serve: Callable[[Judge], Server], whsec: str, token: str
) -> None:
    def judge(_path: str, headers: dict[str, str], body: bytes) -> Answer:
        return Answer(204 if github_receiver_accepts(whsec, headers, body) else 403)

    server = serve(judge)
    write_record(tmp_path)
    result = run_notify(
        tmp_path,
        hidden=(whsec, token),
        SHUFFLE_WEBHOOK_URL=f"{server.base}/hook?token={token}",
        SHUFFLE_WEBHOOK_SECRET=whsec,
    )
    assert result.returncode == 0, result.stderr
    assert [seen.answered for seen in server.seen] == [204]
    # The receiver holds the wrong secret: refused, not retried, a warning, exit 0.
    wrong = secrets.token_urlsafe(32)

    def wrong_judge(_path: str, headers: dict[str, str], body: bytes) -> Answer:
        return Answer(204 if github_receiver_accepts(wrong, headers, body) else 403)

    server.judge = wrong_judge
    result = run_notify(
        tmp_path,
        hidden=(whsec, wrong),
        SHUFFLE_WEBHOOK_URL=server.base,
        SHUFFLE_WEBHOOK_SECRET=whsec,
    )
    assert result.returncode == 0
    assert "notification NOT delivered to 127.0.0.1: HTTP 403, not retried" in result.stderr
    assert [seen.answered for seen in server.seen] == [204, 403]


# --- a static token header ----------------------------------------------------------


def shuffle_judge(header: str, expected: str) -> Judge:
    """Shuffle's webhook trigger (and n8n's header authentication): one header,
    compared with an exact value."""

    def judge(_path: str, headers: dict[str, str], _body: bytes) -> Answer:
        return Answer(200 if headers.get(header.lower()) == expected else 401)

    return judge


def test_a_static_token_header_is_what_shuffle_checks(
    tmp_path: Path, serve: Callable[[Judge], Server], token: str
) -> None:
    server = serve(shuffle_judge("X-Shuffle-Token", token))
    result = run_notify(
        tmp_path,
        hidden=(token,),
        SHUFFLE_WEBHOOK_URL=server.base,
        SHUFFLE_WEBHOOK_TOKEN_HEADER="X-Shuffle-Token",
        SHUFFLE_WEBHOOK_TOKEN=token,
    )
    assert result.returncode == 0, result.stderr
    assert "token header X-Shuffle-Token" in result.stdout
    assert [seen.answered for seen in server.seen] == [200]
    # Without a secret the delivery is unsigned, and says so.
    assert "UNSIGNED" in result.stdout
    assert not AUTH_HEADERS & set(server.seen[0].headers)

    other = secrets.token_urlsafe(24)
    result = run_notify(
        tmp_path,
        hidden=(token, other),
        SHUFFLE_WEBHOOK_URL=server.base,
        SHUFFLE_WEBHOOK_TOKEN_HEADER="X-Shuffle-Token",
        SHUFFLE_WEBHOOK_TOKEN=other,
    )
    assert result.returncode == 0
    assert "NOT delivered to 127.0.0.1: HTTP 401, not retried" in result.stderr


# --- every scheme at once, and choosing them ----------------------------------------


def test_one_delivery_satisfies_every_receiver_by_default(
    tmp_path: Path, serve: Callable[[Judge], Server], whsec: str, token: str
) -> None:
    sw_judge, _ = standard_webhooks_judge(Webhook(whsec))
    token_judge = shuffle_judge("Authorization", f"Bearer {token}")
    verdicts: list[tuple[int, int, int]] = []

    def judge(path: str, headers: dict[str, str], body: bytes) -> Answer:
        checks = (
            sw_judge(path, headers, body).status,
            200 if github_receiver_accepts(whsec, headers, body) else 403,
            token_judge(path, headers, body).status,
        )
        verdicts.append(checks)
        return Answer(max(checks))

    server = serve(judge)
    write_record(tmp_path)
    result = run_notify(
        tmp_path,
        hidden=(whsec, token),
        SHUFFLE_WEBHOOK_URL=server.base + "/api/v1/hooks/webhook_" + token[:8],
        SHUFFLE_WEBHOOK_SECRET=whsec,
        SHUFFLE_WEBHOOK_TOKEN_HEADER="Authorization",
        SHUFFLE_WEBHOOK_TOKEN=f"Bearer {token}",
    )
    assert result.returncode == 0, result.stderr
    assert verdicts == [(200, 200, 200)]
    assert "signed standard-webhooks, github, token header Authorization" in result.stdout
    print("one delivery's headers, secrets masked:")
    for name, value in masked(server.seen[0].headers, whsec, token).items():
        print(f"  {name}: {value}")


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        ("github", {"x-hub-signature-256"}),
        ("standard-webhooks", {"webhook-id", "webhook-timestamp", "webhook-signature"}),
        ("token", set()),
        ("legacy, token", {"x-hub-signature-256", "x-pipeline-timestamp"}),
        (
            "ALL",
            {"webhook-id", "webhook-timestamp", "webhook-signature", "x-hub-signature-256"},
        ),
    ],
)
def test_the_schemes_sent_are_chosen_by_configuration(
    tmp_path: Path,
    serve: Callable[[Judge], Server],
    *,
    whsec: str,
    token: str,
    chosen: str,
    expected: set[str],
) -> None:
    server = serve(lambda *_: Answer(200))
    result = run_notify(
        tmp_path,
        hidden=(whsec, token),
        SHUFFLE_WEBHOOK_URL=server.base,
        SHUFFLE_WEBHOOK_SECRET=whsec,
        SHUFFLE_WEBHOOK_TOKEN_HEADER="X-Token",
        SHUFFLE_WEBHOOK_TOKEN=token,
        SHUFFLE_WEBHOOK_SCHEMES=chosen,
    )
    assert result.returncode == 0, result.stderr
    [seen] = server.seen
    assert AUTH_HEADERS & set(seen.headers) == expected
    assert (seen.headers.get("x-token") == token) == ("token" in chosen or chosen == "ALL")


def first_release_receiver_accepts(secret: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    """The receiver the first release's README showed, as written there."""
    stamp = headers.get("X-Pipeline-Timestamp".lower(), "")
    if not stamp.isdigit():
        return False
    mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Hub-Signature-256".lower(), ""), "sha256=" + mac)


def test_legacy_keeps_the_first_releases_receivers_working(
    tmp_path: Path, serve: Callable[[Judge], Server], whsec: str
) -> None:
    def judge(_path: str, headers: dict[str, str], body: bytes) -> Answer:
        return Answer(200 if first_release_receiver_accepts(whsec.encode(), headers, body) else 403)

    server = serve(judge)
    env = {"SHUFFLE_WEBHOOK_URL": server.base, "SHUFFLE_WEBHOOK_SECRET": whsec}
    # By default X-Hub-Signature-256 is GitHub's: such a receiver refuses the delivery...
    run_notify(tmp_path, hidden=(whsec,), **env)
    # ...until the sender is told to keep the first release's scheme.
    run_notify(tmp_path, hidden=(whsec,), SHUFFLE_WEBHOOK_SCHEMES="standard-webhooks legacy", **env)
    assert [seen.answered for seen in server.seen] == [403, 200]
    assert "webhook-signature" in server.seen[1].headers


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SHUFFLE_WEBHOOK_SCHEMES": "hmac"}, "SHUFFLE_WEBHOOK_SCHEMES: 'hmac' is not one of"),
        ({"SHUFFLE_WEBHOOK_SCHEMES": "github,legacy"}, "github and legacy cannot both be sent"),
        ({"SHUFFLE_WEBHOOK_SCHEMES": "token"}, "asks for token, but SHUFFLE_WEBHOOK_TOKEN"),
        ({"SHUFFLE_WEBHOOK_TOKEN": "{token}"}, "SHUFFLE_WEBHOOK_TOKEN is set but"),
        ({"SHUFFLE_WEBHOOK_TOKEN_HEADER": "X-T"}, "SHUFFLE_WEBHOOK_TOKEN_HEADER is set but"),
        (
            {"SHUFFLE_WEBHOOK_TOKEN_HEADER": "X T", "SHUFFLE_WEBHOOK_TOKEN": "{token}"},
            "not a valid HTTP header name",
        ),
        (
            {"SHUFFLE_WEBHOOK_TOKEN_HEADER": "webhook-id", "SHUFFLE_WEBHOOK_TOKEN": "{token}"},
            "a header notify sets itself",
        ),
        (
            {"SHUFFLE_WEBHOOK_TOKEN_HEADER": "X-T", "SHUFFLE_WEBHOOK_TOKEN": "{token}\nX-I: 1"},
            "printable ASCII",
        ),
        ({"SHUFFLE_WEBHOOK_SECRET": "whsec_{token}!"}, "not base64"),
    ],
)
def test_unusable_scheme_settings_fail_in_one_line(
    tmp_path: Path,
    serve: Callable[[Judge], Server],
    token: str,
    env: dict[str, str],
    says: str,
) -> None:
    server = serve(lambda *_: Answer(200))
    values = {name: value.format(token=token) for name, value in env.items()}
    result = run_notify(tmp_path, hidden=(token,), SHUFFLE_WEBHOOK_URL=server.base, **values)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("notify: error: ") and says in line
    assert server.seen == []  # nothing is sent on a configuration that cannot be met
