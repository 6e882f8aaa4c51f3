"""Where things are in a repository: the pipeline's own files, the project's
source packages, and its tests.

The pipeline's files are the same in every repository that adopts it; the
project's layout is read from ``[tool.pipeline] source`` and ``tests`` when it
says, and otherwise found: the packages under ``src/`` (or, without ``src/``,
the top-level ones), and a ``tests/`` or ``test/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tools import settings

# What the pipeline installs into a repository and owns there: linted with its
# own configuration, never with the project's.
PIPELINE_FILES = ("noxfile.py", "tools/")
TEST_FOLDERS = ("tests", "test")
# Top-level folders that hold no package of the project's, whatever they contain.
NOT_SOURCE = frozenset(
    {"tests", "test", "docs", "doc", "examples", "example", "scripts", "tools", "benchmarks",
     "build", "dist", "site-packages", "node_modules", "reports", "locks"}
)  # fmt: skip


def is_pipeline_file(path: str) -> bool:
    return path in PIPELINE_FILES or path.startswith(
        tuple(p for p in PIPELINE_FILES if p[-1] == "/")
    )


@dataclass(frozen=True)
class Package:
    name: str  # the import name coverage measures
    path: str  # the folder (or module file) it lives in, relative to the repository


def _packages_in(root: Path, folder: str) -> list[Package]:
    base = root / folder if folder else root
    found = []
    for child in sorted(base.iterdir()) if base.is_dir() else []:
        name = child.name
        relative = (PurePosixPath(folder) / name).as_posix() if folder else name
        if name.startswith((".", "_")) or (not folder and name in NOT_SOURCE):
            continue
        if child.is_dir() and (child / "__init__.py").is_file() and name.isidentifier():
            found.append(Package(name, relative))
        elif folder == "src" and child.is_dir() and name.isidentifier():
            # A namespace package (src/poetry/ holding core/): its packages, dotted.
            found += [
                Package(f"{name}.{package.name}", package.path)
                for package in _packages_in(root, relative)
                if "." not in package.name and not package.path.endswith(".py")
            ]
        elif folder and child.suffix == ".py" and child.stem.isidentifier():
            found.append(Package(child.stem, relative))
    return found


def import_name(path: PurePosixPath) -> str:
    """The name a package or module at ``path`` is imported by: dotted below
    ``src/`` (src/poetry/core is poetry.core), else its own name."""
    stem = path.with_suffix("") if path.suffix == ".py" else path
    if stem.parts[0] == "src" and len(stem.parts) > 1:
        return ".".join(stem.parts[1:])
    return stem.name


def source_packages(root: Path, configured: settings.Settings) -> list[Package]:
    """The project's own packages: named in ``[tool.pipeline] source`` (by import
    name or path), else found under ``src/``, else at the top level."""
    if configured.source is not None:
        packages = []
        for entry in configured.source:
            path = PurePosixPath(entry)
            if (root / entry).exists():
                packages.append(Package(import_name(path), entry))
            else:
                found = [
                    p for p in _packages_in(root, "src") + _packages_in(root, "") if p.name == entry
                ]
                packages.append(found[0] if found else Package(entry, entry))
        return packages
    return _packages_in(root, "src") or _packages_in(root, "")


def top_level_modules(tracked: list[str]) -> list[Package]:
    """A flat project's modules: the tracked ``*.py`` files at the top, but for
    the pipeline's noxfile and the files that configure setuptools and pytest."""
    return [
        Package(PurePosixPath(name).stem, name)
        for name in tracked
        if "/" not in name
        and name.endswith(".py")
        and not is_pipeline_file(name)
        and name not in ("setup.py", "conftest.py")
    ]


def test_paths(root: Path, configured: settings.Settings) -> list[str]:
    if configured.tests is not None:
        return list(configured.tests)
    return [folder for folder in TEST_FOLDERS if (root / folder).is_dir()]


def is_test_file(path: str, tests: list[str]) -> bool:
    """A file under a test folder, or one named as pytest collects tests."""
    name = PurePosixPath(path).name
    in_folder = any(path == t or path.startswith(t.rstrip("/") + "/") for t in tests)
    return (
        in_folder or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    )
