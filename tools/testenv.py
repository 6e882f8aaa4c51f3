"""The test gate's venv: the project's own test environment, plus the pipeline's
pinned coverage runner.

The project's environment comes from its lock when it has one at its root
(``uv.lock`` exported with its test groups and extras; the versions of
``poetry.lock``, ``pylock.toml`` or ``Pipfile.lock`` as constraints), and from
what it declares for its tests otherwise: the project itself (editable, so that
coverage sees the files in the checkout) with its test extras, its test
dependency groups (PEP 735, or Poetry's), and its test requirements files. Every
requirement passes through the deps gate's readers first: an option a file
names (an index, a link) never reaches the installer.

On top comes ``locks/test.txt`` (the pipeline-test group, hash-checked):
pytest-cov and coverage always, pytest and its own dependencies only where the
project brings none. The venv is re-made only when any of its inputs change.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

import nox
from nox.virtualenv import find_uv
from packaging.utils import canonicalize_name

from tools import network, settings
from tools.deps import discovery, forms, pins, requirements_txt
from tools.deps.declared import Declared
from tools.gates import test as test_gate

STAMP = ".pipeline-testenv.sha256"
DEFAULT_GROUPS = ("test", "tests", "testing", "dev")
DEFAULT_EXTRAS = ("test", "tests", "testing")
DEFAULT_REQUIREMENTS = (
    "requirements-test.txt", "requirements_test.txt", "requirements-tests.txt",
    "test-requirements.txt", "requirements-dev.txt", "requirements_dev.txt",
    "dev-requirements.txt", "requirements/test.txt", "requirements/tests.txt",
    "requirements/dev.txt", "tests/requirements.txt",
)  # fmt: skip
# The runner's packages the pipeline always installs at its own pins.
ALWAYS_OURS = frozenset({"pytest-cov", "coverage"})
CONSTRAINING_LOCKS = ("poetry.lock", "pylock.toml", "Pipfile.lock")


def _pyproject(root: Path) -> dict:
    path = root / "pyproject.toml"
    return forms.toml(path.read_text(encoding="utf-8"), "pyproject.toml") if path.is_file() else {}


def chosen(root: Path, own: test_gate.TestSettings) -> tuple[list[str], list[str], list[str]]:
    """The groups, extras and requirements files the tests need: as configured,
    else the conventional names the project has."""
    document = _pyproject(root)
    groups = set(document.get("dependency-groups") or {})
    poetry = (document.get("tool") or {}).get("poetry") or {}
    groups |= set(poetry.get("group") or {})
    extras = set((document.get("project") or {}).get("optional-dependencies") or {})
    return (
        list(own.groups) if own.groups is not None else [g for g in DEFAULT_GROUPS if g in groups],
        list(own.extras) if own.extras is not None else [e for e in DEFAULT_EXTRAS if e in extras],
        list(own.requirements)
        if own.requirements is not None
        else [name for name in DEFAULT_REQUIREMENTS if (root / name).is_file()],
    )


def group_requirements(root: Path, groups: list[str]) -> list[Declared]:
    """The declared entries of the chosen groups, PEP 735 or Poetry's."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    manifest = forms.Manifest("pyproject.toml", "pyproject")
    document = _pyproject(root)
    expanded = forms.dependency_groups(document.get("dependency-groups") or {}, "pyproject.toml")
    forms.from_strings(manifest, text, [item for g in groups for item in expanded.get(g, [])])
    poetry_groups = ((document.get("tool") or {}).get("poetry") or {}).get("group") or {}
    for group in groups:
        for name, constraint in (poetry_groups.get(group, {}).get("dependencies") or {}).items():
            forms.poetry_entry(manifest, text, name, constraint)
    return manifest.declared


def file_requirements(root: Path, files: list[str]) -> list[Declared]:
    found: list[Declared] = []
    queue, seen = list(files), set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        parsed = requirements_txt.read(discovery.read_text(root, path), path)
        found += parsed.declared
        queue += [requirements_txt.included_path(path, written) for _, written in parsed.includes]
    return found


def constraints(root: Path) -> list[str]:
    """The exact versions a root lock pins, one per package (a package the lock
    pins at two versions, for two Pythons, is left to the resolver)."""
    versions: dict[str, set[str]] = {}
    for name in CONSTRAINING_LOCKS:
        if (root / name).is_file():
            manifest = discovery.read(root, name, discovery.Discovered())
            for entry in manifest.declared if manifest else []:
                versions.setdefault(entry.name, set()).add(entry.exact or "")
    return sorted(
        f"{name}=={next(iter(v))}" for name, v in versions.items() if len(v) == 1 and "" not in v
    )


