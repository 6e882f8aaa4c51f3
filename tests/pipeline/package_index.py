"""A package index on 127.0.0.1 for the tests: real wheels, a PEP 503 simple
index, served by http.server. uv resolves against it exactly as against PyPI,
so range resolution is tested up to the network boundary, offline."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from packaging.utils import canonicalize_name


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(index: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of one empty module, declaring ``requires``."""
    project = canonicalize_name(name)
    module = project.replace("-", "_")
    folder = index / project
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b"",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},sha256={_digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_simple_pages(index: Path) -> None:
    """PEP 503 pages: one link per wheel, with its sha256."""
    projects = sorted(path for path in index.iterdir() if path.is_dir())
    links = "".join(f'<a href="/{p.name}/">{p.name}</a>\n' for p in projects)
    (index / "index.html").write_text(f"<html><body>\n{links}</body></html>\n", "utf-8")
    for project in projects:
        wheels = sorted(project.glob("*.whl"))
        anchors = "".join(
            f'<a href="/{project.name}/{wheel.name}#sha256={_hex(wheel)}">{wheel.name}</a>\n'
            for wheel in wheels
        )
        (project / "index.html").write_text(f"<html><body>\n{anchors}</body></html>\n", "utf-8")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(index: Path) -> Iterator[str]:
    """The index's URL while it is served from ``index`` on a free loopback port."""
    write_simple_pages(index)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Quiet, directory=str(index))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
