"""Which authentication the webhook delivery carries, chosen by configuration.

    standard-webhooks  webhook-id / webhook-timestamp / webhook-signature (needs the secret)
    github             X-Hub-Signature-256 over the body, GitHub's meaning (needs the secret)
    token              one static header, name and value from the environment
    legacy             the first release's X-Hub-Signature-256 over timestamp.body,
                       with X-Pipeline-Timestamp; for one release, instead of github

``SHUFFLE_WEBHOOK_SCHEMES`` unset, empty or ``all`` sends every scheme that is
configured: both signatures with a secret, the token header with a token. A
list asks for exactly those schemes, and one that cannot be sent (no secret, no
token) is an error, not a silent downgrade.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tools.notify import signing
from tools.notify.target import BadConfig

SECRET_ENV = "SHUFFLE_WEBHOOK_SECRET"  # noqa: S105 -- the variable's name, not its value
TOKEN_ENV = "SHUFFLE_WEBHOOK_TOKEN"  # noqa: S105 -- the variable's name, not its value
TOKEN_HEADER_ENV = "SHUFFLE_WEBHOOK_TOKEN_HEADER"  # noqa: S105 -- the variable's name, not its value
SCHEMES_ENV = "SHUFFLE_WEBHOOK_SCHEMES"

STANDARD, GITHUB, TOKEN, LEGACY = "standard-webhooks", "github", "token", "legacy"
KNOWN = (STANDARD, GITHUB, TOKEN, LEGACY)
NEEDS_SECRET = frozenset({STANDARD, GITHUB, LEGACY})
ALL = "all"

# RFC 9110 token characters: what a header name may be made of.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
# Visible ASCII, inner spaces allowed ("Bearer <token>"): nothing that could end
# the header line or be trimmed away on the way.
HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,4094}[\x21-\x7e])?")
# Headers notify sets itself, or that HTTP owns: a token header must not replace one.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "user-agent",
        signing.WEBHOOK_ID,
        signing.WEBHOOK_TIMESTAMP,
        signing.WEBHOOK_SIGNATURE,
        signing.HUB_SIGNATURE.lower(),
    }
)


@dataclass(frozen=True)
class Auth:
    """What the webhook delivery carries. Secret values stay out of repr."""

    schemes: tuple[str, ...] = ()
    secret: str | None = field(default=None, repr=False)
    token_header: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def hidden(self) -> tuple[str, ...]:
        """The values no output may contain."""
        return tuple(value for value in (self.secret, self.token) if value)

    @property
    def signed(self) -> bool:
        return any(scheme in NEEDS_SECRET for scheme in self.schemes)

    def describe(self) -> str:
        """How the delivery is authenticated, for the log: names, never values."""
        shown = [f"token header {self.token_header}" if s == TOKEN else s for s in self.schemes]
        if self.signed:
            return f"signed {', '.join(shown)}"
        why = f"{SECRET_ENV} is not set" if not self.secret else f"{SCHEMES_ENV} has no signature"
        return f"UNSIGNED ({why})" + (f", with {', '.join(shown)}" if shown else "")


def _chosen(raw: str, secret: str | None, token: str | None) -> tuple[str, ...]:
    names = [name for name in re.split(r"[\s,]+", raw.strip().lower()) if name]
    if ALL in names and len(names) > 1:
        raise BadConfig(f"{SCHEMES_ENV}: {ALL} stands alone, or name the schemes instead")
    if not names or names == [ALL]:
        return tuple(
            scheme
            for scheme, available in ((STANDARD, secret), (GITHUB, secret), (TOKEN, token))
            if available
        )
    for name in names:
        if name not in KNOWN:
            raise BadConfig(
                f"{SCHEMES_ENV}: {name[:40]!r} is not one of {', '.join(KNOWN)} (or {ALL})"
            )
    if GITHUB in names and LEGACY in names:
        raise BadConfig(
            f"{SCHEMES_ENV}: {GITHUB} and {LEGACY} cannot both be sent: "
            f"both are {signing.HUB_SIGNATURE}"
        )
    for name in names:
        if name in NEEDS_SECRET and not secret:
            raise BadConfig(f"{SCHEMES_ENV} asks for {name}, but {SECRET_ENV} is not set")
        if name == TOKEN and not token:
            raise BadConfig(f"{SCHEMES_ENV} asks for {TOKEN}, but {TOKEN_ENV} is not set")
    return tuple(dict.fromkeys(names))


def _token(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    header = env.get(TOKEN_HEADER_ENV, "").strip() or None
    token = env.get(TOKEN_ENV) or None
    if bool(header) != bool(token):
        present, missing = (
            (TOKEN_HEADER_ENV, TOKEN_ENV) if header else (TOKEN_ENV, TOKEN_HEADER_ENV)
        )
        raise BadConfig(f"{present} is set but {missing} is not: set both, or neither")
    if header is None or token is None:
        return None, None
    if not HEADER_NAME.fullmatch(header):
        raise BadConfig(f"{TOKEN_HEADER_ENV} is not a valid HTTP header name")
    if header.lower() in RESERVED_HEADERS or header.lower().startswith("x-pipeline-"):
        raise BadConfig(f"{TOKEN_HEADER_ENV} names {header}, a header notify sets itself")
    if not HEADER_VALUE.fullmatch(token):
        raise BadConfig(
            f"{TOKEN_ENV} must be printable ASCII without leading or trailing spaces "
            "(value not shown)"
        )
    return header, token


def from_environment(env: Mapping[str, str]) -> Auth:
    """The webhook's authentication; BadConfig when a variable is set but unusable."""
    secret = env.get(SECRET_ENV) or None
    header, token = _token(env)
    schemes = _chosen(env.get(SCHEMES_ENV, ""), secret, token)
    if STANDARD in schemes and secret:
        try:
            signing.standard_webhooks_key(secret)
        except signing.BadSecret as bad:
            raise BadConfig(f"{SECRET_ENV}: {bad} (value not shown)") from None
    return Auth(schemes=schemes, secret=secret, token_header=header, token=token)


def headers(auth: Auth, body: bytes, event_id: str, now: float | None = None) -> dict[str, str]:
    """The authentication headers of one attempt: each attempt signs afresh, so
    its timestamp is the time it was sent."""
    timestamp = str(int(time.time() if now is None else now))
    out: dict[str, str] = {}
    for scheme in auth.schemes:
        if scheme == STANDARD and auth.secret:
            key = signing.standard_webhooks_key(auth.secret)
            out[signing.WEBHOOK_ID] = event_id
            out[signing.WEBHOOK_TIMESTAMP] = timestamp
            out[signing.WEBHOOK_SIGNATURE] = signing.standard_webhooks(
                key, event_id, timestamp, body
            )
        elif scheme == GITHUB and auth.secret:
            out[signing.HUB_SIGNATURE] = signing.github(auth.secret, body)
        elif scheme == LEGACY and auth.secret:
            out[signing.LEGACY_TIMESTAMP] = timestamp
            out[signing.HUB_SIGNATURE] = signing.legacy(auth.secret, timestamp, body)
        elif scheme == TOKEN and auth.token_header and auth.token:
            out[auth.token_header] = auth.token
    return out
