"""The `sast` gate with the real Semgrep: its rule tests, and whole gate runs on copies
of the service in tmp dirs. Semgrep takes seconds to start, so each gate run is shared
by a module-scoped fixture and the assertions on it stay exact."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, GateRun, clean_env, run, run_gate

from tools.gates.sast import OFFLINE_NOTE, QUIET_ENV, QUIET_FLAGS
from tools.toolrun import tool_path

RULES = ROOT / ".semgrep" / "rules.yml"
FIXTURE = ROOT / ".semgrep" / "tests" / "rules.py"
SERVICE = Path("src/taskapi/app.py")
# The rules the design asks for, with the SARIF level each one reports at.
EXPECTED_RULES = {
    "flask-debug-true": "error",
    "subprocess-shell-true": "error",
    "jwt-decode-without-verification": "error",
    "hardcoded-bind-all-interfaces": "warning",
}
# Every rule of the project's pack, and its SARIF level.
ALL_RULES = {
    rule["id"]: {"ERROR": "error", "WARNING": "warning", "INFO": "note"}[rule["severity"]]
    for path in sorted((ROOT / ".semgrep").glob("*.yml"))
    for rule in yaml.safe_load(path.read_text())["rules"]
}
PACK_FILES = len(list((ROOT / ".semgrep").glob("*.yml")))


def make_project(
    where: Path, files: dict[str, str] | None = None, pack: tuple[str, ...] | None = None
) -> Path:
    """A copy of the service with the project's Semgrep setup, plus ``files``;
    with ``pack``, only those rule files (and their fixtures) of it."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / ".semgrep", where / ".semgrep")
    if pack is not None:
        for path in [*(where / ".semgrep").glob("*.yml"), *(where / ".semgrep/tests").glob("*")]:
            if path.stem not in pack:
                path.unlink()
    for name in (".semgrepignore", ".gitignore"):
        shutil.copy(ROOT / name, where / name)
    shutil.copytree(ROOT / "src", where / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in (files or {}).items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text, encoding="utf-8")
    return where


def run_sast(project: Path, **env: str) -> GateRun:
    return run_gate("sast", project, env=clean_env(**QUIET_ENV, **env))


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: an unreachable registry, offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


# --- the rule tests -----------------------------------------------------------------


