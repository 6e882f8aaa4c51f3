"""Posting the body with httpx: explicit timeouts, bounded retries, a hard deadline.

Retried, with exponential backoff: connection errors, timeouts, a connection
closed without an answer, HTTP 429 and 5xx (waiting at least ``Retry-After``
when the server sends one, unless it asks for more than the cap: then the
attempt stops there). Never retried: any other 4xx, which a retry cannot fix.
Redirects are never followed (httpx ``follow_redirects=False``): a 3xx means not
delivered, since following it would hand the signed payload to an address the
operator did not configure; the message names the host it pointed to.

A receiver may say that a refusal means it already has the event (TheHive
answers a second alert with the same ``sourceRef`` with HTTP 400): that answer
is "delivered", never a failure to retry or to warn about.

Every attempt sends the same body, so the same ``event_id``, and headers made
afresh (a signature carries the attempt's time). Time is bounded twice: no
attempt starts and no wait ends past ``Policy.budget_s`` (each attempt's
timeouts are clipped to what is left), and every delivery runs in a worker
thread abandoned after ``Policy.max_total_s``, which also covers what httpx
timeouts do not (a slow DNS resolution, a server trickling its answer a byte
at a time). Several receivers are served at once, within that one bound.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from tools.notify import schemes
from tools.notify.target import URL_ENV, Target, redact

# The most a notification may add to a pipeline run, in seconds.
MAX_TOTAL_S = 30.0
# Too little time left for an attempt to be worth starting.
MIN_ATTEMPT_S = 0.5
RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
EVENT_HEADER = "X-Pipeline-Event-Id"
ATTEMPT_HEADER = "X-Pipeline-Delivery-Attempt"
USER_AGENT = f"pipeline-notify/1 httpx/{httpx.__version__}"
# Enough of a refusal's body to recognise "already have it"; the rest is not read.
MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Policy:
    """Every delivery knob, in one place (``python -m tools.notify --help``)."""

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    attempts: int = 4
    backoff_s: float = 1.0  # the first wait; it doubles after each failed attempt
    backoff_cap_s: float = 8.0
    retry_after_cap_s: float = 10.0
    budget_s: float = 25.0
    # What the worker may overrun the budget by before it is abandoned.
    grace_s: float = 3.0

    @property
    def max_total_s(self) -> float:
        """The longest a delivery can take, whatever the server does."""
        return self.budget_s + self.grace_s

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_s * 2 ** (attempt - 1), self.backoff_cap_s)


@dataclass(frozen=True)
class Result:
    delivered: bool
    attempts: int
    reason: str  # one line, never the URL


def _no_headers() -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Delivery:
    """One receiver's delivery: the same body on every attempt, ``auth`` called
    for each attempt's authentication headers."""

    target: Target
    body: bytes
    event_id: str
    auth: Callable[[], dict[str, str]] = _no_headers
    # How log lines name the receiver; its host when empty.
    label: str = ""
    # (status, the answer's first bytes) -> why this refusal means "already
    # delivered", or None when it is a refusal.
    already_delivered: Callable[[int, bytes], str | None] | None = None
    # What to check when the receiver refuses the request (a 4xx).
    refused_hint: str = "check the URL's token and the secret"
    # Values no message may contain, whatever an exception says.
    hidden: tuple[str, ...] = field(default=(), repr=False)

    @property
    def name(self) -> str:
        return self.label or self.target.host

    def scrub(self, text: str) -> str:
        text = redact(text, self.target)
        for value in self.hidden:
            text = text.replace(value, "***")
        return text


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP
    date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe(error: httpx.HTTPError, target: Target) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection without a valid answer"
    detail = redact(str(error).splitlines()[0] if str(error) else "", target)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _redirect(response: httpx.Response) -> str:
    location = response.headers.get("location", "")
    host = urlsplit(location).hostname if location else None
    where = f" to {host}" if host else " within the same host" if location else ""
    return (
        f"HTTP {response.status_code} redirect{where} not followed: "
        f"set {URL_ENV} to the final address"
    )


@dataclass(frozen=True)
class Attempt:
    code: int | None
    why: str
    final: bool  # delivered, or retrying cannot help
    delivered: bool = False
    retry_after_s: float | None = None


