"""Posting the body with httpx: explicit timeouts, bounded retries, a hard deadline.

Retried, with exponential backoff: connection errors, timeouts, a connection
closed without an answer, HTTP 429 and 5xx (waiting at least ``Retry-After``
when the server sends one, unless it asks for more than the cap: then the
attempt stops there). Never retried: any other 4xx, which a retry cannot fix.
Redirects are never followed (httpx ``follow_redirects=False``): a 3xx means not
delivered, since following it would hand the signed payload to an address the
operator did not configure; the message names the host it pointed to.

Every attempt sends the same body, so the same ``event_id``, and its own
signature timestamp. Time is bounded twice: no attempt starts and no wait ends
past ``Policy.budget_s`` (each attempt's timeouts are clipped to what is left),
and the whole delivery runs in a worker thread abandoned after
``Policy.max_total_s``, which also covers what httpx timeouts do not (a slow
DNS resolution, a server trickling its answer a byte at a time).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from tools.notify import signing
from tools.notify.target import URL_ENV, Target, redact

# The most a notification may add to a pipeline run, in seconds.
MAX_TOTAL_S = 30.0
# Too little time left for an attempt to be worth starting.
MIN_ATTEMPT_S = 0.5
RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
EVENT_HEADER = "X-Pipeline-Event-Id"
ATTEMPT_HEADER = "X-Pipeline-Delivery-Attempt"
USER_AGENT = f"pipeline-notify/1 httpx/{httpx.__version__}"


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
    status_code: int | None
    reason: str  # one line, never the URL


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


def attempt_once(
    client: httpx.Client,
    target: Target,
    body: bytes,
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
        # Streamed so that only the status line and headers are read: the
        # answer's body is not needed and could be large.
        with client.stream(
            "POST", target.url, content=body, headers=headers, timeout=timeout
        ) as response:
            code = response.status_code
            if 200 <= code < 300:
                return Attempt(code, f"HTTP {code}", final=True, delivered=True)
            if 300 <= code < 400:
                return Attempt(code, _redirect(response), final=True)
            if code == 429 or code >= 500:
                asked = retry_after_s(response.headers.get("retry-after"))
                return Attempt(code, f"HTTP {code}", final=False, retry_after_s=asked)
            why = f"HTTP {code}, not retried: check the URL's token and the secret"
            return Attempt(code, why, final=True)
    except RETRYABLE as error:
        return Attempt(None, describe(error, target), final=False)
    except httpx.HTTPError as error:
        return Attempt(None, f"{describe(error, target)}, not retried", final=True)


def deliver(
    target: Target,
    body: bytes,
    *,
    event_id: str,
    secret: str | None,
    policy: Policy,
    log: Callable[[str], None] = lambda _line: None,
) -> Result:
    deadline = time.monotonic() + policy.budget_s
    last = Attempt(None, "no attempt made", final=False)
    base = {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_HEADER: event_id}
    with httpx.Client(follow_redirects=False) as client:
        for number in range(1, policy.attempts + 1):
            left = deadline - time.monotonic()
            if left < MIN_ATTEMPT_S:
                why = f"{last.why}; the {policy.budget_s:g} s budget is spent"
                return Result(False, number - 1, last.code, why)
            headers = {**base, ATTEMPT_HEADER: str(number), **signing.headers(secret, body)}
            last = attempt_once(client, target, body, headers, left=left, policy=policy)
            if last.final:
                return Result(last.delivered, number, last.code, last.why)
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
                return Result(False, number, last.code, stop)
            log(f"attempt {number} to {target.host} failed ({last.why}); retrying in {wait:.1f} s")
            time.sleep(wait)
    return Result(False, 0, None, "no attempt made")


def deliver_within(
    target: Target,
    body: bytes,
    *,
    event_id: str,
    secret: str | None,
    policy: Policy,
    log: Callable[[str], None] = lambda _line: None,
) -> Result:
    """``deliver``, abandoned after ``policy.max_total_s`` whatever happens."""
    results: list[Result] = []

    def work() -> None:
        try:
            results.append(
                deliver(target, body, event_id=event_id, secret=secret, policy=policy, log=log)
            )
        except Exception as error:  # reported as one line, never a traceback
            detail = redact(str(error).splitlines()[0] if str(error) else "", target)
            results.append(
                Result(False, 0, None, f"internal error {type(error).__name__}: {detail}")
            )

    # httpx logs each request's full URL at INFO: keep that out of any log set up around us.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    worker = threading.Thread(target=work, name="notify-delivery", daemon=True)
    worker.start()
    worker.join(policy.max_total_s)
    if worker.is_alive() or not results:
        return Result(False, 0, None, f"abandoned after {policy.max_total_s:g} s")
    return results[0]
