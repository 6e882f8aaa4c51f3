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
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import httpx
import pytest
import standardwebhooks.webhooks
from helpers import clean_env, run
from markdown_it import MarkdownIt
from standardwebhooks import Webhook, WebhookVerificationError

from tools import notify
from tools.notify import signing, thehive

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
    hang: bool = False  # act on the request, then never answer


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
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with server.lock:
                    answer = server.judge(self.path, headers, body)
                    answered = None if answer.drop or answer.hang else answer.status
                    server.seen.append(Seen(self.path, headers, body, answered))
                if answer.hang:
                    server.release.wait(SUBPROCESS_TIMEOUT_S)
                if answer.drop or answer.hang:
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
        self.release.set()
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


def run_notify(
    cwd: Path, *args: str, hidden: tuple[str, ...], **env: str
) -> subprocess.CompletedProcess[str]:
    """notify as nox runs it; fails the test if any of ``hidden`` is printed."""
    result = run(
        [sys.executable, "-m", "tools.notify", *FAST, *args],
        cwd=cwd,
        env=clean_env(**env),
        timeout=SUBPROCESS_TIMEOUT_S,
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
        "ended_at": "2026-01-02T03:05:05.000Z",
        "duration_s": 60.0,
        "status": "failed",
        "gates": [
            {"gate": "lint", "status": "passed", "findings": {"warning": 1}, "blocking": []},
            {
                "gate": "secrets",
                "status": "failed",
                "findings": {"error": 2},
                "blocking": [
                    {"rule": "aws-access-token", "path": "src/app.py", "line": 1, "message": "m"},
                    {"rule": "generic-api-key", "path": "src/app.py", "line": 1, "message": "m"},
                ],
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
    assert result.stderr == (
        "notify: warning: notification NOT delivered to 127.0.0.1: HTTP 401, not retried: "
        "check the URL's token, the secret and SHUFFLE_WEBHOOK_TOKEN\n"
    )


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
    assert ("UNSIGNED (SHUFFLE_WEBHOOK_SCHEMES has no signature)" in result.stdout) == (
        chosen == "token"
    )
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
        ({"SHUFFLE_WEBHOOK_SCHEMES": "all legacy"}, "all stands alone"),
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


# --- TheHive ------------------------------------------------------------------------

OBSERVABLE_TYPES = {"other", "url", "hash", "domain", "fqdn", "ip", "mail", "filename"}


def alert_problems(alert: object) -> list[str]:
    """What TheHive 5 would refuse in an InputAlert, as far as notify's fields go."""
    if not isinstance(alert, dict):
        return ["not a JSON object"]
    problems = [
        f"{name} missing or empty"
        for name in ("type", "source", "sourceRef", "title", "description")
        if not isinstance(alert.get(name), str) or not alert[name].strip()
    ]
    for name, low, high in (("severity", 1, 4), ("tlp", 0, 4), ("pap", 0, 3)):
        if type(alert.get(name)) is not int or not low <= alert[name] <= high:
            problems.append(f"{name} not an integer in {low}..{high}")
    if type(alert.get("date")) is not int:
        problems.append("date not milliseconds since the epoch")
    if not isinstance(alert.get("tags"), list) or not all(
        isinstance(tag, str) for tag in alert["tags"]
    ):
        problems.append("tags not a list of strings")
    for observable in alert.get("observables", []):
        if observable.get("dataType") not in OBSERVABLE_TYPES or not isinstance(
            observable.get("data"), str
        ):
            problems.append(f"observable {observable!r} malformed")
    return problems


@dataclass
class FakeTheHive:
    """TheHive 5's POST /api/v1/alert: bearer key, the alert's required fields,
    and one alert per (type, source, sourceRef), a duplicate answered as TheHive
    answers it: HTTP 400, CreateError "... already exist in organisation ..."."""

    api_key: str
    organisation: str = "soc"
    drop_first_answer: bool = False  # create the first alert, then lose the answer
    alerts: dict[tuple[str, str, str], dict] = field(default_factory=dict)

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if not path.endswith("/api/v1/alert"):
            return Answer(404, {"type": "NotFoundError", "message": f"{path} not found"})
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return Answer(401, {"type": "AuthenticationError", "message": "Authentication failure"})
        try:
            alert = json.loads(body)
        except ValueError:
            return Answer(400, {"type": "BadRequest", "message": "Invalid Json"})
        if problems := alert_problems(alert):
            return Answer(400, {"type": "AttributeCheckingError", "message": "; ".join(problems)})
        key = (alert["type"], alert["source"], alert["sourceRef"])
        if key in self.alerts:
            message = f"Alert {':'.join(key)} already exist in organisation {self.organisation}"
            return Answer(400, {"type": "CreateError", "message": message})
        self.alerts[key] = alert
        created = {"_id": f"~{len(self.alerts)}", "_type": "Alert", "status": "New", **alert}
        return Answer(201, created, drop=self.drop_first_answer and len(self.alerts) == 1)


@pytest.fixture
def api_key() -> str:
    return secrets.token_urlsafe(30)


def test_thehive_alone_gets_one_alert_per_run(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str
) -> None:
    hive = FakeTheHive(api_key)
    server = serve(hive)
    write_record(tmp_path)
    env = {"THEHIVE_URL": server.base + "/thehive/", "THEHIVE_API_KEY": api_key}
    first = run_notify(tmp_path, hidden=(api_key,), **env)
    again = run_notify(tmp_path, hidden=(api_key,), **env)
    for result in (first, again):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert "TheHive alert delivered to 127.0.0.1 (HTTP 201) after 1 attempt(s)" in first.stdout
    assert (
        "TheHive alert delivered to 127.0.0.1 (HTTP 400, CreateError: TheHive already has "
        "this run's alert, so none was added) after 1 attempt(s)"
    ) in again.stdout
    assert len(hive.alerts) == 1
    assert [seen.answered for seen in server.seen] == [201, 400]
    assert {seen.path for seen in server.seen} == {"/thehive/api/v1/alert"}
    assert "x-organisation" not in server.seen[0].headers


def test_a_lost_answer_then_the_duplicate_counts_as_delivered(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str
) -> None:
    hive = FakeTheHive(api_key, drop_first_answer=True)
    server = serve(hive)
    write_record(tmp_path)
    result = run_notify(
        tmp_path, hidden=(api_key,), THEHIVE_URL=server.base, THEHIVE_API_KEY=api_key
    )
    assert result.returncode == 0
    assert "retrying" in result.stdout
    assert "already has this run's alert" in result.stdout and "after 2 attempt(s)" in result.stdout
    assert [seen.answered for seen in server.seen] == [None, 400]
    assert server.seen[0].body == server.seen[1].body
    assert len(hive.alerts) == 1


def test_the_alert_carries_what_thehive_needs(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str, whsec: str
) -> None:
    hive = FakeTheHive(api_key, organisation="blue-team")
    thehive_server, webhook = serve(hive), serve(standard_webhooks_judge(Webhook(whsec))[0])
    record = write_record(tmp_path)
    result = run_notify(
        tmp_path,
        hidden=(api_key, whsec),
        SHUFFLE_WEBHOOK_URL=webhook.base,
        SHUFFLE_WEBHOOK_SECRET=whsec,
        THEHIVE_URL=thehive_server.base,
        THEHIVE_API_KEY=api_key,
        THEHIVE_ORGANISATION="blue-team",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="acme/taskapi",
        GITHUB_RUN_ID="4242",
        GITHUB_RUN_ATTEMPT="1",
    )
    assert result.returncode == 0, result.stderr
    assert "notification delivered to 127.0.0.1 (HTTP 200)" in result.stdout
    assert "TheHive alert delivered to 127.0.0.1 (HTTP 201)" in result.stdout
    [posted] = webhook.seen
    [created] = thehive_server.seen
    assert created.headers["x-organisation"] == "blue-team"
    document, alert = posted.json, created.json
    run_url = "https://github.com/acme/taskapi/actions/runs/4242/attempts/1"
    assert (alert["type"], alert["source"]) == ("ci-pipeline", "pipeline-notify")
    assert alert["sourceRef"] == document["dedupe_key"]
    assert alert["title"] == document["title"]
    assert (alert["severity"], alert["tlp"], alert["pap"]) == (3, 2, 2)
    assert {"status:failed", "severity:high", "failed-gate:secrets"} <= set(alert["tags"])
    assert alert["externalLink"] == run_url
    assert [(o["dataType"], o["data"]) for o in alert["observables"]] == [
        ("other", "acme/taskapi"),
        ("other", record["commit"]),
        ("url", run_url),
    ]
    assert "aws\\-access\\-token, generic\\-api\\-key" in alert["description"]
    print("TheHive alert as received:")
    print(json.dumps({**alert, "description": "…"}, indent=2))
    print(alert["description"])


def inlines(markdown: str) -> list[list]:
    """Per paragraph or table cell, the inline tokens CommonMark (with GFM
    tables) makes of ``markdown``."""
    parsed = MarkdownIt("commonmark").enable("table").parse(markdown)
    return [token.children or [] for token in parsed if token.type == "inline"]


def inline_tokens(markdown: str) -> list:
    return [token for cell in inlines(markdown) for token in cell]


NASTY = [
    "acme/*bold* _em_ [x](https://evil.example) <img src=x onerror=alert(1)>",
    "`code` | pipe & &amp; \\ ~~del~~ # h1 > quote",
    "1. list\n- item\n=== setext\n    indented",
    "[ref]: https://evil.example 'title' ![img](https://evil.example/i.png)",
    "<https://evil.example> https://evil.example/autolink www.evil.example",
    "*unclosed _unclosed **x** __y__ \u2028line\u2029sep\x1b[31m",
]


@pytest.mark.parametrize("text", NASTY)
def test_escaped_text_reads_back_literally(text: str) -> None:
    flat = " ".join(thehive.LINE_BREAKING.sub(" ", text).split())
    for markdown in (thehive.escape(text), f"| a |\n|---|\n| {thehive.escape(text)} |"):
        tokens = inlines(markdown)[-1]  # the paragraph, or the table's one cell
        assert {token.type for token in tokens} <= {"text"}, markdown
        assert " ".join("".join(token.content for token in tokens).split()) == flat


def test_repository_strings_are_escaped_in_the_description(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str
) -> None:
    hive = FakeTheHive(api_key)
    server = serve(hive)
    repository, branch = NASTY[0], "feat/<script>alert(1)</script>#x [y](javascript:alert(1))"
    write_record(
        tmp_path,
        repository=repository,
        branch=branch,
        gates=[
            {
                "gate": "sast",
                "status": "failed",
                "findings": {"error": 2},
                "blocking": [
                    {"rule": "python.flask_*xss*", "path": "src/app.py", "line": 1, "message": "m"},
                    {"rule": "rule[0](x)", "path": "src/app.py", "line": 1, "message": "m"},
                ],
            }
        ],
    )
    result = run_notify(
        tmp_path,
        hidden=(api_key,),
        THEHIVE_URL=server.base,
        THEHIVE_API_KEY=api_key,
        GITHUB_ACTOR="**octo** _cat_",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="acme/taskapi",
        GITHUB_RUN_ID="7",
    )
    assert result.returncode == 0, result.stderr
    description = server.seen[0].json["description"]
    tokens = inline_tokens(description)
    texts = [token.content for token in tokens if token.type == "text"]
    # Only the markup notify writes itself: the bold heading and the run's link.
    assert {token.type for token in tokens} <= {
        "text",
        "strong_open",
        "strong_close",
        "link_open",
        "link_close",
    }
    assert [t.attrs["href"] for t in tokens if t.type == "link_open"] == [
        "https://github.com/acme/taskapi/actions/runs/7"
    ]
    # Every string from the repository reads back as the text it was.
    for literal in (
        repository,
        f"refs/heads/{branch}",
        "**octo** _cat_",
        "python.flask__xss_, rule_0__x_",  # rule ids as the payload sanitizes them
    ):
        assert literal in texts, literal


def test_thehive_refusals_are_warnings_not_retried(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str
) -> None:
    server = serve(FakeTheHive(api_key))
    wrong = secrets.token_urlsafe(30)
    result = run_notify(
        tmp_path, hidden=(api_key, wrong), THEHIVE_URL=server.base, THEHIVE_API_KEY=wrong
    )
    assert result.returncode == 0
    assert result.stderr == (
        "notify: warning: TheHive alert NOT delivered to 127.0.0.1: HTTP 401, not retried: "
        "check THEHIVE_API_KEY and THEHIVE_ORGANISATION\n"
    )
    assert [seen.answered for seen in server.seen] == [401]


@pytest.mark.parametrize(
    ("code", "answer", "duplicate"),
    [
        # TheHive 4 and 5 (AlertSrv.create, then Scalligraph's ErrorHandler).
        (
            400,
            {"type": "CreateError", "message": "Alert a:b:c already exist in organisation soc"},
            True,
        ),
        # TheHive 3, on Elasticsearch.
        (400, {"type": "ConflictError", "message": "[alert][x]: document already exists"}, True),
        # The alert was NOT created: one of its observables was refused.
        (400, {"type": "CreateError", "message": "Observable already exists"}, False),
        (400, {"type": "AttributeCheckingError", "message": "[title: missing]"}, False),
        (401, {"type": "AuthenticationError", "message": "Authentication failure"}, False),
        (400, "Alert already exists", False),
    ],
)
def test_which_refusals_mean_the_alert_exists(code: int, answer: object, duplicate: bool) -> None:
    raw = json.dumps(answer).encode()
    assert bool(thehive.already_exists(code, raw)) is duplicate
    assert thehive.already_exists(code, b"<html>") is None


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"THEHIVE_URL": "https://thehive.example.invalid"}, "THEHIVE_API_KEY is not"),
        (
            {"THEHIVE_URL": "http://thehive.example.invalid", "THEHIVE_API_KEY": "{key}"},
            "plain http to thehive.example.invalid",
        ),
        (
            {"THEHIVE_URL": "https://thehive.example.invalid/?k={key}", "THEHIVE_API_KEY": "{key}"},
            "without a query",
        ),
        ({"THEHIVE_URL": "thehive:{key}", "THEHIVE_API_KEY": "{key}"}, "THEHIVE_URL must be"),
        (
            {"THEHIVE_URL": "https://thehive.example.invalid", "THEHIVE_API_KEY": " {key}"},
            "THEHIVE_API_KEY must be printable ASCII",
        ),
    ],
)
def test_unusable_thehive_settings_fail_in_one_line(
    tmp_path: Path, api_key: str, env: dict[str, str], says: str
) -> None:
    values = {name: value.format(key=api_key) for name, value in env.items()}
    result = run_notify(tmp_path, hidden=(api_key,), **values)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("notify: error: ") and says in line