@pytest.fixture(scope="module")
def rule_tests() -> dict:
    result = run(
        [
            tool_path("semgrep"),
            "--test",
            "--strict",
            "--json",
            *QUIET_FLAGS,
            "--config",
            str(RULES),
            str(FIXTURE),
        ],
        cwd=ROOT,
        env=clean_env(**QUIET_ENV),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_rule_file_holds_the_designed_rules() -> None:
    rules = yaml.safe_load(RULES.read_text())["rules"]
    levels = {"ERROR": "error", "WARNING": "warning"}
    assert {rule["id"]: levels[rule["severity"]] for rule in rules} == EXPECTED_RULES


def test_rule_tests_pass_for_every_rule(rule_tests: dict) -> None:
    checks = {
        check_id: check
        for config in rule_tests["results"].values()
        for check_id, check in config["checks"].items()
    }
    assert set(checks) == set(EXPECTED_RULES)
    assert all(check["passed"] for check in checks.values())
    assert rule_tests["config_with_errors"] == []


@pytest.mark.parametrize("rule", sorted(EXPECTED_RULES))
def test_every_rule_is_tested_both_ways(rule: str, rule_tests: dict) -> None:
    text = FIXTURE.read_text()
    ruleid = re.findall(rf"^\s*# ruleid:.*\b{re.escape(rule)}\b", text, re.MULTILINE)
    ok = re.findall(rf"^\s*# ok:.*\b{re.escape(rule)}\b", text, re.MULTILINE)
    assert len(ruleid) >= 3
    assert len(ok) >= 3
    (config,) = rule_tests["results"].values()
    (matches,) = config["checks"][rule]["matches"].values()
    assert matches["reported_lines"] == matches["expected_lines"]
    assert len(matches["expected_lines"]) == len(ruleid)


# --- what the pack costs: the rules Semgrep runs on a module ---------------------------

# Command-line code in the words such code uses, handling no web request and
# unpickling nothing. Semgrep runs a rule only on the files holding the words its
# patterns name, so every rule that needs a request, a command line, a prompt or a
# pickle module must be skipped here: with "request" alone as the word, the taint rules
# ran on 35 of this project's 82 files and the scan took twice as long.
PLAIN_MODULE = """\
\"\"\"Open a pull request from the request file: its config, extras and where it runs.\"\"\"
import json
import subprocess
import sys


def main(args: list[str]) -> int:
    request = json.loads(open(args[0]).read())
    config = {"extra": request.get("extra"), "where": "ci", "query": args[1:]}
    result = subprocess.run(["git", "log", *config["query"]], check=False)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.orig_argv))
"""
# The same sinks behind a Flask route: those rules run here.
WEB_MODULE = """\
import pickle
import sqlite3
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.post("/run")
def run():
    rows = sqlite3.connect("db").execute("SELECT 1 WHERE x = " + request.form["x"])
    return subprocess.run(request.form["cmd"], shell=True), pickle.loads(request.data), rows
"""


def rules_run_on(tmp_path: Path, text: str) -> set[str]:
    """The ids of the pack's rules that Semgrep runs on a module holding ``text``."""
    from tools import semgrep_rules  # noqa: PLC0415 -- reads PyYAML, as the gate does

    config = semgrep_rules.merged(semgrep_rules.pack(ROOT), tmp_path / "pack.json")
    (tmp_path / "src").mkdir()
    (tmp_path / "src/module.py").write_text(text, encoding="utf-8")
    timing = tmp_path / "timing.json"
    result = run(
        [
            *(tool_path("semgrep"), "scan", *QUIET_FLAGS, "-q", "--time", "--json"),
            *(f"--output={timing}", f"--config={config}", "src"),
        ],
        cwd=tmp_path,
        env=clean_env(**QUIET_ENV),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    time = json.loads(timing.read_text())["time"]
    [target] = time["targets"]
    return {
        rule.rsplit(".", 1)[-1]
        for rule, seconds in zip(time["rules"], target["match_times"], strict=True)
        if seconds > 0
    }


NEEDS_INPUT = {
    rule["id"]
    for path in sorted((ROOT / ".semgrep").glob("*.yml"))
    for rule in yaml.safe_load(path.read_text())["rules"]
    if rule.get("mode") == "taint"
} | {"insecure-deserialization", "pickle-load-from-file"}


def test_rules_that_need_input_skip_a_module_without_any(tmp_path: Path) -> None:
    ran = rules_run_on(tmp_path, PLAIN_MODULE)
    assert ran, "Semgrep timed no rule: the measure is broken"
    assert ran & NEEDS_INPUT == set()


def test_the_same_rules_run_where_the_request_is(tmp_path: Path) -> None:
    ran = rules_run_on(tmp_path, WEB_MODULE)
    assert {"sql-injection", "command-injection", "insecure-deserialization"} <= ran


# --- a clean project, offline -------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> GateRun:
    project = make_project(tmp_path_factory.mktemp("clean"))
    return run_sast(project, PIPELINE_OFFLINE="1")


def test_clean_project_passes(clean: GateRun) -> None:
    assert clean.code == 0, clean.stderr
    record = clean.record
    assert (record["status"], record["findings"], record["blocking"]) == ("passed", {}, [])
    assert record["reports"] == ["reports/sast.sarif", "reports/sast.json"]
    assert f"rule tests: {len(ALL_RULES)} rule(s) of {PACK_FILES} rule file(s) passed" in (
        clean.stdout
    )


def test_clean_scan_covers_the_service_and_skips_the_fixtures(clean: GateRun) -> None:
    scanned = clean.report("sast.json")["paths"]["scanned"]
    assert str(SERVICE) in scanned
    assert not [path for path in scanned if path.startswith(".semgrep/")]


def test_offline_run_says_so_everywhere(clean: GateRun) -> None:
    note = f"{OFFLINE_NOTE} (PIPELINE_OFFLINE=1)"
    assert f"sast: WARNING: {note}" in clean.stderr
    assert note in clean.stdout
    assert any(note in line for line in clean.record["notes"])
    assert any(note in line for line in clean.report("sast.json")["notes"])
    (run,) = clean.report("sast.sarif")["runs"]
    notifications = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "warning" and note in n["message"]["text"] for n in notifications)
    assert sorted(rule["id"] for rule in run["tool"]["driver"]["rules"]) == sorted(ALL_RULES)


# --- each ERROR pattern injected into the service -----------------------------------

# Each spelling goes into its own copy of the service's app factory, just before
# `return app`; the line marked `# <-` is the one that must be reported.
INJECTIONS = {
    "debug-true": ("flask-debug-true", ["app.run(debug=True)  # <-"]),
    "debug-one": ("flask-debug-true", ['app.run(host="127.0.0.1", debug=1)  # <-']),
    "debug-config": ("flask-debug-true", ['app.config["DEBUG"] = True  # <-']),
    "debug-kwargs": (
        "flask-debug-true",
        ['run_options = {"port": 8080, "debug": True}', "app.run(**run_options)  # <-"],
    ),
    "shell-true": (
        "subprocess-shell-true",
        ['subprocess.run("ping -c1 " + request.args["host"], shell=True)  # <-'],
    ),
    "shell-fstring": (
        "subprocess-shell-true",
        ["subprocess.check_output(f\"dig {request.args['host']}\", shell=1)  # <-"],
    ),
    "os-system": ("subprocess-shell-true", ['os.system("ping " + request.args["host"])  # <-']),
    "getoutput": ("subprocess-shell-true", ["subprocess.getoutput(request.args['cmd'])  # <-"]),
    "jwt-options": (
        "jwt-decode-without-verification",
        ['jwt.decode(request.args["token"], options={"verify_signature": False})  # <-'],
    ),
    "jwt-options-variable": (
        "jwt-decode-without-verification",
        [
            "unverified = dict(verify_signature=False)",
            'jwt.decode(request.args["token"], options=unverified)  # <-',
        ],
    ),
    "jwt-verify-false": (
        "jwt-decode-without-verification",
        ['jwt.decode(request.args["token"], "key", verify=False)  # <-'],
    ),
    "jwt-none": (
        "jwt-decode-without-verification",
        ['jwt.decode(request.args["token"], "key", algorithms=["none"])  # <-'],
    ),
}


def inject(service: str, lines: list[str]) -> tuple[str, int]:
    """The service with ``lines`` before `return app`, and the marked line's number."""
    head, tail = service.split("\n    return app\n")
    head = "import os\nimport subprocess\n\nimport jwt\n" + head
    text = head + "".join(f"\n    {line}" for line in lines) + "\n    return app\n" + tail
    (marked,) = [n for n, line in enumerate(text.splitlines(), 1) if line.endswith("# <-")]
    return text, marked


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> tuple[GateRun, dict[str, tuple]]:
    service = (ROOT / SERVICE).read_text()
    files, expected = {}, {}
    for name, (rule, lines) in INJECTIONS.items():
        path = f"src/taskapi/injected_{name.replace('-', '_')}.py"
        files[path], line = inject(service, lines)
        expected[name] = (rule, path, line)
    # The four rules of rules.yml, alone: each spelling is theirs to find, exactly.
    project = make_project(tmp_path_factory.mktemp("injected"), files, pack=("rules",))
    return run_sast(project, PIPELINE_OFFLINE="1"), expected


def test_injected_errors_fail_the_gate_with_exactly_those_findings(injected: tuple) -> None:
    run, expected = injected
    assert run.code == 1, run.stderr
    record = run.record
    assert record["status"] == "failed"
    blocking = {(f["rule"], f["path"], f["line"]) for f in record["blocking"]}
    assert blocking == set(expected.values())
    assert record["findings"] == {"error": len(expected)}
    assert run.has_report("sast.sarif") or run.has_report("sast.json")


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_console_names_each_injected_finding(name: str, injected: tuple) -> None:
    run, expected = injected
    rule, path, line = expected[name]
    assert re.search(rf"^sast: {re.escape(rule)} {re.escape(path)}:{line} \S", run.stderr, re.M)


def test_reports_hold_relative_paths_and_no_matched_code(injected: tuple) -> None:
    run, expected = injected
    (sarif_run,) = run.report("sast.sarif")["runs"]
    results = sarif_run["results"]
    assert len(results) == len(expected)
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith("src/taskapi/injected_")
        assert "snippet" not in location["region"]
        # Semgrep's placeholder without a login would merge every alert into one.
        assert "requires login" not in json.dumps(result.get("fingerprints", {}))
    assert not [r for r in run.report("sast.json")["results"] if "lines" in r["extra"]]


# --- a WARNING-only finding, with the registry unreachable ---------------------------


@pytest.fixture(scope="module")
def warning_only(tmp_path_factory: pytest.TempPathFactory, closed_port: int) -> GateRun:
    main = (ROOT / "src/taskapi/__main__.py").read_text()
    assert 'default="127.0.0.1"' in main
    project = make_project(
        tmp_path_factory.mktemp("warning"),
        {"src/taskapi/__main__.py": main.replace('default="127.0.0.1"', 'default="0.0.0.0"')},
    )
    # Bytes no parser makes sense of: Semgrep scans around them and says so; the
    # project accepts that, with a reason, so only the warning stands.
    (project / "src/taskapi/garbled.py").write_bytes(GARBLED)
    (project / "pyproject.toml").write_text(ACCEPT_GARBLED, encoding="utf-8")
    # No PIPELINE_OFFLINE: the probe finds the registry unreachable.
    return run_sast(project, SEMGREP_URL=f"https://127.0.0.1:{closed_port}")


GARBLED = b"\xff\xfe\x00garbled = 1\n"
ACCEPT_GARBLED = (
    '[tool.pipeline.sast]\naccept = { "src/taskapi/garbled.py" = "test bytes, not code" }\n'
)


def test_warning_only_finding_is_reported_not_blocking(warning_only: GateRun) -> None:
    assert warning_only.code == 0, warning_only.stderr
    record = warning_only.record
    assert (record["status"], record["findings"], record["blocking"]) == (
        "passed",
        {"warning": 1},
        [],
    )
    (result,) = warning_only.report("sast.sarif")["runs"][0]["results"]
    # A project rule keeps its own id, whatever folder Semgrep read it from.
    assert result["ruleId"] == "hardcoded-bind-all-interfaces"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "src/taskapi/__main__.py"
    )
    assert "passed (1 non-blocking finding(s))" in warning_only.stdout


