"""The one clock every record and payload is stamped with: UTC, milliseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def today() -> date:
    """Today in UTC: what a suppression's `(until ...)` is held to."""
    return datetime.now(UTC).date()
