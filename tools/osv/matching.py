"""Which versions an OSV advisory affects, in PEP 440 order.

OSV describes affected versions two ways, and a version is affected when either
says so: an explicit ``versions`` list, and ``ECOSYSTEM`` ranges made of
``introduced`` / ``fixed`` / ``last_affected`` events. Events are evaluated in
version order (the schema does not promise they are written sorted): each
``introduced`` opens an interval, the next ``fixed`` closes it before that
version and ``last_affected`` closes it after it. ``introduced: "0"`` means
"since the first release", below every real version including pre-releases.

A version that is not PEP 440 (``2019-09-12``, seen in the PyPA database)
sorts below every PEP 440 version, as OSV orders PyPI versions (osv.dev and
osv-scalibr do the same): introduced at it means since the first release,
fixed at it means no release is affected.

Each range is compiled once, at load time, into disjoint intervals; a query is
then a few comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

INTRODUCED, FIXED, LAST_AFFECTED, LIMIT = "introduced", "fixed", "last_affected", "limit"
EVENT_KINDS = frozenset({INTRODUCED, FIXED, LAST_AFFECTED, LIMIT})
# The schema's sentinel for "from the very first version".
ORIGIN = "0"
# A version already in PEP 440's normal form: release, then optional pre, post, dev.
_NORMAL_FORM = re.compile(
    r"([0-9]+(?:\.[0-9]+)*)((?:a|b|rc)(?:0|[1-9][0-9]*))?(\.post(?:0|[1-9][0-9]*))?"
    r"(\.dev(?:0|[1-9][0-9]*))?"
)


class RangeError(ValueError):
    """An ECOSYSTEM range that cannot be evaluated in PEP 440 order."""


@dataclass(frozen=True, slots=True)
class Bound:
    version: Version
    text: str  # as the advisory wrote it: fix versions are reported verbatim


@dataclass(frozen=True, slots=True)
class Interval:
    start: Bound | None  # None: since the first release
    end: Bound | None  # None: no fix yet
    end_inclusive: bool = False  # True for last_affected, False for fixed

    def contains(self, version: Version) -> bool:
        if self.start is not None and version < self.start.version:
            return False
        if self.end is None:
            return True
        return version <= self.end.version if self.end_inclusive else version < self.end.version


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def version_key(text: str) -> str:
    """Equal PEP 440 versions get equal keys ("2.0" and "2.0.0"); other strings
    are compared as written."""
    text = text.strip()
    if normal := _NORMAL_FORM.fullmatch(text):
        # The common case without a full parse: the database lists ~140,000
        # versions, and parsing each one would double the load time.
        parts = [part.lstrip("0") or "0" for part in normal[1].split(".")]
        while len(parts) > 1 and parts[-1] == "0":
            parts.pop()
        return ".".join(parts) + text[normal.end(1) :]
    version = parse_version(text)
    return canonicalize_version(version) if version is not None else text


def _ordered(events: Iterable[Mapping[str, object]]) -> list[tuple[Version | None, str, str]]:
    """The events as (version, kind, text), in OSV's order for PyPI versions."""
    parsed: list[tuple[int, Version | None, int, str, str]] = []
    for event in events:
        if not isinstance(event, Mapping) or len(event) != 1:
            raise RangeError(f"an event must have exactly one key, not {event!r}")
        ((kind, value),) = event.items()
        if kind not in EVENT_KINDS:
            raise RangeError(f"unknown event {kind!r}")
        if kind == LIMIT:
            continue  # limits only bound commit walks in GIT ranges
        if not isinstance(value, str):
            # YAML turns an unquoted 1.10 into the float 1.1: refuse, never guess.
            raise RangeError(f"{kind} version {value!r} is not a string")
        # At equal versions an interval opens before it closes: introduced X with
        # fixed X is empty, with last_affected X it is exactly X.
        order = 0 if kind == INTRODUCED else 1
        version = None if kind == INTRODUCED and value.strip() == ORIGIN else parse_version(value)
        # The origin, and a version that is not PEP 440, sort below every release.
        parsed.append((0 if version is None else 1, version, order, kind, value))
    parsed.sort(key=lambda item: (item[0], item[1] or Version("0"), item[2]))
    return [(version, kind, text) for _rank, version, _order, kind, text in parsed]


def compile_range(events: Iterable[Mapping[str, object]]) -> tuple[Interval, ...]:
    """One ECOSYSTEM range's events as sorted, disjoint intervals.

    Raises RangeError when an event is not one of the schema's kinds, or its
    version is not a string (YAML's float 1.1 for an unquoted 1.10): such a
    range cannot be placed in order, and guessing would either hide or invent a
    vulnerability.
    """
    intervals: list[Interval] = []
    start: Bound | None = None
    open_ = False
    for version, kind, text in _ordered(events):
        bound = Bound(version, text) if version is not None else None
        if kind == INTRODUCED:
            if not open_:
                start, open_ = bound, True
        elif open_ and bound is None:
            open_ = False  # closed below every release: it affected none
        elif open_ and bound is not None:
            intervals.append(Interval(start, bound, end_inclusive=kind == LAST_AFFECTED))
            open_ = False
    if open_:
        intervals.append(Interval(start, None))
    return union(intervals)


def _start_key(interval: Interval) -> tuple[int, Version]:
    return (0, Version("0")) if interval.start is None else (1, interval.start.version)


def _ends_before(interval: Interval, start: Bound | None) -> bool:
    """True when ``interval`` ends strictly before a later interval's start,
    leaving a gap between them."""
    if interval.end is None or start is None:
        return False
    # [a, b) and [b, c) touch, and so do [a, b] and [b, c): both merge.
    return interval.end.version < start.version


def _later_end(a: Interval, b: Interval) -> Interval:
    if a.end is None:
        return a
    if b.end is None:
        return b
    if b.end.version > a.end.version or (
        b.end.version == a.end.version and b.end_inclusive and not a.end_inclusive
    ):
        return b
    return a


def union(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """The same set of versions as sorted, non-overlapping intervals."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=_start_key):
        if merged and not _ends_before(merged[-1], interval.start):
            last = merged[-1]
            later = _later_end(last, interval)
            merged[-1] = Interval(last.start, later.end, later.end_inclusive)
        else:
            merged.append(interval)
    return tuple(merged)


def events(intervals: Iterable[Interval]) -> list[dict[str, str]]:
    """Intervals written back as one ECOSYSTEM range's events."""
    written: list[dict[str, str]] = []
    for interval in intervals:
        written.append({INTRODUCED: interval.start.text if interval.start else ORIGIN})
        if interval.end is not None:
            written.append({LAST_AFFECTED if interval.end_inclusive else FIXED: interval.end.text})
    return written