def test_unreachable_registry_goes_offline_loudly(warning_only: GateRun, closed_port: int) -> None:
    note = f"{OFFLINE_NOTE} (127.0.0.1:{closed_port} is unreachable)"
    assert f"sast: WARNING: {note}" in warning_only.stderr
    assert any(note in line for line in warning_only.record["notes"])


def test_an_accepted_partly_parsed_file_is_listed_with_its_reason(warning_only: GateRun) -> None:
    (note,) = [n for n in warning_only.record["notes"] if n.startswith("not analysed:")]
    assert note == (
        "not analysed: src/taskapi/garbled.py: Semgrep could parse only part of it "
        "(accepted: test bytes, not code)"
    )
    assert "garbled = 1" not in json.dumps(warning_only.record)
    assert "garbled = 1" not in json.dumps(warning_only.report("sast.json"))


def test_a_partly_parsed_file_fails_the_gate_unless_accepted(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "src/taskapi/garbled.py").write_bytes(GARBLED)
    run = run_sast(project, PIPELINE_OFFLINE="1")
    assert run.code == 1, run.stderr
    assert [(b["rule"], b["path"]) for b in run.record["blocking"]] == [
        ("not-analysed", "src/taskapi/garbled.py")
    ]


def test_unreachable_registry_in_github_actions_is_a_gate_error(
    tmp_path: Path, closed_port: int
) -> None:
    project = make_project(tmp_path)
    run = run_sast(project, GITHUB_ACTIONS="true", SEMGREP_URL=f"https://127.0.0.1:{closed_port}")
    assert run.code == 2
    assert "unreachable from GitHub Actions" in run.stderr
    assert run.record["status"] == "failed"
    assert not (run.has_report("sast.sarif") or run.has_report("sast.json"))


