"""The parsed advisory database, kept between runs under a digest of its input.

Parsing the PyPA database takes about two seconds, mostly YAML; reading and
hashing its files takes a few hundredths. So the last parse is kept beside a
digest of every file's name and bytes and of the parser itself (this package's
source; Python's, packaging's and PyYAML's versions, and whether libyaml is in
use): an advisory added, changed or removed, or a new parser, means a fresh
parse, never a stale answer.

The store is a pickle, read back only by this code from where it wrote it
(the deps gate keeps it in its own venv): trusting it is trusting that venv.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import packaging
import yaml

from tools.osv import database
from tools.osv.database import Database

PARSER_SOURCES = sorted(Path(__file__).parent.glob("*.py"))
DIGEST_BYTES = 32


def fingerprint(files: list[tuple[str, bytes | str]]) -> bytes:
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    parsers = f"{sys.version}\0{packaging.__version__}\0{yaml.__version__}\0{yaml.__with_libyaml__}"
    digest.update(parsers.encode())
    for source in PARSER_SOURCES:
        digest.update(source.read_bytes())
    for label, data in files:
        content = data if isinstance(data, bytes) else data.encode()
        digest.update(f"\0{label}\0{isinstance(data, bytes)}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest().encode()


def _recall(store: Path, key: bytes) -> Database | None:
    try:
        with store.open("rb") as handle:
            if handle.readline().rstrip(b"\n") != key:
                return None
            # nosemgrep: pickle-load-from-file -- our own cache, written by this module
            loaded = pickle.load(handle)  # noqa: S301 -- likewise (see the module docstring)
    except Exception:  # any unreadable store is a miss: parse afresh
        return None
    return loaded if isinstance(loaded, Database) else None


def _keep(store: Path, key: bytes, loaded: Database) -> None:
    """Written whole or not at all: two runs sharing a venv never read half a store."""
    try:
        descriptor, temp = tempfile.mkstemp(dir=store.parent, prefix=".osv-")
    except OSError:
        return  # a store that cannot be written only costs the next run a parse
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key + b"\n")
            pickle.dump(loaded, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, store)
    except OSError:
        Path(temp).unlink(missing_ok=True)


def load(path: Path, store: Path | None) -> Database:
    """``database.load(path)``, from ``store`` when nothing it was parsed from
    has changed since (no store: always parsed); DatabaseError as for
    ``database.load``."""
    if store is None:
        return database.load(path)
    started = time.perf_counter()
    files = database.read(path)
    key = fingerprint(files)
    loaded = _recall(store, key)
    if loaded is None:
        loaded = database.load(path, files)
        _keep(store, key, loaded)
    else:
        loaded.from_cache = True
    loaded.load_seconds = time.perf_counter() - started
    return loaded
