"""Deciding, quickly, whether a gate may use the network.

Tools left to find out for themselves hang for minutes on a closed network
(Semgrep's registry retries, pip-audit's per-package timeouts). A gate asks
here first: an explicit ``PIPELINE_OFFLINE=1`` wins, otherwise one short TCP
connect to the service's host answers in milliseconds either way.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

OFFLINE_ENV = "PIPELINE_OFFLINE"
PROBE_TIMEOUT_S = 3.0


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