# --- broken rules and setups are gate errors, never findings ------------------------


def weaken_literal_exemption(rules: str) -> str:
    exemption = '      - pattern-not: subprocess.$FUNC("...", ...)\n'
    assert exemption in rules
    return rules.replace(exemption, "")


@pytest.mark.parametrize(
    ("case", "break_rules", "message"),
    [
        (
            "rule-broken",
            weaken_literal_exemption,
            r"rule tests failed in \.semgrep/tests/: "
            r"subprocess-shell-true \(unexpected lines \[\d+(, \d+)*\]\)",
        ),
        (
            "invalid-yaml",
            lambda rules: rules.replace("rules:\n", "rules:\n  - id: [unclosed\n", 1),
            r"rules\.yml is not YAML",
        ),
        ("missing", None, r"\.semgrep holds no rule file"),
        ("untested", "untested", r"rules\.yml has no fixture at .*\.semgrep/tests/rules\.py"),
    ],
)
def test_bad_rule_file_is_a_gate_error(
    tmp_path: Path, case: str, break_rules: object, message: str
) -> None:
    project = make_project(tmp_path)
    rules = project / ".semgrep/rules.yml"
    if callable(break_rules):
        rules.write_text(break_rules(rules.read_text()))
    elif break_rules == "untested":
        (project / ".semgrep/tests/rules.py").unlink()
    else:
        for path in (project / ".semgrep").glob("*.yml"):
            path.unlink()
    run = run_sast(project, PIPELINE_OFFLINE="1")
    assert run.code == 2, (case, run.stdout, run.stderr)
    assert re.search(message, run.stderr), run.stderr
    record = run.record
    assert (record["status"], record["blocking"], record["findings"]) == ("failed", [], {})
    assert re.search(message, record["reason"])
    assert not (run.has_report("sast.sarif") or run.has_report("sast.json"))


