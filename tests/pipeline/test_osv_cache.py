"""The parsed advisory store: reused while nothing it was parsed from changed."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from conftest import build_advisory_db

from tools.osv import cache
from tools.osv.database import DatabaseError

FLASK_ADVISORY = Path("vulns/flask/PYSEC-2023-62.yaml")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_advisory_db(tmp_path / "advisory-database")


def ids(loaded: cache.Database, name: str, version: str) -> list[str]:
    return sorted(advisory.id for advisory in loaded.query(name, version))


def test_a_second_load_is_the_same_database_from_the_store(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    first = cache.load(tree, store)
    second = cache.load(tree, store)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert store.is_file()
    assert sorted(second.advisories) == sorted(first.advisories)
    assert second.warnings == first.warnings
    assert ids(second, "flask", "2.2.4") == ids(first, "flask", "2.2.4") == ["PYSEC-2023-62"]
    assert second.answer("flask", "2.2.4") == first.answer("flask", "2.2.4")


def test_a_changed_advisory_is_parsed_afresh(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    cache.load(tree, store)
    advisory = tree / FLASK_ADVISORY
    stat = advisory.stat()
    # Same size and timestamps, other bytes: only the content can tell.
    text = advisory.read_text(encoding="utf-8")
    advisory.write_text(text.replace("2.2.5", "2.2.6"), encoding="utf-8")
    os.utime(advisory, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    reloaded = cache.load(tree, store)
    assert not reloaded.from_cache
    assert ids(reloaded, "flask", "2.2.5") == ["PYSEC-2023-62"]
    assert cache.load(tree, store).from_cache


def test_an_added_or_removed_advisory_is_parsed_afresh(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    cache.load(tree, store)
    (tree / FLASK_ADVISORY).unlink()
    removed = cache.load(tree, store)
    assert not removed.from_cache
    assert ids(removed, "flask", "2.2.4") == []
    (tree / "vulns" / "flask" / "broken.yaml").write_text("[unclosed", encoding="utf-8")
    added = cache.load(tree, store)
    assert not added.from_cache
    assert any("broken.yaml: skipped" in warning for warning in added.warnings)


def test_the_same_files_elsewhere_are_another_database(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    cache.load(tree, store)
    moved = tree.rename(tmp_path / "moved")
    assert not cache.load(moved, store).from_cache


@pytest.mark.parametrize("damage", [b"", b"not a key\n", b"0" * 64 + b"\nnot a pickle"])
def test_a_damaged_store_is_a_miss_and_is_rewritten(
    tree: Path, tmp_path: Path, damage: bytes
) -> None:
    store = tmp_path / "store.pickle"
    store.write_bytes(damage)
    assert not cache.load(tree, store).from_cache
    assert cache.load(tree, store).from_cache


def test_a_store_with_the_right_key_but_broken_body_is_a_miss(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    cache.load(tree, store)
    key = store.read_bytes().split(b"\n", 1)[0]
    store.write_bytes(key + b"\ntruncated")
    assert not cache.load(tree, store).from_cache


def test_an_unwritable_store_only_costs_a_parse(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "missing-folder" / "store.pickle"
    loaded = cache.load(tree, store)
    assert ids(loaded, "flask", "2.2.4") == ["PYSEC-2023-62"]
    assert not store.exists()
    assert not cache.load(tree, store).from_cache


def test_a_zip_is_keyed_by_its_members(tree: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "all.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in sorted((tree / "vulns").rglob("*.*")):
            archive.write(path, path.relative_to(tree).as_posix())
    store = tmp_path / "store.pickle"
    assert not cache.load(bundle, store).from_cache
    assert cache.load(bundle, store).from_cache
    with zipfile.ZipFile(bundle, "a") as archive:
        archive.writestr("vulns/extra/broken.json", "{")
    assert not cache.load(bundle, store).from_cache


def test_no_database_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        cache.load(tmp_path / "nowhere", tmp_path / "store.pickle")


def test_without_a_store_the_database_is_parsed(tree: Path) -> None:
    loaded = cache.load(tree, None)
    assert not loaded.from_cache
    assert ids(loaded, "flask", "2.2.4") == ["PYSEC-2023-62"]
