"""Run the OSV mirror standalone, e.g. one mirror for many air-gapped runners:

    python -m tools.osv --db /srv/advisory-database --host 0.0.0.0 --port 8080

and point each runner's pip-audit at it with
``-s osv --osv-url http://mirror:8080/v1/query`` (or set
``PIPELINE_OSV_DB=http://mirror:8080/v1/query`` for the deps gate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.errors import DatabaseError
from tools.osv import database, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.osv", description=__doc__)
    parser.add_argument("--db", required=True, type=Path, help="advisory directory or zip")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (8080; 0: any)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        loaded = database.load(args.db)
    except DatabaseError as error:
        print(f"osv: error: {error}", file=sys.stderr)
        return 2
    for line in database.shown_warnings(loaded.warnings):
        print(f"osv: warning: {line}", file=sys.stderr)
    try:
        mirror = server.MirrorServer(loaded, (args.host, args.port), verbose=args.verbose)
    except OSError as error:
        print(f"osv: error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    print(
        f"osv: serving {len(loaded.advisories)} advisories ({len(loaded.by_package)} packages) "
        f"from {args.db}, loaded in {loaded.load_seconds:.2f} s, on {mirror.url}",
        flush=True,
    )
    try:
        mirror.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        mirror.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
