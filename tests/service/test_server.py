"""The task API behind its real WSGI server, on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from taskapi.__main__ import make_server

ROOT = Path(__file__).resolve().parents[2]


def get_json(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- a loopback test URL
        return response.status, json.load(response)


def test_server_binds_loopback_by_default() -> None:
    # Only bound, never run: a waitress loop stopped from another thread can
    # write its wake-up byte into a descriptor a later test has reused.
    server = make_server(["--port", "0"])
    try:
        assert server.effective_host == "127.0.0.1"
        assert int(server.effective_port) > 0
    finally:
        server.close()


def test_python_m_taskapi_serves_over_http() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-m", "taskapi", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline().strip()
            assert banner.startswith("taskapi: serving on http://127.0.0.1:")
            status, _ = get_json(banner.rsplit(" ", 1)[-1] + "/tasks")
            assert status == 200
        finally:
            process.terminate()
