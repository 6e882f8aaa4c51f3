"""OSV version semantics: ECOSYSTEM ranges in PEP 440 order, and explicit versions."""

from __future__ import annotations

import pytest
from packaging.version import Version

from tools.osv import matching
from tools.osv.matching import RangeError


def affected(events: list[dict[str, object]], version: str) -> bool:
    return any(i.contains(Version(version)) for i in matching.compile_range(events))


FLASK = [{"introduced": "0"}, {"fixed": "2.2.5"}, {"introduced": "2.3.0"}, {"fixed": "2.3.2"}]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1", True),
        ("2.2.4", True),
        ("2.2.5", False),
        ("2.2.9", False),
        ("2.3.0rc1", False),  # before the second interval opens
        ("2.3.0", True),
        ("2.3.1", True),
        ("2.3.2", False),
        ("3.0.0", False),
        ("0.dev0", True),  # "0" means from the first release, pre-releases included
    ],
)
def test_introduced_and_fixed_pairs(version: str, expected: bool) -> None:
    assert affected(FLASK, version) is expected


@pytest.mark.parametrize(
    ("version", "expected"), [("1.10.0", True), ("1.11.0", True), ("1.11.1", False)]
)
def test_last_affected_includes_its_version(version: str, expected: bool) -> None:
    events: list[dict[str, object]] = [{"introduced": "0"}, {"last_affected": "1.11.0"}]
    assert affected(events, version) is expected


def test_events_are_ordered_by_version_not_as_written() -> None:
    shuffled = [FLASK[3], FLASK[1], FLASK[2], FLASK[0]]
    assert matching.compile_range(shuffled) == matching.compile_range(FLASK)


def test_pep440_order_not_string_order() -> None:
    events: list[dict[str, object]] = [{"introduced": "1.9"}, {"fixed": "1.10"}]
    assert affected(events, "1.9.5")
    assert not affected(events, "1.10")
    assert not affected(events, "1.2")


def test_open_range_has_no_end() -> None:
    assert affected([{"introduced": "2.0"}], "99.0")
    assert not affected([{"introduced": "2.0"}], "1.9")


def test_equal_introduced_and_fixed_is_empty_and_last_affected_is_one_version() -> None:
    assert not affected([{"introduced": "1.0"}, {"fixed": "1.0"}], "1.0")
    assert affected([{"introduced": "1.0"}, {"last_affected": "1.0"}], "1.0")
    assert not affected([{"introduced": "1.0"}, {"last_affected": "1.0"}], "1.0.1")


def test_limit_events_are_ignored() -> None:
    assert affected([{"introduced": "0"}, {"limit": "abc"}, {"fixed": "2.0"}], "1.0")


@pytest.mark.parametrize(
    "events",
    [
        [{"introduced": "0"}, {"fixed": 1.1}],  # YAML's float for an unquoted 1.10
        [{"introduced": "0"}, {"patched": "1.0"}],
        [{"introduced": "0", "fixed": "1.0"}],
    ],
)
def test_unorderable_ranges_are_refused(events: list[dict[str, object]]) -> None:
    with pytest.raises(RangeError):
        matching.compile_range(events)


def test_a_version_that_is_not_pep_440_sorts_below_every_release() -> None:
    # As OSV orders PyPI versions; `2019-09-12` is real, in the PyPA database.
    introduced_by_date = [{"introduced": "2019-09-12"}, {"fixed": "2.0"}]
    assert affected(introduced_by_date, "1.0")
    assert affected(introduced_by_date, "0.0.1")
    assert not affected(introduced_by_date, "2.0")
    assert not affected([{"introduced": "0"}, {"fixed": "2019-09-12"}], "1.0")
    assert not affected([{"introduced": "0"}, {"last_affected": "2019-09-12"}], "0.1")
    assert matching.events(matching.compile_range(introduced_by_date)) == [
        {"introduced": "0"},
        {"fixed": "2.0"},
    ]


def test_union_merges_overlapping_and_touching_intervals() -> None:
    first = matching.compile_range([{"introduced": "1.0"}, {"fixed": "2.0"}])
    second = matching.compile_range([{"introduced": "2.0"}, {"last_affected": "2.5"}])
    apart = matching.compile_range([{"introduced": "3.0"}, {"fixed": "3.1"}])
    merged = matching.union([*apart, *second, *first])
    assert matching.events(merged) == [
        {"introduced": "1.0"},
        {"last_affected": "2.5"},
        {"introduced": "3.0"},
        {"fixed": "3.1"},
    ]


def test_events_round_trip_keeps_the_same_versions() -> None:
    intervals = matching.compile_range(FLASK)
    assert matching.compile_range(matching.events(intervals)) == intervals


@pytest.mark.parametrize(
    ("a", "b"),
    [("2.0", "2.0.0"), ("2", "2.0"), ("01.2", "1.2"), ("1.0rc1", "1rc1"), ("1.0-beta", "1b0")],
)
def test_equal_versions_share_a_key(a: str, b: str) -> None:
    assert matching.version_key(a) == matching.version_key(b)


def test_distinct_versions_and_non_pep440_strings_keep_distinct_keys() -> None:
    assert matching.version_key("1.10") != matching.version_key("1.1")
    assert matching.version_key("2.2.4") != matching.version_key("2.2.4.post1")
    assert matching.version_key(" not-a-version ") == "not-a-version"