def _first_bytes(response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    head = bytearray()
    for chunk in response.iter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    return bytes(head[:limit])


def judge(response: httpx.Response, delivery: Delivery) -> Attempt:
    """What one answer means: delivered, worth retrying, or final."""
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(code, f"HTTP {code}", final=True, delivered=True)
    if 300 <= code < 400:
        return Attempt(code, _redirect(response), final=True)
    if code == 429 or code >= 500:
        asked = retry_after_s(response.headers.get("retry-after"))
        return Attempt(code, f"HTTP {code}", final=False, retry_after_s=asked)
    if delivery.already_delivered is not None:
        why = delivery.already_delivered(code, _first_bytes(response))
        if why:
            return Attempt(code, f"HTTP {code}, {why}", final=True, delivered=True)
    return Attempt(code, f"HTTP {code}, not retried: {delivery.refused_hint}", final=True)


def attempt_once(
    client: httpx.Client,
    delivery: Delivery,
    headers: dict[str, str],
    *,
    left: float,
    policy: Policy,
) -> Attempt:
    timeout = httpx.Timeout(
        connect=min(policy.connect_timeout_s, left),
        read=min(policy.read_timeout_s, left),
        write=min(policy.read_timeout_s, left),
        pool=min(policy.connect_timeout_s, left),
    )
    try:
        # Streamed so that only the status line and headers are read (and, for
        # a refusal, its first bytes): the rest of an answer is never needed.
        with client.stream(
            "POST", delivery.target.url, content=delivery.body, headers=headers, timeout=timeout
        ) as response:
            return judge(response, delivery)
    except RETRYABLE as error:
        return Attempt(None, describe(error, delivery.target), final=False)
    except httpx.HTTPError as error:
        return Attempt(None, f"{describe(error, delivery.target)}, not retried", final=True)


def deliver(
    delivery: Delivery, *, policy: Policy, log: Callable[[str], None] = lambda _line: None
) -> Result:
    deadline = time.monotonic() + policy.budget_s
    last = Attempt(None, "no attempt made", final=False)
    base = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event_id,
    }
    with httpx.Client(follow_redirects=False) as client:
        for number in range(1, policy.attempts + 1):
            left = deadline - time.monotonic()
            if left < MIN_ATTEMPT_S:
                why = f"{last.why}; the {policy.budget_s:g} s budget is spent"
                return Result(False, number - 1, why)
            headers = {**base, ATTEMPT_HEADER: str(number), **delivery.auth()}
            last = attempt_once(client, delivery, headers, left=left, policy=policy)
            if last.final:
                return Result(last.delivered, number, last.why)
            wait = max(policy.backoff(number), last.retry_after_s or 0.0)
            stop = None
            if last.retry_after_s is not None and last.retry_after_s > policy.retry_after_cap_s:
                stop = (
                    f"{last.why} with Retry-After {last.retry_after_s:.0f} s, "
                    f"beyond the {policy.retry_after_cap_s:g} s cap"
                )
            elif number == policy.attempts:
                stop = f"{last.why} after {number} attempt(s)"
            elif time.monotonic() + wait + MIN_ATTEMPT_S > deadline:
                stop = f"{last.why}; no time left in the {policy.budget_s:g} s budget"
            if stop:
                return Result(False, number, stop)
            log(
                f"attempt {number} to {delivery.name} failed ({last.why}); retrying in {wait:.1f} s"
            )
            time.sleep(wait)
    return Result(False, 0, "no attempt made")


def _scrubbed(result: Result, delivery: Delivery) -> Result:
    reason = delivery.scrub(result.reason)
    return Result(result.delivered, result.attempts, reason)


def deliver_all(
    deliveries: list[Delivery],
    *,
    policy: Policy,
    log: Callable[[str], None] = lambda _line: None,
) -> list[Result]:
    """Every delivery at once, each its own ``deliver``; whichever is still
    running after ``policy.max_total_s`` is abandoned. One Result per delivery,
    in order."""
    results: list[Result | None] = [None] * len(deliveries)

    def work(index: int, delivery: Delivery) -> None:
        def scrubbed_log(line: str) -> None:
            log(delivery.scrub(line))

        try:
            outcome = deliver(delivery, policy=policy, log=scrubbed_log)
        except Exception as error:  # reported as one line, never a traceback
            detail = str(error).splitlines()[0] if str(error) else ""
            outcome = Result(False, 0, f"internal error {type(error).__name__}: {detail}")
        results[index] = _scrubbed(outcome, delivery)

    # httpx logs each request's full URL at INFO: keep that out of any log set up around us.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ends = time.monotonic() + policy.max_total_s
    workers = [
        threading.Thread(target=work, args=(index, delivery), name="notify-delivery", daemon=True)
        for index, delivery in enumerate(deliveries)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.0, ends - time.monotonic()))
    abandoned = Result(False, 0, f"abandoned after {policy.max_total_s:g} s")
    return [result or abandoned for result in results]


def deliver_within(
    target: Target,
    body: bytes,
    *,
    event_id: str,
    secret: str | None,
    policy: Policy,
    log: Callable[[str], None] = lambda _line: None,
) -> Result:
    """One webhook, signed with every scheme ``secret`` allows, abandoned after
    ``policy.max_total_s`` whatever happens."""
    auth = schemes.Auth(schemes=(schemes.STANDARD, schemes.GITHUB) if secret else (), secret=secret)
    delivery = Delivery(
        target,
        body,
        event_id,
        auth=lambda: schemes.headers(auth, body, event_id),
        hidden=auth.hidden,
    )
    return deliver_all([delivery], policy=policy, log=log)[0]
