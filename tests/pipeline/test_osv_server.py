"""The OSV mirror over real HTTP on 127.0.0.1, in-process and standalone."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADVISORIES
from helpers import ROOT

from tools.osv import bench, database, server
from tools.osv.server import MirrorServer


@pytest.fixture(scope="module")
def mirror(advisory_db: Path) -> Iterator[MirrorServer]:
    with server.serving(database.load(advisory_db)) as running:
        yield running


def request(
    mirror: MirrorServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    host, port = mirror.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def query(mirror: MirrorServer, payload: object) -> tuple[int, dict]:
    return request(mirror, "POST", "/v1/query", json.dumps(payload).encode())


def flask(version: str) -> dict:
    return {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": version}


def test_vulnerable_flask_in_the_shape_pip_audit_reads(mirror: MirrorServer) -> None:
    status, answer = query(mirror, flask("2.2.4"))
    assert status == 200
    (vuln,) = answer["vulns"]
    assert vuln["id"] == "PYSEC-2023-62"
    assert vuln["aliases"] == ["CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"]
    assert vuln["published"] == "2023-05-02T18:15:00Z"
    (entry,) = [a for a in vuln["affected"] if a["package"]["name"] == "flask"]
    ecosystem = [r for r in entry["ranges"] if r["type"] == "ECOSYSTEM"]
    assert [e["fixed"] for e in ecosystem[0]["events"] if "fixed" in e] == ["2.2.5", "2.3.2"]
    assert "withdrawn" not in vuln


@pytest.mark.parametrize("version", ["2.2.5", "3.0.0", "3.1.3"])
def test_fixed_flask_gets_an_empty_object(mirror: MirrorServer, version: str) -> None:
    assert query(mirror, flask(version)) == (200, {})


def test_withdrawn_is_never_answered(mirror: MirrorServer) -> None:
    payload = {"package": {"name": "redis", "ecosystem": "PyPI"}, "version": "7.0.10"}
    assert query(mirror, payload) == (200, {})


def test_purl_and_versionless_queries(mirror: MirrorServer) -> None:
    status, answer = query(mirror, {"package": {"purl": "pkg:pypi/Flask@2.2.4"}})
    assert status == 200
    assert [v["id"] for v in answer["vulns"]] == ["PYSEC-2023-62"]
    status, answer = query(mirror, {"package": {"name": "JW_Util", "ecosystem": "PyPI"}})
    assert [v["id"] for v in answer["vulns"]] == ["PYSEC-2020-341"]
    assert answer["vulns"][0]["affected"][0]["package"]["name"] == "jw-util"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "package must be an object"),
        (b'{"commit": "abc"}', "commit queries"),
        (b'{"package": {"name": "flask"}}', "package.ecosystem"),
        (b'{"package": {"name": "", "ecosystem": "PyPI"}}', "package.name"),
        (b'{"package": {"name": "flask", "ecosystem": "npm"}}', "PyPI"),
        (b'{"package": {"name": "flask", "ecosystem": "PyPI"}, "version": 2}', "version"),
        (b'{"package": {"purl": "pkg:npm/left-pad@1.0.0"}}', "pkg:pypi/"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_requests_get_a_json_400(mirror: MirrorServer, body: bytes, message: str) -> None:
    status, answer = request(mirror, "POST", "/v1/query", body)
    assert status == 400
    assert message in answer["error"]


def test_http_errors_are_json(mirror: MirrorServer) -> None:
    assert request(mirror, "POST", "/v1/other", b"{}")[0] == 404
    assert request(mirror, "GET", "/v1/query")[0] == 405
    assert request(mirror, "PUT", "/v1/query", b"{}")[0] == 501
    assert request(mirror, "GET", "/nowhere")[0] == 404
    too_big = b" " * (server.MAX_BODY_BYTES + 1)
    assert request(mirror, "POST", "/v1/query", too_big)[0] == 413


def test_a_body_without_length_is_refused(mirror: MirrorServer) -> None:
    host, port = mirror.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/query")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 411
        assert "Content-Length" in json.loads(response.read())["error"]
    finally:
        connection.close()


def test_advisories_by_id_and_health(mirror: MirrorServer) -> None:
    status, advisory = request(mirror, "GET", "/v1/vulns/PYSEC-2023-73")
    assert status == 200
    assert advisory["withdrawn"] == "2023-06-06T10:37:00Z"
    assert request(mirror, "GET", "/v1/vulns/NOPE-1")[0] == 404
    assert request(mirror, "GET", "/health") == (200, {"status": "ok", "advisories": 9})


def test_keep_alive_serves_many_queries_on_one_connection(mirror: MirrorServer) -> None:
    host, port = mirror.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        for version in ("2.2.4", "2.2.5", "2.3.1"):
            connection.request("POST", "/v1/query", body=json.dumps(flask(version)).encode())
            response = connection.getresponse()
            assert response.status == 200
            response.read()
    finally:
        connection.close()


def test_standalone_mirror(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.osv", "--db", str(ADVISORIES), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "serving 8 advisories" in banner, banner
        url = banner.rsplit(" on ", 1)[1].strip()
        host, port = url.removeprefix("http://").split("/", 1)[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("POST", "/v1/query", body=json.dumps(flask("2.2.4")).encode())
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        assert [v["id"] for v in answer["vulns"]] == ["PYSEC-2023-62"]
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_standalone_mirror_without_a_database_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.osv", "--db", str(tmp_path), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"osv: error: no OSV advisory found in {tmp_path}"


def test_benchmark_prints_load_and_query_figures(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--db", str(ADVISORIES), "--loads", "1", "--queries", "50"])
    load, query = capsys.readouterr().out.splitlines()
    assert load.startswith("load: 8 advisories, 5 packages")  # redis's is withdrawn
    assert query.startswith("query: 50 POST /v1/query over HTTP keep-alive: median")
