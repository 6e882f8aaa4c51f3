"""Benchmark the OSV mirror: database load time and per-query latency over HTTP.

    python -m tools.osv.bench --db ../shared/advisory-database

Queries go over one keep-alive connection, as pip-audit sends them, to the
in-process server on 127.0.0.1; they cover every package of the database with
a mix of affected versions, fix versions and versions past every advisory.
Exits 1 when a median misses its target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from pathlib import Path

from tools.errors import DatabaseError
from tools.osv import database, server

LOAD_TARGET_S = 3.0
QUERY_TARGET_MS = 5.0


def sample_queries(db: database.Database, count: int, seed: int = 0) -> list[bytes]:
    """Query bodies for ``count`` random (package, version) pairs, the versions
    drawn from what the advisories themselves list."""
    chooser = random.Random(seed)  # noqa: S311 -- a reproducible sample, not a secret
    candidates: list[tuple[str, str]] = []
    for name, advisories in sorted(db.by_package.items()):
        versions = {"9999.0"}  # past every fix: the common answer for a healthy lock
        for advisory in advisories:
            for item in advisory.document.get("affected") or []:
                versions.update(v for v in item.get("versions") or [] if isinstance(v, str))
                for range_ in item.get("ranges") or []:
                    if range_.get("type") == "ECOSYSTEM":
                        versions.update(str(v) for e in range_["events"] for v in e.values())
        candidates += [(name, version) for version in sorted(versions)]
    picks = [chooser.choice(candidates) for _ in range(count)]
    return [
        json.dumps({"package": {"name": n, "ecosystem": "PyPI"}, "version": v}).encode()
        for n, v in picks
    ]


def time_queries(mirror: server.MirrorServer, bodies: list[bytes]) -> list[float]:
    host, port = mirror.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=30)
    latencies: list[float] = []
    try:
        for body in bodies:
            started = time.perf_counter()
            connection.request("POST", "/v1/query", body=body)
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise SystemExit(f"bench: query answered {response.status}: {body!r}")
    finally:
        connection.close()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.osv.bench", description=__doc__)
    parser.add_argument("--db", required=True, type=Path, help="advisory directory or zip")
    parser.add_argument("--loads", type=int, default=3, help="times to load the database (3)")
    parser.add_argument("--queries", type=int, default=2000, help="queries to time (2000)")
    args = parser.parse_args(argv)

    load_times: list[float] = []
    try:
        for _ in range(max(1, args.loads)):
            started = time.perf_counter()
            db = database.load(args.db)
            load_times.append(time.perf_counter() - started)
    except DatabaseError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    bodies = sample_queries(db, args.queries)
    with server.serving(db) as mirror:
        time_queries(mirror, bodies[: min(100, len(bodies))])  # warm up: caches, connection
        latencies = sorted(time_queries(mirror, bodies))
    load_s = statistics.median(load_times)
    query_ms = statistics.median(latencies) * 1000
    p95_ms = latencies[int(len(latencies) * 0.95) - 1] * 1000
    load_ok, query_ok = load_s < LOAD_TARGET_S, query_ms < QUERY_TARGET_MS
    print(
        f"load: {len(db.advisories)} advisories, {len(db.by_package)} packages from {args.db}: "
        f"median {load_s:.2f} s of {len(load_times)} "
        f"({', '.join(f'{t:.2f}' for t in load_times)}); "
        f"target < {LOAD_TARGET_S:.0f} s: {'ok' if load_ok else 'MISSED'}"
    )
    print(
        f"query: {len(latencies)} POST /v1/query over HTTP keep-alive: median {query_ms:.2f} ms, "
        f"p95 {p95_ms:.2f} ms, max {latencies[-1] * 1000:.2f} ms; "
        f"target < {QUERY_TARGET_MS:.0f} ms: {'ok' if query_ok else 'MISSED'}"
    )
    return 0 if load_ok and query_ok else 1


if __name__ == "__main__":
    sys.exit(main())
