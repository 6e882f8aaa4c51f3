"""An OSV-compatible HTTP server over a loaded advisory database.

It answers the part of osv.dev's API that pip-audit uses::

    POST /v1/query  {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.2.4"}
                    -> 200 {"vulns": [...]} or {} when nothing matches

plus ``{"package": {"purl": "pkg:pypi/flask@2.2.4"}}`` queries, a query
without a version (every advisory of the package), ``GET /v1/vulns/<id>`` and
``GET /health``. pip-audit sends its query without a Content-Type header, so
none is required. Every error is a JSON ``{"error": "..."}`` with a 4xx/5xx
status, never a traceback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from tools.osv.database import ECOSYSTEM, Database

QUERY_PATH = "/v1/query"
VULNS_PREFIX = "/v1/vulns/"
# A query is a few hundred bytes; refuse to buffer anything much larger.
MAX_BODY_BYTES = 64 * 1024


class QueryError(ValueError):
    """A request this mirror cannot answer; the message says why."""


@dataclass(frozen=True)
class Query:
    name: str
    version: str | None


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QueryError(f"{what} must be a non-empty string")
    return value.strip()


def _from_purl(purl: str) -> tuple[str, str | None]:
    if not purl.startswith("pkg:pypi/"):
        raise QueryError(
            "only pkg:pypi/ package URLs are served: this mirror holds PyPI advisories"
        )
    rest = purl.removeprefix("pkg:pypi/").split("#", 1)[0].split("?", 1)[0]
    name, _, version = rest.partition("@")
    return _text(unquote(name), "the purl's name"), unquote(version) or None


def parse_query(body: bytes) -> Query:
    """The package and version asked about; QueryError for anything else."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        raise QueryError("the body is not JSON") from None
    if not isinstance(request, dict):
        raise QueryError("the body must be a JSON object")
    if "commit" in request:
        raise QueryError("commit queries are not supported: query a package and version")
    package = request.get("package")
    if not isinstance(package, dict):
        raise QueryError("package must be an object with name and ecosystem (or purl)")
    version = request.get("version")
    if version is not None:
        version = _text(version, "version")
    if "purl" in package:
        name, purl_version = _from_purl(_text(package["purl"], "package.purl"))
        if purl_version and version:
            raise QueryError("give the version either in the purl or in version, not both")
        return Query(name, purl_version or version)
    name = _text(package.get("name"), "package.name")
    ecosystem = _text(package.get("ecosystem"), "package.ecosystem")
    if ecosystem != ECOSYSTEM:
        raise QueryError(
            f"ecosystem {ecosystem!r} is not served: this mirror holds PyPI advisories"
        )
    return Query(name, version)


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, database: Database, address: tuple[str, int], *, verbose: bool = False):
        self.database = database
        self.verbose = verbose
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{QUERY_PATH}"


class Handler(BaseHTTPRequestHandler):
    # Keep-alive: pip-audit sends one request per dependency over one session.
    protocol_version = "HTTP/1.1"
    server_version = "osv-mirror"
    sys_version = ""
    # Idle keep-alive connections are dropped rather than holding a thread forever.
    timeout = 30
    # Headers and body leave in one segment (send_json flushes), and without
    # Nagle: otherwise every answer waits out the client's delayed ACK, about
    # 40 ms a query.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: MirrorServer

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def send_json(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        # The stdlib does not flush after some of its own errors (501).
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error as JSON, including the ones the stdlib raises itself
        (bad request line, unsupported method)."""
        if message is None:
            message = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "error"
        self.log_error("code %d, message %s", code, message)
        self.send_json(code, json.dumps({"error": message}).encode())

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "send the query with a Content-Length")
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"over {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length)

    def do_POST(self) -> None:
        try:
            path = urlsplit(self.path).path
            body = self._read_body()
            if body is None:
                return
            if path != QUERY_PATH:
                self.send_error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {path}")
                return
            try:
                query = parse_query(body)
            except QueryError as error:
                self.send_error(HTTPStatus.BAD_REQUEST, str(error))
                return
            self.send_json(HTTPStatus.OK, self.server.database.answer(query.name, query.version))
        except Exception:  # the mirror must answer something, never print a traceback
            self.close_connection = True
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def do_GET(self) -> None:
        try:
            path = urlsplit(self.path).path
            database = self.server.database
            if path == "/health":
                body = {"status": "ok", "advisories": len(database.advisories)}
                self.send_json(HTTPStatus.OK, json.dumps(body).encode())
            elif path.startswith(VULNS_PREFIX):
                advisory = database.advisories.get(unquote(path.removeprefix(VULNS_PREFIX)))
                if advisory is None:
                    self.send_error(HTTPStatus.NOT_FOUND, "no such advisory")
                else:
                    self.send_json(HTTPStatus.OK, json.dumps(advisory.document).encode())
            elif path == QUERY_PATH:
                self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "POST the query as JSON")
            else:
                self.send_error(HTTPStatus.NOT_FOUND, f"no such endpoint: GET {path}")
        except Exception:
            self.close_connection = True
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    do_HEAD = do_GET


@contextmanager
def serving(database: Database, host: str = "127.0.0.1", port: int = 0) -> Iterator[MirrorServer]:
    """Serve ``database`` from a background thread until the block ends; port 0
    picks a free port. The socket is listening before the block starts, and the
    server is always shut down, whatever happens inside."""
    server = MirrorServer(database, (host, port))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
