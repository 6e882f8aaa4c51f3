"""Deciding, quickly, whether a gate may use the network, and reading the URLs
it is pointed at.

Tools left to find out for themselves hang for minutes on a closed network
(Semgrep's registry retries, pip-audit's per-package timeouts). A gate asks
here first: an explicit ``PIPELINE_OFFLINE=1`` wins, otherwise one short TCP
connect to the service's host answers in milliseconds either way.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

OFFLINE_ENV = "PIPELINE_OFFLINE"
PROBE_TIMEOUT_S = 3.0
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Address:
    scheme: str  # "http" or "https", lower case
    host: str
    port: int


def address(url: str) -> Address:
    """Where an http(s) URL points. ValueError, with a reason that reads after the
    URL's name ("has no host"), never repeating the URL: it may hold a token."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("is not an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("is not a URL with a host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if port == 0:
        raise ValueError("has an invalid port")
    return Address(scheme, parts.hostname, port or DEFAULT_PORTS[scheme])


def offline_requested() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to host:port opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def shown_url(url: str) -> str:
    """The URL fit for a log or a report: no user, password, query or fragment,
    where tokens usually ride along."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
