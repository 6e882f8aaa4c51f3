"""Signing a delivery so the receiver can trust it and refuse a replay.

With a secret, every attempt carries:

    X-Pipeline-Timestamp: <Unix time in whole seconds, when the attempt was sent>
    X-Hub-Signature-256:  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

``timestamp`` is the header's ASCII digits, ``body`` the exact request body
bytes (UTF-8 JSON). Unlike GitHub, whose header of the same name covers the body
alone, the timestamp is signed too: a receiver recomputes the HMAC, compares it
with ``hmac.compare_digest``, rejects a timestamp outside a few minutes of its
clock, and drops an ``event_id`` it has already seen inside that window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Hub-Signature-256"
TIMESTAMP_HEADER = "X-Pipeline-Timestamp"


def signed_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), signed_message(timestamp, body), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def headers(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for one attempt; none without a secret."""
    if not secret:
        return {}
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}