def test_nothing_to_scan_is_a_gate_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    shutil.rmtree(project / "src")
    run = run_sast(project, PIPELINE_OFFLINE="1")
    assert run.code == 2
    assert "semgrep scanned no files" in run.stderr


def rule_test_note(run: GateRun) -> str:
    return next(note for note in run.record["notes"] if note.startswith("rule tests:"))


def test_rule_tests_rerun_only_when_rules_or_tests_change(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    fixture = project / ".semgrep/tests/rules.py"
    # A comment no earlier run has seen: the first run below cannot be cached.
    fixture.write_text(fixture.read_text() + f"\n# {tmp_path.name}\n")
    notes = []
    for change in ("", "", "# changed\n"):
        fixture.write_text(fixture.read_text() + change)
        run = run_sast(project, PIPELINE_OFFLINE="1")
        assert run.code == 0, run.stderr
        notes.append(rule_test_note(run))  # read now: the next run rewrites the record
    cached = ["unchanged since they last passed" in note for note in notes]
    assert cached == [False, True, False]


def test_a_failing_rule_test_is_never_cached(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    fixture = project / ".semgrep/tests/rules.py"
    # Claim a finding on a line no rule matches: the rule test must fail, every time.
    fixture.write_text(fixture.read_text() + "\n# ruleid: flask-debug-true\nprint('fine')\n")
    for _ in range(2):
        run = run_sast(project, PIPELINE_OFFLINE="1")
        assert run.code == 2
        assert "rule tests failed" in run.record["reason"]


# --- online: the registry packs, fetched from a registry on loopback ------------------


class Registry(http.server.ThreadingHTTPServer):
    """Answers Semgrep's pack downloads (`GET /c/p/<pack>`) with one small rule
    per pack, and remembers what was asked: the network boundary, made local."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        super().__init__(("127.0.0.1", 0), RegistryHandler)


class RegistryHandler(http.server.BaseHTTPRequestHandler):
    server: Registry

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        pack = self.path.rsplit("/", 1)[-1]
        # p/python blocks on eval(); the other packs only warn on print(text).
        pattern, severity = (
            ("eval(...)", "ERROR") if pack == "python" else ("print(text)", "WARNING")
        )
        body = yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": f"registry-{pack}",
                        "pattern": pattern,
                        "message": f"from the {pack} pack",
                        "languages": ["python"],
                        "severity": severity,
                    }
                ]
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-yaml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GateRun, list[str]]]:
    project = make_project(
        tmp_path_factory.mktemp("online"),
        {"src/taskapi/plugins.py": "def load(text):\n    print(text)\n    return eval(text)\n"},
        pack=("rules",),
    )
    registry = Registry()
    thread = threading.Thread(target=registry.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{registry.server_address[1]}"
        # No PIPELINE_OFFLINE: the probe reaches the registry, so the packs run.
        yield run_sast(project, SEMGREP_URL=url), registry.requested
    finally:
        registry.shutdown()
        registry.server_close()


def test_online_runs_every_registry_pack_with_the_local_rules(online: tuple) -> None:
    run, requested = online
    assert sorted(requested) == ["/c/p/default", "/c/p/flask", "/c/p/python"]
    assert not any(OFFLINE_NOTE in note for note in run.record["notes"])
    assert "configs: p/default, p/python, p/flask, .semgrep/ (1 rule files)" in run.record["notes"]


def test_online_pack_findings_block_by_severity(online: tuple) -> None:
    run, _ = online
    assert run.code == 1, run.stderr
    rules = {finding["rule"] for finding in run.record["blocking"]}
    assert {rule.rsplit(".", 1)[-1] for rule in rules} == {"registry-python"}
    assert run.record["findings"] == {"error": 1, "warning": 2}


@pytest.mark.parametrize(
    ("packs", "expected_requests", "configs"),
    [
        (
            '["p/python"]',
            ["/c/p/python"],
            f"configs: p/python, .semgrep/ ({PACK_FILES} rule files)",
        ),
        ("[]", [], f"configs: .semgrep/ ({PACK_FILES} rule files)"),
    ],
)
def test_the_packs_are_the_projects_to_choose(
    tmp_path: Path, packs: str, expected_requests: list[str], configs: str
) -> None:
    project = make_project(
        tmp_path, {"pyproject.toml": f"[tool.pipeline]\nsemgrep-packs = {packs}\n"}
    )
    registry = Registry()
    thread = threading.Thread(target=registry.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{registry.server_address[1]}"
        run = run_sast(project, SEMGREP_URL=url)
    finally:
        registry.shutdown()
        registry.server_close()
    assert run.code == 0, run.stderr
    assert registry.requested == expected_requests
    assert configs in run.record["notes"]
    assert not any(OFFLINE_NOTE in note for note in run.record["notes"])


# --- an air-gapped runner: the packs fetched once, run from a local store --------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The default packs fetched from the loopback registry into a store."""
    registry = Registry()
    thread = threading.Thread(target=registry.serve_forever, daemon=True)
    thread.start()
    folder = tmp_path_factory.mktemp("store") / "packs"
    try:
        url = f"http://127.0.0.1:{registry.server_address[1]}"
        result = run(
            [sys.executable, "-m", "tools.semgrep_packs", str(folder)],
            cwd=ROOT,
            env=clean_env(SEMGREP_URL=url),
        )
        assert result.returncode == 0, result.stderr
        assert f"run offline with PIPELINE_SEMGREP_PACKS={folder}" in result.stdout
        yield folder, registry.requested
    finally:
        registry.shutdown()
        registry.server_close()


def offline_with(store_folder: Path, tmp_path: Path) -> GateRun:
    project = make_project(
        tmp_path,
        {"src/taskapi/plugins.py": "def load(text):\n    print(text)\n    return eval(text)\n"},
        pack=("rules",),
    )
    return run_sast(project, PIPELINE_OFFLINE="1", PIPELINE_SEMGREP_PACKS=str(store_folder))


def test_an_air_gapped_run_runs_the_packs_from_the_store(store: tuple, tmp_path: Path) -> None:
    folder, requested = store
    assert sorted(requested) == ["/c/p/default", "/c/p/flask", "/c/p/python"]
    run = offline_with(folder, tmp_path)
    assert run.code == 1, run.stderr
    # The pack's rule keeps the id the registry gives it, read from a file or not.
    assert {f["rule"] for f in run.record["blocking"]} == {"registry-python"}
    note = next(n for n in run.record["notes"] if n.startswith("registry packs from the local"))
    assert "(0 day(s) ago) from 127.0.0.1: p/default, p/python, p/flask" in note
    assert not any(n.startswith(OFFLINE_NOTE) for n in run.record["notes"])


def test_a_store_whose_pack_changed_is_refused(store: tuple, tmp_path: Path) -> None:
    folder, _ = store
    tampered = tmp_path / "tampered"
    shutil.copytree(folder, tampered)
    (tampered / "p-python.yml").write_text("rules: []\n", encoding="utf-8")
    run = offline_with(tampered, tmp_path / "project")
    assert run.code == 2
    assert "pack p/python in" in run.stderr and "SHA-256 differs" in run.stderr


def test_a_store_without_a_configured_pack_is_refused(store: tuple, tmp_path: Path) -> None:
    folder, _ = store
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    manifest = json.loads((partial / "packs.json").read_text(encoding="utf-8"))
    del manifest["packs"]["p/flask"]
    (partial / "packs.json").write_text(json.dumps(manifest), encoding="utf-8")
    run = offline_with(partial, tmp_path / "project")
    assert run.code == 2
    assert "pack p/flask is not in the store" in run.stderr
