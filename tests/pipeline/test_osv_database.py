"""Loading advisories: the PyPA tree and osv.dev zips, matching, and bad data."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ADVISORIES, MULTI_RANGE, write_json

from tools.osv import database
from tools.osv.database import Database, DatabaseError


@pytest.fixture(scope="module")
def db(advisory_db: Path) -> Database:
    return database.load(advisory_db)


def ids(db: Database, name: str, version: str | None) -> list[str]:
    return sorted(advisory.id for advisory in db.query(name, version))


def test_loads_every_fixture_without_warnings(db: Database) -> None:
    assert len(db.advisories) == 9
    assert db.warnings == []
    assert db.skipped == 0


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.2.4", ["PYSEC-2023-62"]),
        ("2.2.5", []),
        ("2.3.1", ["PYSEC-2023-62"]),
        ("2.3.2", []),
        ("3.1.3", []),
        ("0.12", ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"]),
    ],
)
def test_flask(db: Database, version: str, expected: list[str]) -> None:
    assert ids(db, "flask", version) == expected


def test_last_affected(db: Database) -> None:
    assert ids(db, "py", "1.11.0") == ["PYSEC-2022-42969"]
    assert ids(db, "py", "1.11.1") == []


def test_explicit_versions_only(db: Database) -> None:
    assert ids(db, "gratient", "0.5") == ["PYSEC-2024-1"]
    assert ids(db, "gratient", "0.5.0") == ["PYSEC-2024-1"]  # the same PEP 440 version
    assert ids(db, "gratient", "0.4") == []
    assert ids(db, "gratient", "0.6") == []


def test_withdrawn_never_matches(db: Database) -> None:
    assert ids(db, "redis", "7.0.10") == []
    assert ids(db, "redis", None) == []
    assert db.advisories["PYSEC-2023-73"].withdrawn  # still served by id


@pytest.mark.parametrize("name", ["jw.util", "jw-util", "JW_Util", "Jw.Util"])
def test_names_are_canonicalised_on_both_sides(db: Database, name: str) -> None:
    assert ids(db, name, "2.2") == ["PYSEC-2020-341"]
    assert ids(db, name, "2.3") == []


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.5", True), ("1.0", False), ("2.1", True), ("2.1.1", False), ("3.1", True), ("3.2", False)],
)
def test_several_ranges_and_entries_for_one_package(
    db: Database, version: str, expected: bool
) -> None:
    assert (ids(db, "multi-range", version) == ["TEST-2024-1"]) is expected


def test_no_version_lists_every_advisory_of_the_package(db: Database) -> None:
    assert ids(db, "flask", None) == ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"]


def test_timestamps_are_served_in_the_z_form(db: Database) -> None:
    unquoted = db.advisories["PYSEC-2023-95"].document  # YAML read these as datetimes
    assert unquoted["published"] == "2023-06-29T21:15:00Z"
    assert unquoted["modified"] == "2023-07-06T22:29:19.184837Z"
    synthetic = db.advisories["TEST-2024-1"].document
    assert synthetic["published"] == "2024-01-01T00:00:00.123456Z"
    assert synthetic["modified"] == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-05-02T18:15:00Z", "2023-05-02T18:15:00Z"),
        ("2023-05-02T20:15:00+02:00", "2023-05-02T18:15:00Z"),
        ("2023-05-02t18:15:00.5z", "2023-05-02T18:15:00.500000Z"),
        ("2023-05-02 18:15:00", "2023-05-02T18:15:00Z"),
        ("1-01-01T00:00:00Z", None),  # real, in the PyPA database
        ("yesterday", None),
        (12, None),
    ],
)
def test_rfc3339(value: object, expected: str | None) -> None:
    assert database.rfc3339(value) == expected


def test_the_wire_form_merges_a_packages_entries_under_its_canonical_name(db: Database) -> None:
    document = json.loads(db.wire(db.advisories["TEST-2024-1"], "multi-range"))
    mine = [a for a in document["affected"] if a["package"]["ecosystem"] == "PyPI"]
    assert len(mine) == 1
    assert mine[0]["package"]["name"] == "multi-range"
    assert mine[0]["ranges"] == [
        {
            "type": "ECOSYSTEM",
            "events": [
                {"introduced": "0"},
                {"fixed": "1.0"},
                {"introduced": "2.0"},
                {"last_affected": "2.1"},
                {"introduced": "3.0"},
                {"fixed": "3.2"},
            ],
        }
    ]
    assert [a["package"]["ecosystem"] for a in document["affected"]] == ["PyPI", "npm"]


def test_an_osv_dev_zip_of_json_files(tmp_path: Path, db: Database) -> None:
    bundle = tmp_path / "all.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in sorted(ADVISORIES.rglob("*.yaml")):
            document = database.jsonable(yaml.safe_load(path.read_text(encoding="utf-8")))
            archive.writestr(f"{path.stem}.json", json.dumps(document))
        archive.writestr("TEST-2024-1.json", json.dumps(MULTI_RANGE))
    from_zip = database.load(bundle)
    assert from_zip.warnings == []
    assert sorted(from_zip.advisories) == sorted(db.advisories)
    for name, version in [("flask", "2.2.4"), ("py", "1.11.0"), ("jw-util", "2.2")]:
        assert ids(from_zip, name, version) == ids(db, name, version) != []


def test_malformed_files_are_skipped_with_a_warning_naming_each(tmp_path: Path) -> None:
    vulns = tmp_path / "vulns"
    good = write_json(vulns / "ok" / "GOOD-1.json", {**MULTI_RANGE, "id": "GOOD-1"})
    broken = {
        "bad-yaml/BAD-1.yaml": "id: BAD-1\naffected: [unclosed\n",
        "bad-json/BAD-2.json": "{not json",
        "a-list/BAD-3.yaml": "- just\n- a list\n",
        "no-id/BAD-4.json": json.dumps({"affected": []}),
        "bad-affected/BAD-5.json": json.dumps({"id": "BAD-5", "affected": "flask"}),
        "bad-events/BAD-6.json": json.dumps(
            {
                "id": "BAD-6",
                "affected": [
                    {
                        "package": {"name": "x", "ecosystem": "PyPI"},
                        "ranges": [{"type": "ECOSYSTEM"}],
                    }
                ],
            }
        ),
        "binary/BAD-7.yaml": b"\xff\xfe\x00garbage",
    }
    for relative, content in broken.items():
        path = vulns / relative
        path.parent.mkdir(parents=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    loaded = database.load(tmp_path)
    assert list(loaded.advisories) == ["GOOD-1"]
    assert loaded.skipped == len(broken)
    for relative in broken:
        assert any(str(vulns / relative) in w and "skipped" in w for w in loaded.warnings), relative
    assert not any(str(good) in w for w in loaded.warnings)


def test_a_range_in_versions_that_are_not_pep_440_is_ordered_as_osv_orders_them(
    tmp_path: Path,
) -> None:
    def advisory(name: str, events: list[dict[str, str]]) -> dict:
        return {
            "id": name,
            "affected": [
                {
                    "package": {"name": name.lower(), "ecosystem": "PyPI"},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                    "versions": ["1.0"] if name == "STEAM-1" else [],
                }
            ],
        }

    write_json(
        tmp_path / "STEAM-1.json",
        advisory("STEAM-1", [{"introduced": "0"}, {"fixed": "2019-09-12"}]),
    )
    write_json(tmp_path / "DATED-1.json", advisory("DATED-1", [{"introduced": "2019-09-12"},
                                                               {"fixed": "2.0"}]))  # fmt: skip
    loaded = database.load(tmp_path)
    assert loaded.warnings == []
    # Fixed below every release: only the explicit list counts.
    assert ids(loaded, "steam-1", "1.0") == ["STEAM-1"]
    assert ids(loaded, "steam-1", "1.1") == []
    # Introduced below every release: from the first one.
    assert ids(loaded, "dated-1", "1.0") == ["DATED-1"]
    assert ids(loaded, "dated-1", "2.0") == []
    # pip-audit would crash parsing "2019-09-12": it is served in PEP 440 versions only.
    served = json.loads(loaded.wire(loaded.advisories["DATED-1"], "dated-1"))
    assert served["affected"][0]["ranges"][0]["events"] == [{"introduced": "0"}, {"fixed": "2.0"}]
    steam = json.loads(loaded.wire(loaded.advisories["STEAM-1"], "steam-1"))
    assert all(r["type"] != "ECOSYSTEM" for r in steam["affected"][0]["ranges"])


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    first = write_json(tmp_path / "a" / "DUP-1.json", {**MULTI_RANGE, "id": "DUP-1"})
    write_json(tmp_path / "b" / "DUP-1.json", {"id": "DUP-1", "affected": []})
    loaded = database.load(tmp_path)
    assert loaded.advisories["DUP-1"].source == str(first)
    assert any("already read" in w for w in loaded.warnings)


def test_hidden_folders_are_not_read(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\n", encoding="utf-8")
    write_json(tmp_path / "pkg" / "GOOD-1.json", {**MULTI_RANGE, "id": "GOOD-1"})
    loaded = database.load(tmp_path)
    assert list(loaded.advisories) == ["GOOD-1"]
    assert loaded.warnings == []


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        database.load(tmp_path / "nowhere")


def test_empty_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no OSV advisory found"):
        database.load(tmp_path)


def test_only_malformed_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "BAD-1.yaml").write_text("[unclosed\n", encoding="utf-8")
    with pytest.raises(DatabaseError, match=r"1 file\(s\) skipped"):
        database.load(tmp_path)


def test_a_file_that_is_neither_directory_nor_zip_is_an_error(tmp_path: Path) -> None:
    fake = tmp_path / "all.zip"
    fake.write_text("not a zip", encoding="utf-8")
    with pytest.raises(DatabaseError, match="neither a directory nor a zip"):
        database.load(fake)