def installs_project(root: Path) -> bool:
    """A project pip can install: setup.py or setup.cfg, or a pyproject.toml that
    declares one ([project] or [build-system]); a pyproject.toml holding only tool
    settings (an application's, say) is none: its code is imported from the checkout."""
    if any((root / name).is_file() for name in ("setup.py", "setup.cfg")):
        return True
    document = _pyproject(root)
    return "project" in document or "build-system" in document


def plan(root: Path, policy_root: Path, scratch: Path) -> tuple[list[list[str]], list[Path]]:
    """The ``uv`` commands that build the project's environment at ``root`` as the
    settings at ``policy_root`` say, and the files whose bytes decide it (the
    venv's stamp covers them)."""
    config = settings.load(policy_root / "pyproject.toml")
    own: test_gate.TestSettings = config.of(test_gate.GATE)
    groups, extras, requirement_files = chosen(root, own)
    offline = ["--offline"] if network.offline_requested() else []
    inputs = [root / name for name in ("pyproject.toml", "setup.py", "setup.cfg", "uv.lock",
                                       *CONSTRAINING_LOCKS, *requirement_files)]  # fmt: skip
    if (root / "uv.lock").is_file():
        exported = scratch / "exported.txt"
        commands = [
            ["export", "--frozen", "--format", "requirements-txt", "--no-emit-project",
             "--no-header", "--quiet", *[a for g in groups for a in ("--group", g)],
             *[a for e in extras for a in ("--extra", e)], "--output-file", str(exported)],
            ["pip", "install", "--no-deps", *offline, "-r", str(exported)],
        ]  # fmt: skip
        if installs_project(root):
            commands.append(["pip", "install", "--no-deps", *offline, "-e", "."])
        return commands, inputs
    wanted = scratch / "requirements.txt"
    project = f"-e .[{','.join(extras)}]" if extras else "-e ."
    lines = [project] if installs_project(root) else []
    declared = group_requirements(root, groups) if (root / "pyproject.toml").is_file() else []
    declared += file_requirements(root, requirement_files)
    lines += [entry.requirement() for entry in declared]
    wanted.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pinned = scratch / "constraints.txt"
    pinned.write_text("\n".join(constraints(root)) + "\n", encoding="utf-8")
    return [["pip", "install", *offline, "-r", str(wanted), "-c", str(pinned)]], inputs


def runner_pins(lock: Path, installed: set[str]) -> list[pins.Pin]:
    """From the pipeline-test lock: coverage's packages always, the rest only
    where the project's environment has none of its own."""
    return [pin for pin in pins.read(lock) if pin.name in ALWAYS_OURS or pin.name not in installed]


def install(session: nox.Session, lock: Path) -> None:
    """Build the test venv: ``lock`` is the pipeline-test lock of the policy's tree
    (``<root>/locks/test.txt``), whose settings say what the tests need."""
    root = Path.cwd()
    policy_root = lock.resolve().parents[1]
    _, uv, _ = find_uv()
    venv = Path(session.virtualenv.location)
    python = str(venv / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="testenv-") as tmp:
        scratch = Path(tmp)
        commands, inputs = plan(root, policy_root, scratch)
        digest = hashlib.sha256(repr(commands).replace(tmp, "").encode())
        for path in [*inputs, lock, policy_root / "pyproject.toml"]:
            digest.update(b"\0" + (path.read_bytes() if path.is_file() else b""))
        stamp = venv / STAMP
        if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest.hexdigest():
            session.log("venv matches the project's test environment, nothing to install")
            return
        stamp.unlink(missing_ok=True)
        env = {"VIRTUAL_ENV": str(venv)}
        for command in commands:
            where = ["--python", python] if command[0] == "pip" else []
            session.run_install(uv, *command[:2], *where, *command[2:], env=env, external=True)
        frozen = subprocess.run(
            [uv, "pip", "freeze", "--python", python], capture_output=True, text=True, check=True
        ).stdout
        installed = {
            canonicalize_name(line.split("==")[0]) for line in frozen.splitlines() if "==" in line
        }
        runner = scratch / "runner.txt"
        runner.write_text(
            "".join(
                " ".join([pin.requirement(), *(f"--hash={h}" for h in pin.hashes)]) + "\n"
                for pin in runner_pins(lock, installed)
            ),
            encoding="utf-8",
        )
        session.run_install(
            uv, "pip", "install", "--python", python, "--no-deps", "--require-hashes",
            "--reinstall-package", "pytest-cov", "--reinstall-package", "coverage",
            "-r", str(runner), env=env, external=True,
        )  # fmt: skip
    stamp.write_text(digest.hexdigest() + "\n", encoding="utf-8")