def test_offline_skips_a_remote_thehive(tmp_path: Path, api_key: str) -> None:
    result = run_notify(
        tmp_path,
        hidden=(api_key,),
        THEHIVE_URL="https://thehive.example.invalid",
        THEHIVE_API_KEY=api_key,
        PIPELINE_OFFLINE="1",
    )
    assert result.returncode == 0
    assert result.stdout == (
        "notify: TheHive alert skipped: PIPELINE_OFFLINE=1 forbids reaching "
        "thehive.example.invalid\n"
    )


def test_a_hung_thehive_delays_nothing_past_the_bound(
    tmp_path: Path, serve: Callable[[Judge], Server], api_key: str, token: str
) -> None:
    webhook = serve(shuffle_judge("X-Token", token))
    hung = serve(lambda *_: Answer(201, hang=True))
    bound = ["--budget", "3", "--read-timeout", "1", "--connect-timeout", "1"]
    started = time.monotonic()
    result = run_notify(
        tmp_path,
        *bound,
        hidden=(api_key, token),
        SHUFFLE_WEBHOOK_URL=webhook.base,
        SHUFFLE_WEBHOOK_TOKEN_HEADER="X-Token",
        SHUFFLE_WEBHOOK_TOKEN=token,
        THEHIVE_URL=hung.base,
        THEHIVE_API_KEY=api_key,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0
    assert "notification delivered to 127.0.0.1 (HTTP 200)" in result.stdout
    assert "TheHive alert NOT delivered to 127.0.0.1: no answer in time" in result.stderr
    # Served side by side: the two together take what one may, budget plus grace.
    assert elapsed < 3 + 3 + 5, elapsed
    assert len({seen.json["sourceRef"] for seen in hung.seen}) == 1


def test_thehive_alone_is_a_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline starts notify only when this says there is somewhere to post.
    monkeypatch.delenv("SHUFFLE_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("THEHIVE_URL", "https://thehive.example.invalid")
    assert notify.configured()
    monkeypatch.setenv("THEHIVE_URL", " ")
    assert not notify.configured()
