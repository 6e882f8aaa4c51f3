"""Fixtures of the pipeline's tests: advisory databases for the deps gate and
its OSV mirror."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

# git as a fresh machine has it, in every test and every process a test starts:
# no user's or system's configuration (a global commit.gpgsign, a hooks path).
os.environ.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")

# --- advisory databases for the deps gate and its OSV mirror ---------------

ADVISORIES = Path(__file__).parent / "fixtures" / "advisories"

# Cases the real advisories lack: several ECOSYSTEM ranges in one entry, two
# entries for one package under differently spelled names, an entry of another
# ecosystem, and timestamps pip-audit cannot parse as written (an offset,
# nanoseconds).
MULTI_RANGE = {
    "id": "TEST-2024-1",
    "modified": "2024-01-02T03:04:05+00:00",
    "published": "2024-01-01T00:00:00.123456789Z",
    "aliases": ["GHSA-test-0000-0001"],  # a CVE alias would become pip-audit's id
    "summary": "synthetic: several ranges and entries for one package",
    "affected": [
        {
            "package": {"name": "Multi_Range", "ecosystem": "PyPI"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]},
                {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"last_affected": "2.1"}]},
            ],
        },
        {
            "package": {"name": "multi.range", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "3.2"}]}],
        },
        {
            "package": {"name": "multi-range", "ecosystem": "npm"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
        },
    ],
}


def write_json(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def build_advisory_db(root: Path) -> Path:
    """The committed real advisories plus the synthetic ones, as a PyPA-style tree."""
    shutil.copytree(ADVISORIES, root)
    write_json(root / "vulns" / "multi-range" / "TEST-2024-1.json", MULTI_RANGE)
    return root


@pytest.fixture(scope="session")
def advisory_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_advisory_db(tmp_path_factory.mktemp("osv") / "advisory-database")
