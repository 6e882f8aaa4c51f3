"""pip-audit, run on exact pins against one advisory source.

Where the advisories come from:

- ``PIPELINE_OSV_DB=<directory or zip>``: a local OSV mirror (tools.osv) is
  started on 127.0.0.1 for this run, on a free port, and always stopped;
- ``PIPELINE_OSV_DB=http://host:port/v1/query``: a standalone mirror
  (``python -m tools.osv``) shared by several runners;
- otherwise OSV's own API, after a quick reachability probe. Offline
  (``PIPELINE_OFFLINE=1``, or the probe fails) without PIPELINE_OSV_DB, the
  gate fails at once, never after pip-audit's per-package timeouts.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from tools import network
from tools.deps import pins, report
from tools.deps.pins import Pin
from tools.errors import DatabaseError, GateError
from tools.osv import cache, database, server
from tools.text import last_line
from tools.toolrun import run_tool, venv_state

OSV_DB_ENV = "PIPELINE_OSV_DB"
# The local mirror's parsed advisories, reused while every advisory file is unchanged.
PARSED_ADVISORIES = venv_state(".osv-advisories.pickle")
# Online, pip-audit's OSV service rather than its default, PyPI's JSON API:
# the same data model and version matching as the offline mirror, so an online
# and an offline run of the same pins agree; OSV carries GitHub's reviewed
# advisories and malicious-package reports besides the PyPA ones; and with
# --disable-pip neither service checks hash values (the hash-locked installs
# of every venv do), so the PyPI service would add nothing here.
OSV_API_HOST = "api.osv.dev"
REQUEST_TIMEOUT_S = 15
# pip-audit spends most of a run starting up; two runs at a time fill two cores.
WORKERS = max(2, min(4, os.cpu_count() or 2))
SETUP_HINT = (
    f"set {OSV_DB_ENV} to a clone of the PyPA advisory database, an osv.dev PyPI zip "
    "or a mirror URL (see README, ### deps)"
)


@dataclass(frozen=True)
class Service:
    argv: tuple[str, ...]  # pip-audit's options selecting it
    label: str


@contextmanager
def _local_mirror(path: Path) -> Iterator[Service]:
    try:
        loaded = cache.load(path, PARSED_ADVISORIES)
    except DatabaseError as error:
        raise GateError(f"{OSV_DB_ENV}: {error}") from None
    for line in database.shown_warnings(loaded.warnings):
        print(f"deps: warning: {line}", file=sys.stderr)
    reused = " from its last parse" if loaded.from_cache else ""
    with server.serving(loaded) as mirror:
        yield Service(
            ("--vulnerability-service", "osv", "--osv-url", mirror.url),
            f"a local OSV mirror of {path} ({len(loaded.advisories)} advisories, "
            f"loaded in {loaded.load_seconds:.1f} s{reused}, {len(loaded.warnings)} warning(s))",
        )


def _remote_mirror(url: str) -> Service:
    shown = network.shown_url(url)
    try:
        mirror = network.address(url)
    except ValueError as error:
        raise GateError(f"{OSV_DB_ENV}={shown} {error}") from None
    if not network.reachable(mirror.host, mirror.port):
        raise GateError(f"the OSV mirror at {shown} is unreachable: start it or fix {OSV_DB_ENV}")
    return Service(("--vulnerability-service", "osv", "--osv-url", url), f"the OSV mirror {shown}")


@contextmanager
def vulnerability_service() -> Iterator[Service]:
    """The advisory source for this run; GateError at once when there is none."""
    configured = os.environ.get(OSV_DB_ENV, "").strip()
    if configured.startswith(("http://", "https://")):
        yield _remote_mirror(configured)
    elif configured:
        with _local_mirror(Path(configured)) as service:
            yield service
    elif network.offline_requested():
        raise GateError(f"{network.OFFLINE_ENV}=1 and no advisory data: {SETUP_HINT}")
    elif not network.reachable(OSV_API_HOST):
        raise GateError(f"{OSV_API_HOST} is unreachable (offline?): {SETUP_HINT}")
    else:
        yield Service(("--vulnerability-service", "osv"), f"OSV ({OSV_API_HOST})")


def pip_audit_argv(requirements: Path, output: Path, cache: Path, service: Service) -> list[str]:
    return [
        "pip-audit",
        "--strict",
        "--desc",
        "on",
        "--aliases",
        "on",
        # Every pin is exact and the set is complete: read them as given, with no
        # resolution by pip (which would download and install every artifact).
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "--output",
        str(output),
        "--cache-dir",
        str(cache),
        "--timeout",
        str(REQUEST_TIMEOUT_S),
        *service.argv,
        "--requirement",
        str(requirements),
    ]


def judge(
    returncode: int, stderr: str, output: Path, part: list[Pin]
) -> tuple[dict, list[report.Vulnerability]]:
    """pip-audit's verdict on one part. It exits 1 both for vulnerabilities and
    for errors (service unreachable, bad answer, bad requirement): only a run
    that wrote its report found vulnerabilities."""
    manifest = part[0].manifest
    if returncode not in (0, 1):
        raise GateError(f"pip-audit failed on {manifest} (exit {returncode}): {last_line(stderr)}")
    if not output.is_file():
        raise GateError(
            f"pip-audit errored on {manifest} (exit {returncode} with no report, so not "
            f"findings): {last_line(stderr)}"
        )
    try:
        written = json.loads(output.read_text(encoding="utf-8"))
        found = report.vulnerabilities(written, part)
    except (OSError, ValueError) as error:  # ValueError covers JSON and ReportError
        raise GateError(f"pip-audit's report on {manifest} is unusable: {error}") from None
    if returncode == 1 and not found:
        raise GateError(f"pip-audit exited 1 on {manifest} but reported no vulnerability")
    return written, found


def audit(
    part: list[Pin], service: Service, workdir: Path, index: int, timeout_s: float
) -> tuple[dict, list[report.Vulnerability]]:
    requirements = workdir / f"part-{index}.txt"
    requirements.write_text("".join(pin.requirement() + "\n" for pin in part), encoding="utf-8")
    output = workdir / f"part-{index}.json"
    output.unlink(missing_ok=True)  # a stale report must never pass for this run's
    result = run_tool(
        pip_audit_argv(requirements, output, workdir / "cache", service),
        timeout=timeout_s,
        what="pip-audit",
    )
    return judge(result.returncode, result.stderr, output, part)


def audit_all(
    manifests: list[list[Pin]], service: Service, timeout_s: float
) -> tuple[list[dict], list[report.Vulnerability]]:
    """Every manifest's pins audited, each distinct name==version once (the
    test lock repeats most of the others): pip-audit's reports and the
    vulnerabilities, one per manifest line that pins an affected version."""
    occurrences: dict[tuple[str, str], list[Pin]] = {}
    for locked in manifests:
        for pin in locked:
            occurrences.setdefault((pin.name, pin.version), []).append(pin)
    parts = pins.partitions([found[0] for found in occurrences.values()])
    with tempfile.TemporaryDirectory(prefix="deps-") as tmp, ThreadPoolExecutor(WORKERS) as pool:
        futures = [
            pool.submit(audit, part, service, Path(tmp), i, timeout_s)
            for i, part in enumerate(parts)
        ]
        try:
            results = [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    where = {(found[0].manifest, found[0].line): found for found in occurrences.values()}
    vulnerable = [
        replace(v, manifest=pin.manifest, line=pin.line)
        for _report, found in results
        for v in found
        for pin in where[(v.manifest, v.line)]
    ]
    return [report for report, _found in results], vulnerable


def pip_audit_version() -> str:
    try:
        return metadata.version("pip-audit")
    except metadata.PackageNotFoundError:
        return "unknown"
