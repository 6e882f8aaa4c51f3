"""The deps gate on every form a Python project declares its dependencies in.

Each form gets a repository of its own, built here, with one known-vulnerable
pin (flask 2.2.4, PYSEC-2023-62 in the committed advisories) beside a clean one
(redis 7.0.10, whose advisory is withdrawn): the gate must name exactly the
vulnerable package, on its manifest line, and count the project's packages
right. Ranges are resolved by the real uv against a package index served on
127.0.0.1, so nothing here reaches the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import GateRun, clean_env, commit, new_repo, poetry_lock, run_gate
from package_index import build_wheel, serving

from tools.deps import forms, requirements_txt
from tools.errors import PinError

VULNERABLE = ("flask", "PYSEC-2023-62")
PIPELINE_LOCK = "# pins-sha256: 0\nhttpx==0.28.1 \\\n    --hash=sha256:00\n"

PYPROJECT_RANGES = """[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["flask>=2", "redis"]
"""
UV_LOCK = """version = 1
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "flask" }, { name = "redis" }]

[[package]]
name = "flask"
version = "2.2.4"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "redis"
version = "7.0.10"
source = { registry = "https://pypi.org/simple" }
"""
POETRY_PYPROJECT = """[tool.poetry]
name = "demo"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.11"
flask = "^2.2"

[tool.poetry.group.test.dependencies]
redis = { version = "*", markers = "python_version >= '3.11'" }
"""
POETRY_LOCK = poetry_lock(("flask", "2.2.4"), ("redis", "7.0.10"))
PYLOCK = """lock-version = "1.0"
created-by = "tests"

[[packages]]
name = "redis"
version = "7.0.10"

[[packages]]
name = "flask"
version = "2.2.4"
"""
PIPFILE_LOCK = json.dumps(
    {
        "_meta": {"hash": {"sha256": "0"}, "pipfile-spec": 6},
        "default": {"flask": {"version": "==2.2.4", "hashes": []}},
        "develop": {"redis": {"version": "==7.0.10", "hashes": []}},
    },
    indent=4,
)
SETUP_CFG = """[metadata]
name = demo

[options]
install_requires =
    flask==2.2.4

[options.extras_require]
cache =
    redis==7.0.10
"""
SETUP_PY = """from setuptools import setup

CACHE = ["redis==7.0.10"]

