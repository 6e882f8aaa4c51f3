"""The deps gate end to end: real pip-audit against the real OSV mirror."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import jsonschema
import pytest
from conftest import ADVISORIES
from helpers import ROOT, GateRun, clean_env, run_gate

from tools.deps import audit, report
from tools.deps.pins import Pin
from tools.errors import GateError

SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def lock(*lines: str) -> str:
    """A hash-locked manifest: each `name==version[ ; marker]` gets two hashes."""
    body = []
    for line in lines:
        if line.startswith("#"):
            body.append(line)
            continue
        body += [f"{line} \\", f"    --hash={digest(line)} \\", f"    --hash={digest(line + '!')}"]
    return "\n".join(body) + "\n"


def line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def errors(result: GateRun) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("deps: error:")]


VULNERABLE = lock(
    "# the service's lock, with every kind of advisory",
    "flask==2.2.4",
    "py==1.11.0 ; sys_platform == 'win32'",  # a marker for another platform: still audited
    "JW_Util==2.2",
    "gratient==0.5",
    "multi-range==2.1",
    "redis==7.0.10",
    "py-xml==2.0",
)
SAFE = lock(
    "flask==2.2.5",
    "py==1.11.1",
    "jw.util==2.3",
    "gratient==0.4",
    "multi-range==2.1.1",
    "redis==7.0.10",
)
NEWER = lock("flask==3.1.3", "multi_range==3.1")
LOCK_HEADER = "# pins-sha256: 0\n"


@pytest.fixture(scope="module")
def audited(advisory_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GateRun]:
    project = tmp_path_factory.mktemp("project")
    (project / "locks").mkdir()
    (project / "requirements.txt").write_text(VULNERABLE, encoding="utf-8")
    # The pipeline's own locks are those `nox -s lock` wrote: they carry its header.
    (project / "locks" / "safe.txt").write_text(LOCK_HEADER + SAFE, encoding="utf-8")
    (project / "locks" / "newer.txt").write_text(LOCK_HEADER + NEWER, encoding="utf-8")
    return project, run_gate("deps", project, env=clean_env(PIPELINE_OSV_DB=str(advisory_db)))


def deps_json(project: Path) -> dict:
    return json.loads((project / "reports" / "deps.json").read_text(encoding="utf-8"))


def test_every_kind_of_advisory_is_found_on_its_line(audited: tuple) -> None:
    project, result = audited
    assert result.code == 1, result.stderr
    found = {
        (v["manifest"], v["line"], v["package"], v["id"])
        for v in deps_json(project)["vulnerabilities"]
    }
    req = "requirements.txt"
    assert found == {
        (req, line_of(VULNERABLE, "flask=="), "flask", "PYSEC-2023-62"),
        (req, line_of(VULNERABLE, "py=="), "py", "PYSEC-2022-42969"),  # last_affected
        (req, line_of(VULNERABLE, "JW_Util"), "jw-util", "PYSEC-2020-341"),  # names
        (req, line_of(VULNERABLE, "gratient"), "gratient", "PYSEC-2024-1"),  # versions list
        (req, line_of(VULNERABLE, "multi-range"), "multi-range", "TEST-2024-1"),  # 2nd range
        (req, line_of(VULNERABLE, "py-xml"), "py-xml", "PYSEC-2023-95"),  # open range
        ("locks/newer.txt", line_of(NEWER, "multi_range") + 1, "multi-range", "TEST-2024-1"),
    }
    # Not flagged: flask 2.2.5 and 3.1.3, py after last_affected, jw.util 2.3,
    # gratient 0.4, multi-range between ranges, and redis (withdrawn).


def test_fix_versions_and_aliases_come_through_pip_audit(audited: tuple) -> None:
    project, _result = audited
    by_id = {(v["package"], v["version"]): v for v in deps_json(project)["vulnerabilities"]}
    flask = by_id[("flask", "2.2.4")]
    assert flask["fix_versions"] == ["2.2.5", "2.3.2"]
    assert flask["aliases"] == ["CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"]
    # Ranges from two entries of the advisory: both fixes, not just one entry's.
    assert by_id[("multi-range", "3.1")]["fix_versions"] == ["1.0", "3.2"]
    assert by_id[("py-xml", "2.0")]["fix_versions"] == []


def test_console_names_package_version_advisory_aliases_and_fix(audited: tuple) -> None:
    _project, result = audited
    line = line_of(VULNERABLE, "flask==")
    assert (
        f"deps: PYSEC-2023-62 requirements.txt:{line} flask 2.2.4 is affected "
        "(aliases CVE-2023-30861, GHSA-m2qf-hxjv-5gpq); fixed in 2.2.5, 2.3.2"
    ) in result.stderr.splitlines()
    assert "deps: FAILED: 7 blocking finding(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_sarif_is_valid_2_1_0_with_one_rule_per_advisory(audited: tuple) -> None:
    project, _result = audited
    log = json.loads((project / "reports" / "deps.sarif").read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    (run,) = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert len(rules) == 6
    flask = rules["PYSEC-2023-62"]
    assert flask["properties"]["aliases"] == ["CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"]
    assert flask["properties"]["fix_versions"] == ["2.2.5", "2.3.2"]
    assert flask["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    assert len(results) == 7
    assert {r["level"] for r in results} == {"error"}
    fingerprints = [r["partialFingerprints"][report.FINGERPRINT_NAME] for r in results]
    assert len(set(fingerprints)) == len(results)
    (flask_result,) = [r for r in results if r["ruleId"] == "PYSEC-2023-62"]
    location = flask_result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "requirements.txt"
    assert location["region"]["startLine"] == line_of(VULNERABLE, "flask==")
    assert run["tool"]["driver"]["rules"][flask_result["ruleIndex"]]["id"] == "PYSEC-2023-62"


def test_gate_record_lists_the_blocking_advisories(audited: tuple) -> None:
    project, _result = audited
    record = json.loads((project / "reports" / "gates" / "deps.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed"
    assert {b["rule"] for b in record["blocking"]} >= {"PYSEC-2023-62", "TEST-2024-1"}


def test_fingerprints_survive_moves_and_still_affected_bumps() -> None:
    found = report.Vulnerability(
        "requirements.txt", 5, "flask", "2.2.3", "PYSEC-2023-62", (), ("2.2.5",), ""
    )
    moved = replace(found, line=9, version="2.2.4")
    other = replace(found, id="PYSEC-2018-66")
    assert found.fingerprint() == moved.fingerprint() != other.fingerprint()


def copy_current_pins(project: Path) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "locks", project / "locks")


def test_the_current_pins_pass(advisory_db: Path, tmp_path: Path) -> None:
    copy_current_pins(tmp_path)
    result = run_gate(
        "deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(advisory_db), PIPELINE_OFFLINE="1")
    )
    assert result.code == 0, result.stderr
    assert "deps: passed" in result.stdout
    log = json.loads((tmp_path / "reports" / "deps.sarif").read_text(encoding="utf-8"))
    assert log["runs"][0]["results"] == []


def full_database() -> Path | None:
    """The full PyPA snapshot, where this checkout has one beside it (CI does)."""
    for candidate in (os.environ.get("PIPELINE_OSV_DB"), ROOT.parent / "shared/advisory-database"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.mark.skipif(full_database() is None, reason="no full advisory database beside the repo")
def test_the_current_pins_pass_against_the_full_database(tmp_path: Path) -> None:
    copy_current_pins(tmp_path)
    result = run_gate(
        "deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(full_database()), PIPELINE_OFFLINE="1")
    )
    assert result.code == 0, result.stderr


def test_offline_without_data_fails_closed_with_one_line(tmp_path: Path) -> None:
    copy_current_pins(tmp_path)
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OFFLINE="1"))
    assert result.code == 2
    (line,) = errors(result)
    assert "PIPELINE_OSV_DB" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports" / "deps.json").exists()


@pytest.mark.parametrize(
    ("make_db", "message"),
    [
        (lambda tmp: tmp / "nowhere", "does not exist"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no OSV advisory found"),
    ],
)
def test_missing_or_empty_database_is_an_error(tmp_path: Path, make_db, message: str) -> None:
    (tmp_path / "requirements.txt").write_text(lock("flask==3.1.3"), encoding="utf-8")
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(make_db(tmp_path))))
    assert result.code == 2
    (line,) = errors(result)
    assert message in line and "PIPELINE_OSV_DB" in line


def test_a_malformed_advisory_is_a_warning_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "db"
    shutil.copytree(ADVISORIES, db)
    broken = db / "vulns" / "flask" / "PYSEC-0000-0.yaml"
    broken.write_text("id: PYSEC-0000-0\naffected: [unclosed\n", encoding="utf-8")
    (tmp_path / "requirements.txt").write_text(lock("flask==2.2.4"), encoding="utf-8")
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(db)))
    assert result.code == 1  # the rest of the database still works
    assert any(
        line.startswith("deps: warning: ") and str(broken) in line and "skipped" in line
        for line in result.stderr.splitlines()
    )
    assert "PYSEC-2023-62" in result.stderr


class BrokenService(BaseHTTPRequestHandler):
    """An OSV endpoint that answers every query with an error or garbage."""

    status = 500
    body = b'{"error": "down"}'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class GarbageService(BrokenService):
    status = 200
    body = b"<html>not json</html>"


@pytest.fixture(params=[BrokenService, GarbageService])
def broken_service(request: pytest.FixtureRequest) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def test_pip_audit_exit_1_without_a_report_is_an_error_not_findings(
    tmp_path: Path, broken_service: str
) -> None:
    (tmp_path / "requirements.txt").write_text(lock("flask==2.2.4"), encoding="utf-8")
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=broken_service))
    assert result.code == 2
    (line,) = errors(result)
    assert "pip-audit errored on requirements.txt (exit 1 with no report, so not findings)" in line
    assert "Traceback" not in result.stderr


def test_manifests_given_by_absolute_path_are_reported_relative(
    advisory_db: Path, tmp_path: Path
) -> None:
    (tmp_path / "locks").mkdir()
    manifest = tmp_path / "locks" / "extra.txt"
    manifest.write_text(lock("flask==2.2.4"), encoding="utf-8")
    result = run_gate(
        "deps",
        tmp_path,
        "--manifest",
        str(manifest),
        env=clean_env(PIPELINE_OSV_DB=str(advisory_db)),
    )
    assert result.code == 1
    log = json.loads((tmp_path / "reports" / "deps.sarif").read_text(encoding="utf-8"))
    (found,) = log["runs"][0]["results"]
    assert found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "locks/extra.txt"


def test_an_unreachable_mirror_url_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(lock("flask==3.1.3"), encoding="utf-8")
    result = run_gate(
        "deps", tmp_path, env=clean_env(PIPELINE_OSV_DB="http://127.0.0.1:9/v1/query")
    )
    assert result.code == 2
    (line,) = errors(result)
    assert "unreachable" in line


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("-r other.txt\n", "requirements.txt:1: includes other.txt, which does not exist"),
        ("# nothing pinned\n", "nothing to audit: no manifest and no pipeline lock here"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path: Path, manifest: str, message: str) -> None:
    (tmp_path / "requirements.txt").write_text(manifest, encoding="utf-8")
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(ADVISORIES)))
    assert result.code == 2
    (line,) = errors(result)
    assert message in line


def test_a_pin_without_hashes_is_audited_as_given(tmp_path: Path) -> None:
    # Hashes matter for installing, not for matching advisories.
    (tmp_path / "requirements.txt").write_text("flask==2.2.4\n", encoding="utf-8")
    result = run_gate("deps", tmp_path, env=clean_env(PIPELINE_OSV_DB=str(ADVISORIES)))
    assert result.code == 1, result.stderr
    assert "PYSEC-2023-62 requirements.txt:1 flask 2.2.4" in result.stderr


PIN = Pin("requirements.txt", 1, "flask", "2.2.4", (digest("x"),))


def test_judge_tells_errors_from_findings(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(GateError, match="no report, so not findings"):
        audit.judge(1, "Traceback ...\nConnectionError: refused", missing, [PIN])
    with pytest.raises(GateError, match="exit 2"):
        audit.judge(2, "usage: ...", missing, [PIN])
    clean = tmp_path / "clean.json"
    clean.write_text(
        json.dumps({"dependencies": [{"name": "flask", "version": "2.2.4", "vulns": []}]}),
        encoding="utf-8",
    )
    assert audit.judge(0, "", clean, [PIN])[1] == []
    with pytest.raises(GateError, match=r"exited 1 .* but reported no vulnerability"):
        audit.judge(1, "", clean, [PIN])
    unaudited = tmp_path / "unaudited.json"
    unaudited.write_text(json.dumps({"dependencies": []}), encoding="utf-8")
    with pytest.raises(GateError, match="not audited: flask"):
        audit.judge(0, "", unaudited, [PIN])
    skipped = tmp_path / "skipped.json"
    skipped.write_text(
        json.dumps({"dependencies": [{"name": "flask", "skip_reason": "not on PyPI"}]}),
        encoding="utf-8",
    )
    with pytest.raises(GateError, match="skipped"):
        audit.judge(0, "", skipped, [PIN])
