"""The signatures a receiver checks, each exactly as its own specification says.

Standard Webhooks (https://www.standardwebhooks.com), what its libraries verify:

    webhook-id:        the event id, the same on every attempt (an idempotency key)
    webhook-timestamp: Unix time in whole seconds, when the attempt was sent
    webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>

GitHub's ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``: the
body alone, so a receiver built for GitHub-style hooks checks it unchanged; for
the same reason it cannot tell a replay from the original.

The legacy scheme of notify's first release, kept one release for receivers
written from it: ``X-Pipeline-Timestamp`` and ``X-Hub-Signature-256`` over
``timestamp + "." + body``. It cannot go with GitHub's: both use that header.

``body`` is always the exact request body bytes. The three signed messages
cannot be mistaken for one another under one key: a body starts with ``{``, the
legacy message with the timestamp's digits, the Standard Webhooks one with the
event id, a uuid, whose first dot comes later than any timestamp's would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
HUB_SIGNATURE = "X-Hub-Signature-256"
LEGACY_TIMESTAMP = "X-Pipeline-Timestamp"
# How the Standard Webhooks specification marks a serialized symmetric secret.
WHSEC_PREFIX = "whsec_"


class BadSecret(ValueError):
    """A ``whsec_`` secret whose rest is not base64; never carries the value."""


def _hmac(key: bytes, message: bytes) -> hmac.HMAC:
    return hmac.new(key, message, hashlib.sha256)


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key a Standard Webhooks library derives from ``secret``: the
    base64 after ``whsec_``; any other secret is used as its UTF-8 bytes, which
    the libraries accept as a raw key (Python: ``Webhook(secret.encode())``)."""
    if not secret.startswith(WHSEC_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(WHSEC_PREFIX)
    try:
        # Padding may be left off, as the libraries allow.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadSecret("the part after whsec_ is not base64") from None
    if not key:
        raise BadSecret("the part after whsec_ is empty")
    return key


def standard_webhooks(key: bytes, event_id: str, timestamp: str, body: bytes) -> str:
    message = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(_hmac(key, message).digest()).decode("ascii")


def github(secret: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret.encode(), body).hexdigest()


def legacy(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret.encode(), timestamp.encode("ascii") + b"." + body).hexdigest()
