"""Serve the task API through waitress: `python -m taskapi [--host H] [--port P]`."""

from __future__ import annotations

import argparse

from waitress import create_server
from waitress.server import BaseWSGIServer

from taskapi.app import create_app


def make_server(argv: list[str] | None = None) -> BaseWSGIServer:
    parser = argparse.ArgumentParser(prog="taskapi", description=__doc__)
    # Loopback by default: exposing the service is a deliberate choice.
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="worker threads (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    return create_server(create_app(), host=args.host, port=args.port, threads=args.threads)


def main(argv: list[str] | None = None) -> None:
    server = make_server(argv)
    print(f"taskapi: serving on http://{server.effective_host}:{server.effective_port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()
