"""Loading OSV advisories into an index by canonical package name.

Two layouts are read:

- a directory of ``.yaml`` / ``.yml`` / ``.json`` advisories, such as a clone
  of the PyPA Advisory Database (``vulns/<package>/<ID>.yaml``; when the
  directory has a ``vulns/`` folder only that is read, and hidden folders such
  as ``.git`` or ``.github`` never are);
- a zip of the same files, such as osv.dev's per-ecosystem export
  (``PyPI/all.zip``, one ``<ID>.json`` per advisory).

A file that is not a readable advisory is skipped with a warning naming it; a
database with no advisory at all is an error. Advisories are normalised once,
at load time, into what pip-audit can read: timestamps in the ``...Z`` form its
parser requires, and ECOSYSTEM ranges written back in PEP 440 versions only (a
version that is not PEP 440 sorts below every release, as OSV orders PyPI
versions); a range that cannot be ordered at all is left out with a warning
rather than crashing pip-audit.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tools.errors import DatabaseError
from tools.osv import matching
from tools.osv.matching import Interval, RangeError

try:  # libyaml parses the full PyPA database in about a second, pure Python in ten
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - every PyYAML wheel ships libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

ECOSYSTEM = "PyPI"
SUFFIXES = (".yaml", ".yml", ".json")
# Enough warnings to see what kind of trouble a database has; the rest are counted.
MAX_WARNINGS_SHOWN = 20
# A real advisory is a few kilobytes; anything this large is not one.
MAX_FILE_BYTES = 8 * 1024 * 1024
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*([Zz]|[+-]\d{2}:?\d{2})?"
)


class MalformedAdvisory(ValueError):
    """One file is not a usable OSV advisory."""


@dataclass(frozen=True, slots=True)
class PackageEntry:
    """What one advisory says about one package."""

    name: str  # canonical (PEP 503)
    intervals: tuple[Interval, ...]
    versions: frozenset[str]  # matching.version_key of each listed version

    def affects(self, version: Version | None, key: str) -> bool:
        if key in self.versions:
            return True
        return version is not None and any(i.contains(version) for i in self.intervals)


@dataclass(slots=True)
class Advisory:
    id: str
    source: str  # the file it came from, for warnings
    document: dict  # the advisory as served, normalised for pip-audit
    packages: dict[str, PackageEntry]
    withdrawn: bool


@dataclass
class Database:
    source: str
    advisories: dict[str, Advisory] = field(default_factory=dict)
    by_package: dict[str, list[Advisory]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    load_seconds: float = 0.0
    from_cache: bool = False
    _wire: dict[tuple[str, str], bytes] = field(default_factory=dict, repr=False)

    def query(self, name: str, version: str | None) -> list[Advisory]:
        """The advisories affecting ``name`` at ``version`` (all of the
        package's advisories when no version is given). Withdrawn advisories
        never match."""
        package = canonicalize_name(name)
        candidates = self.by_package.get(package, [])
        if version is None:
            return list(candidates)
        parsed, key = matching.parse_version(version), matching.version_key(version)
        return [a for a in candidates if a.packages[package].affects(parsed, key)]

    def answer(self, name: str, version: str | None) -> bytes:
        """The body of a ``/v1/query`` answer: ``{}`` when nothing matches, as
        osv.dev answers, else ``{"vulns": [...]}``."""
        package = canonicalize_name(name)
        matches = self.query(package, version)
        if not matches:
            return b"{}"
        return b'{"vulns": [' + b", ".join(self.wire(a, package) for a in matches) + b"]}"

    def wire(self, advisory: Advisory, package: str) -> bytes:
        """One advisory as served for one package, serialised once and cached."""
        cache_key = (advisory.id, package)
        body = self._wire.get(cache_key)
        if body is None:
            body = json.dumps(wire_document(advisory, package), ensure_ascii=False).encode()
            self._wire[cache_key] = body
        return body


def shown_warnings(warnings: list[str]) -> list[str]:
    shown = warnings[:MAX_WARNINGS_SHOWN]
    if len(warnings) > MAX_WARNINGS_SHOWN:
        shown.append(f"... and {len(warnings) - MAX_WARNINGS_SHOWN} more warning(s)")
    return shown


def wire_document(advisory: Advisory, package: str) -> dict:
    """The advisory with its entries for ``package`` merged into one.

    pip-audit reads fix versions from the first ECOSYSTEM range of one entry,
    and only when the entry's name equals the canonical name it queried. So
    the package's ranges go out as one ECOSYSTEM range covering exactly the
    same versions (their union), under the canonical name, followed by the
    entries' other ranges (GIT) and the union of their ``versions`` lists.
    """
    entry = advisory.packages[package]
    affected: list[dict] = []
    mine: list[dict] = []
    for item in advisory.document.get("affected") or []:
        (mine if _entry_name(item) == package else affected).append(item)
    ranges: list[dict] = []
    if entry.intervals:
        ranges.append({"type": "ECOSYSTEM", "events": matching.events(entry.intervals)})
    versions: dict[str, None] = {}
    for item in mine:
        ranges.extend(r for r in item.get("ranges") or [] if r.get("type") != "ECOSYSTEM")
        versions.update(dict.fromkeys(v for v in item.get("versions") or [] if isinstance(v, str)))
    merged = {**mine[0], "package": {**mine[0]["package"], "name": package}, "ranges": ranges}
    if versions:
        merged["versions"] = list(versions)
    else:
        merged.pop("versions", None)
    return {**advisory.document, "affected": [merged, *affected]}


def _entry_name(item: dict) -> str | None:
    package = item.get("package") or {}
    if package.get("ecosystem") != ECOSYSTEM:
        return None
    return canonicalize_name(package["name"])


def rfc3339(value: object) -> str | None:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC, the only forms
    pip-audit's parser accepts; None when it is not a timestamp."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and (match := _TIMESTAMP.fullmatch(value.strip())):
        day, clock, fraction, zone = match.groups()
        zone = "+00:00" if zone in (None, "Z", "z") else zone
        if ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        micro = f".{fraction[:6].ljust(6, '0')}" if fraction else ""
        try:
            moment = datetime.fromisoformat(f"{day}T{clock}{micro}{zone}")
        except ValueError:
            return None
    else:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def jsonable(value: object) -> object:
    """YAML's types as JSON's: timestamps become RFC 3339 strings, keys strings."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return rfc3339(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise MalformedAdvisory(reason)


def _optional_str_list(document: dict, key: str) -> None:
    value = document.get(key)
    _require(
        value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        f"{key} is not a list of strings",
    )


def _check_header(document: dict) -> None:
    advisory_id = document.get("id")
    _require(isinstance(advisory_id, str) and bool(advisory_id.strip()), "no id")
    for key in ("summary", "details"):
        _require(document.get(key) is None or isinstance(document[key], str), f"{key} not text")
    _optional_str_list(document, "aliases")
    if "schema_version" in document:
        try:
            Version(str(document["schema_version"]))
        except InvalidVersion:
            raise MalformedAdvisory(f"schema_version {document['schema_version']!r}") from None
    _require(
        document.get("affected") is None or isinstance(document["affected"], list),
        "affected is not a list",
    )


def _normalise_timestamps(document: dict, where: str, warnings: list[str]) -> None:
    for key in ("published", "modified"):
        if document.get(key) is not None:
            stamp = rfc3339(document[key])
            if stamp is None:
                warnings.append(f"{where}: {key} {document[key]!r} is not RFC 3339: left out")
                document.pop(key)
            else:
                document[key] = stamp
    if document.get("withdrawn") is not None:
        # Withdrawn whatever the form of the date: only its presence matters.
        document["withdrawn"] = rfc3339(document["withdrawn"]) or str(document["withdrawn"])


def _check_entry(item: object) -> str:
    """The package name of a well-formed affected entry."""
    if not isinstance(item, dict):
        raise MalformedAdvisory("an affected entry is not a mapping")
    package = item.get("package")
    _require(isinstance(package, dict), "an affected entry has no package")
    name = package.get("name")
    _require(isinstance(name, str) and bool(name.strip()), "a package has no name")
    _require(item.get("ranges") is None or isinstance(item["ranges"], list), "ranges not a list")
    _require(
        item.get("versions") is None or isinstance(item["versions"], list), "versions not a list"
    )
    for range_ in item.get("ranges") or []:
        _require(isinstance(range_, dict), "a range is not a mapping")
        _require(isinstance(range_.get("type"), str), "a range has no type")
        _require(isinstance(range_.get("events"), list), "a range has no events list")
    return name


def _compile_entry(item: dict, where: str, warnings: list[str]) -> tuple[list[Interval], list[str]]:
    """One PyPI entry's intervals and listed versions. Ranges that cannot be
    ordered are left out of the entry (it is served without them), with a warning."""
    intervals: list[Interval] = []
    kept: list[dict] = []
    for range_ in item.get("ranges") or []:
        if range_["type"] == "ECOSYSTEM":
            try:
                compiled = matching.compile_range(range_["events"])
            except RangeError as error:
                warnings.append(f"{where}: ECOSYSTEM range left out: {error}")
                continue
            intervals.extend(compiled)
            if not compiled:
                continue  # it affects no release (fixed below every one)
            # Written back in PEP 440 versions only, as pip-audit orders them.
            kept.append({**range_, "events": matching.events(compiled)})
            continue
        kept.append(range_)
    if "ranges" in item:
        item["ranges"] = kept
    listed = item.get("versions") or []
    strings = [version for version in listed if isinstance(version, str)]
    if len(strings) != len(listed):
        warnings.append(f"{where}: versions that are not strings left out")
        item["versions"] = strings
    return intervals, strings


def parse(raw: object, source: str) -> tuple[Advisory, list[str]]:
    """One advisory and the warnings it raised; MalformedAdvisory when the file
    is not an OSV advisory at all."""
    _require(isinstance(raw, dict), "not an OSV advisory (expected a mapping)")
    document: dict = jsonable(raw)  # type: ignore[assignment]
    _check_header(document)
    advisory_id: str = document["id"]
    where = f"{source} ({advisory_id})"
    warnings: list[str] = []
    _normalise_timestamps(document, where, warnings)
    withdrawn = document.get("withdrawn") is not None
    intervals: dict[str, list[Interval]] = {}
    versions: dict[str, set[str]] = {}
    for item in document.get("affected") or []:
        name = _check_entry(item)
        if item["package"].get("ecosystem") != ECOSYSTEM:
            continue
        found, listed = _compile_entry(item, where, warnings)
        canonical = canonicalize_name(name)
        intervals.setdefault(canonical, []).extend(found)
        versions.setdefault(canonical, set()).update(matching.version_key(v) for v in listed)
        if not found and not listed and not withdrawn:
            warnings.append(f"{where}: {name} has no usable range or version: matches nothing")
    packages = {
        name: PackageEntry(name, matching.union(found), frozenset(versions[name]))
        for name, found in intervals.items()
    }
    return Advisory(advisory_id, source, document, packages, withdrawn), warnings


def _decode(data: bytes, name: str) -> object:
    if name.endswith(".json"):
        return json.loads(data)
    return yaml.load(data, Loader=SafeLoader)


def _directory_files(root: Path) -> Iterator[tuple[str, int, Path]]:
    vulns = root / "vulns"
    base = vulns if vulns.is_dir() else root
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                path = Path(folder, name)
                yield str(path), path.stat().st_size, path


def _read_directory(root: Path) -> Iterator[tuple[str, bytes | str]]:
    for label, size, path in _directory_files(root):
        if size > MAX_FILE_BYTES:
            yield label, f"larger than {MAX_FILE_BYTES} bytes"
            continue
        try:
            yield label, path.read_bytes()
        except OSError as error:
            yield label, f"unreadable: {error.strerror or error}"


def _read_zip(archive: Path) -> Iterator[tuple[str, bytes | str]]:
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in sorted(bundle.infolist(), key=lambda m: m.filename):
                parts = member.filename.split("/")
                if member.is_dir() or not member.filename.endswith(SUFFIXES):
                    continue
                if any(part.startswith(".") for part in parts):
                    continue
                label = f"{archive}!{member.filename}"
                if member.file_size > MAX_FILE_BYTES:
                    yield label, f"larger than {MAX_FILE_BYTES} bytes"
                    continue
                try:
                    yield label, bundle.read(member)
                except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as error:
                    yield label, f"unreadable: {error}"
    except (zipfile.BadZipFile, OSError) as error:
        raise DatabaseError(f"{archive} is not a readable zip: {error}") from None


def read(path: Path) -> list[tuple[str, bytes | str]]:
    """Every candidate file under ``path`` (a directory or a zip) as (label,
    bytes), or (label, why it cannot be read). DatabaseError when ``path`` is
    neither."""
    if not path.exists():
        raise DatabaseError(f"{path} does not exist")
    if path.is_dir():
        return list(_read_directory(path))
    if zipfile.is_zipfile(path):
        return list(_read_zip(path))
    raise DatabaseError(f"{path} is neither a directory nor a zip of OSV advisories")


def load(path: Path, files: list[tuple[str, bytes | str]] | None = None) -> Database:
    """Load every advisory under ``path`` (a directory or a zip), or from
    ``files`` already read from it.

    Raises DatabaseError when the path is missing or holds no advisory.
    """
    started = time.perf_counter()
    database = Database(source=str(path))
    for label, data in read(path) if files is None else files:
        if isinstance(data, str):
            database.warnings.append(f"{label}: skipped: {data}")
            database.skipped += 1
            continue
        try:
            advisory, warnings = parse(_decode(data, label), label)
        except (MalformedAdvisory, yaml.YAMLError, ValueError, RecursionError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            database.warnings.append(f"{label}: skipped: {reason}")
            database.skipped += 1
            continue
        database.warnings.extend(warnings)
        if advisory.id in database.advisories:
            kept = database.advisories[advisory.id].source
            database.warnings.append(f"{label}: skipped: {advisory.id} already read from {kept}")
            database.skipped += 1
            continue
        database.advisories[advisory.id] = advisory
        if not advisory.withdrawn:
            for name in advisory.packages:
                database.by_package.setdefault(name, []).append(advisory)
    if not database.advisories:
        detail = f" ({database.skipped} file(s) skipped as malformed)" if database.skipped else ""
        raise DatabaseError(f"no OSV advisory found in {path}{detail}")
    database.load_seconds = time.perf_counter() - started
    return database