setup(name="demo", install_requires=["flask==2.2.4"], extras_require={"cache": CACHE})
"""

# Each form: its files, the manifest the finding must name, and the line.
FORMS = {
    "requirements.txt, unhashed, with -rfile": (
        {"requirements.txt": "redis==7.0.10\n-rapp/extra.txt\n", "app/extra.txt": "flask==2.2.4\n"},
        "app/extra.txt",
        1,
    ),
    "requirements/ folder, --requirement=": (
        {
            "requirements/base.txt": "flask==2.2.4  # the web framework\n",
            "requirements/dev.txt": "--requirement=base.txt\n-c ../constraints.txt\n",
            "constraints.txt": "redis==7.0.10\n",
        },
        "requirements/base.txt",
        1,
    ),
    "pyproject: dependencies, extras and groups": (
        {
            "pyproject.toml": '[project]\nname = "demo"\nversion = "0.1.0"\n'
            'dependencies = ["redis==7.0.10"]\n\n[project.optional-dependencies]\n'
            'web = ["flask==2.2.4"]\n\n[dependency-groups]\n'
            'dev = [{include-group = "web"}]\nweb = ["flask==2.2.4"]\n'
        },
        "pyproject.toml",
        7,
    ),
    "uv.lock": ({"pyproject.toml": PYPROJECT_RANGES, "uv.lock": UV_LOCK}, "uv.lock", 11),
    "poetry.lock": (
        {"pyproject.toml": POETRY_PYPROJECT, "poetry.lock": POETRY_LOCK},
        "poetry.lock",
        4,
    ),
    "pylock.toml": ({"pylock.toml": PYLOCK}, "pylock.toml", 9),
    "pylock.<name>.toml": ({"pylock.dev.toml": PYLOCK}, "pylock.dev.toml", 9),
    "Pipfile.lock": ({"Pipfile.lock": PIPFILE_LOCK}, "Pipfile.lock", 9),
    "setup.cfg": ({"setup.cfg": SETUP_CFG}, "setup.cfg", 6),
    "setup.py, literal lists": ({"setup.py": SETUP_PY}, "setup.py", 5),
}


def repository(path: Path, files: dict[str, str]) -> Path:
    repo = new_repo(path)
    commit(repo, "The project", {"README.md": "demo\n", **files, "locks/notify.txt": PIPELINE_LOCK})
    return repo


def audit(repo: Path, advisory_db: Path, **env: str) -> GateRun:
    return run_gate("deps", repo, env=clean_env(PIPELINE_OSV_DB=str(advisory_db), **env))


def vulnerabilities(run: GateRun) -> set[tuple[str, int, str, str]]:
    return {
        (v["manifest"], v["line"], v["package"], v["id"])
        for v in run.report("deps.json")["vulnerabilities"]
    }


def own_count(run: GateRun) -> int:
    return int(run.record["notes"][0].split()[0])


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_each_form_names_exactly_the_vulnerable_pin(
    form: str, tmp_path: Path, advisory_db: Path
) -> None:
    files, manifest, line = FORMS[form]
    run = audit(repository(tmp_path / "repo", files), advisory_db, PIPELINE_OFFLINE="1")
    assert run.code == 1, run.stderr
    assert vulnerabilities(run) == {(manifest, line, *VULNERABLE)}
    assert own_count(run) == 2, run.record["notes"]
    assert "1 package(s) of the pipeline's own tools audited" in " ".join(run.record["notes"])


@pytest.fixture
def index(tmp_path: Path) -> Iterator[dict[str, str]]:
    """uv pointed at a loopback index holding flask 2.2.4 (needing werkzeug) and redis."""
    wheels = tmp_path / "index"
    build_wheel(wheels, "flask", "2.2.4", ("werkzeug>=2",))
    build_wheel(wheels, "werkzeug", "2.2.3")
    build_wheel(wheels, "redis", "7.0.10")
    with serving(wheels) as url:
        yield {
            "UV_INDEX_URL": url,
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            "UV_NO_CONFIG": "1",
        }


def test_ranges_no_lock_pins_are_resolved_to_todays_versions(
    tmp_path: Path, advisory_db: Path, index: dict[str, str]
) -> None:
    repo = repository(tmp_path / "repo", {"pyproject.toml": PYPROJECT_RANGES})
    run = audit(repo, advisory_db, **index)
    assert run.code == 1, run.stderr
    # flask came from resolving `flask>=2`: the finding points at that line.
    assert vulnerabilities(run) == {("pyproject.toml", 5, *VULNERABLE)}
    assert own_count(run) == 3  # flask, werkzeug (its dependency), redis
    assert "pyproject.toml: 3 resolved from its ranges" in " ".join(run.record["notes"])


def test_ranges_offline_with_nothing_cached_are_one_error(
    tmp_path: Path, advisory_db: Path
) -> None:
    repo = repository(tmp_path / "repo", {"pyproject.toml": PYPROJECT_RANGES})
    run = audit(repo, advisory_db, PIPELINE_OFFLINE="1", UV_CACHE_DIR=str(tmp_path / "empty"))
    assert run.code == 2, run.stderr
    assert "cannot resolve the ranges pyproject.toml declares (offline" in run.record["reason"]


def test_nothing_declared_says_so_plainly(tmp_path: Path, advisory_db: Path) -> None:
    run = audit(repository(tmp_path / "repo", {}), advisory_db, PIPELINE_OFFLINE="1")
    assert run.code == 0, run.stderr
    assert run.record["notes"][0].startswith(
        "the project declares no dependencies of its own: only the pipeline's tool locks"
    )


def test_index_options_and_direct_urls_are_findings(tmp_path: Path, advisory_db: Path) -> None:
    requirements = (
        "--extra-index-url https://packages.example.invalid/simple\n"
        "-i https://mirror.example.invalid/simple\n"
        "redis==7.0.10\n"
        "tool @ https://example.invalid/tool-1.0.tar.gz\n"
        "-e git+https://example.invalid/lib.git#egg=lib\n"
        "-e .\n"
    )
    run = audit(
        repository(tmp_path / "repo", {"requirements-dev.txt": requirements}),
        advisory_db,
        PIPELINE_OFFLINE="1",
    )
    assert run.code == 1, run.stderr
    blocking = {(b["rule"], b["path"], b["line"]) for b in run.record["blocking"]}
    assert blocking == {
        ("deps-index-option", "requirements-dev.txt", 1),
        ("deps-index-option", "requirements-dev.txt", 2),
        ("deps-direct-url", "requirements-dev.txt", 4),
        ("deps-direct-url", "requirements-dev.txt", 5),
    }
    assert "requirements-dev.txt:6 names .: the project itself" in " ".join(run.record["notes"])


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"requirements.txt": "flask==2.2.4\nthis is no requirement!\n"}, "requirements.txt:2"),
        ({"requirements.txt": "-r missing.txt\n"}, "includes missing.txt, which does not exist"),
        ({"requirements.txt": "-r ../../outside.txt\n"}, "lies outside the repository"),
        ({"requirements.txt": "--no-such-option\n"}, "--no-such-option is not an option"),
        ({"uv.lock": "[[package]\n"}, "uv.lock is not TOML"),
        ({"Pipfile.lock": "{nope"}, "Pipfile.lock is not JSON"),
        (
            {"setup.py": "from setuptools import setup\nsetup(install_requires=make())\n"},
            "computed",
        ),
        ({"requirements.txt": b"\xff\xfe"}, "requirements.txt is not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_one_line(
    tmp_path: Path, advisory_db: Path, files: dict[str, str], said: str
) -> None:
    run = audit(repository(tmp_path / "repo", files), advisory_db, PIPELINE_OFFLINE="1")
    assert run.code == 2, run.stdout + run.stderr
    assert said in run.record["reason"]
    assert "Traceback" not in run.stderr


def test_fixture_folders_are_skipped_and_listed(tmp_path: Path, advisory_db: Path) -> None:
    files = {
        "tests/fixtures/broken/pyproject.toml": "[not toml",
        "requirements.txt": "redis==7.0.10\n",
    }
    run = audit(repository(tmp_path / "repo", files), advisory_db, PIPELINE_OFFLINE="1")
    assert run.code == 0, run.stderr
    notes = " ".join(run.record["notes"])
    assert "skipped 1 declaration file(s) under a test-fixture folder" in notes


def test_explicit_manifests_replace_discovery(tmp_path: Path, advisory_db: Path) -> None:
    files = {
        "requirements.txt": "flask==2.2.4\n",
        "deploy/requirements.txt": "redis==7.0.10\n",
        "pyproject.toml": '[tool.pipeline.deps]\nmanifests = ["deploy/requirements.txt"]\n',
    }
    run = audit(repository(tmp_path / "repo", files), advisory_db, PIPELINE_OFFLINE="1")
    assert run.code == 0, run.stderr
    assert own_count(run) == 1


# -- the readers alone -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "option", "value"),
    [
        ("-rbase.txt", "-r", "base.txt"),
        ("-r base.txt", "-r", "base.txt"),
        ("--requirement=base.txt", "--requirement", "base.txt"),
        ("--requirement base.txt", "--requirement", "base.txt"),
        ("-cpins.txt", "-c", "pins.txt"),
        ("--constraint=pins.txt", "--constraint", "pins.txt"),
        ("-e.", "-e", "."),
    ],
)
def test_every_spelling_of_an_option(line: str, option: str, value: str) -> None:
    assert requirements_txt.split_option(line) == (option, value)


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        ("*", ""),
        (">= 1.0, < 2.0", ">=1.0,<2.0"),
        ("1.0 || 2.0", ""),
    ],
)
def test_poetry_constraints_in_pep_440(constraint: str, specifier: str) -> None:
    assert forms.poetry_specifier(constraint) == specifier


def test_exact_is_one_version_and_nothing_else() -> None:
    from tools.deps.declared import Declared  # noqa: PLC0415 -- the record under test

    def exact(specifier: str) -> str | None:
        return Declared("m", 1, "x", specifier).exact

    assert (exact("==1.0"), exact("===1.0a"), exact("==1.*"), exact(">=1"), exact("")) == (
        "1.0",
        "1.0a",
        None,
        None,
        None,
    )
    assert exact("==1.0,<2") is None


def test_a_dependency_group_that_includes_itself_is_an_error() -> None:
    with pytest.raises(PinError, match="includes itself"):
        forms.dependency_groups({"a": [{"include-group": "b"}], "b": [{"include-group": "a"}]}, "p")
