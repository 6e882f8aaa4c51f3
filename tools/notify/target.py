"""The receivers' URLs (SHUFFLE_WEBHOOK_URL, THEHIVE_URL), checked and named by
their host only.

The URL of a webhook trigger usually embeds its token (in the path or the
query), so nothing here ever repeats the value: messages name the host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from tools import network
from tools.errors import NotifyError
from tools.notify import URL_ENV


class BadConfig(NotifyError):
    """A notify variable is set but unusable: one line naming the variable,
    never its value."""


class BadURL(BadConfig):
    """A receiver's URL is set but unusable; the message never contains it."""


@dataclass(frozen=True)
class Target:
    # Kept out of repr so that no traceback or debug print shows the token.
    url: str = field(repr=False)
    host: str
    scheme: str

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def plaintext_remote(self) -> bool:
        return self.scheme == "http" and not self.loopback


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse(raw: str, variable: str = URL_ENV) -> Target:
    value = raw.strip()
    problem = f"{variable} must be an http:// or https:// URL with a host (value not shown)"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
        raise BadURL(f"{problem}: it contains spaces or control characters")
    try:
        httpx.URL(value)
    except httpx.InvalidURL:
        raise BadURL(f"{problem}: it does not parse") from None
    try:
        where = network.address(value)
    except ValueError as error:
        raise BadURL(f"{problem}: it {error}") from None
    return Target(url=value, host=where.host, scheme=where.scheme)


def redact(text: str, target: Target) -> str:
    """``text`` with every part of the URL that may hold a token blanked out:
    a last guard for messages of third-party exceptions."""
    parts = urlsplit(target.url)
    for secret_part in (target.url, parts.path, parts.query, parts.password, parts.username):
        if secret_part and len(secret_part) > 1:
            text = text.replace(secret_part, "***")
    return text
