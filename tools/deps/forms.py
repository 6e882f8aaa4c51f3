"""Every form in which a Python project declares its dependencies, read into
``Manifest`` records: pyproject.toml (PEP 621 dependencies and extras, PEP 735
dependency groups, the build system's requires, Poetry's tables), setup.cfg,
setup.py (its literal lists only: it is code, and never run), Pipfile, and the
locks uv.lock, poetry.lock, pylock.toml (PEP 751) and Pipfile.lock.

Requirements files are read by ``tools.deps.requirements_txt``. A file that is
not what its name says is a ``PinError`` naming it; nothing is dropped quietly.
Line numbers point at the entry's line where the format allows finding it.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from typing import Any

from packaging.utils import canonicalize_name

from tools.deps.declared import (
    Declared,
    Manifest,
    declared,
    direct_url,
    parse_requirement,
)
from tools.errors import PinError
from tools.gates import GROUP_PREFIX

# The pipeline's own dependency groups are locked under locks/ and audited as
# the pipeline's, not as the project's.
PIPELINE_GROUP_PREFIX = GROUP_PREFIX
LOCAL_SOURCES = frozenset({"editable", "virtual", "directory", "path", "file"})


def line_of(text: str, needle: str, start: int = 0) -> int:
    """The 1-based line where ``needle`` first stands at or after ``start``; 1 when absent."""
    index = text.find(needle, start)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PinError(f"{path} is not TOML: {error}") from None


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PinError(f"{where} is not a list of requirement strings")
    return value


def from_strings(
    manifest: Manifest, text: str, requirements: Iterable[str], scope: str = "install"
) -> None:
    for line_text in requirements:
        number = line_of(text, json.dumps(line_text)[1:-1]) if line_text else 1
        requirement = parse_requirement(line_text, manifest.path, number)
        if requirement.url:
            manifest.problems.append(direct_url(manifest.path, number, requirement.name))
        else:
            manifest.declared.append(declared(requirement, manifest.path, number, scope=scope))


# -- pyproject.toml ------------------------------------------------------------


def dependency_groups(groups: dict[str, Any], where: str) -> dict[str, list[str]]:
    """PEP 735 groups with ``{include-group = ...}`` expanded; cycles are errors."""
    expanded: dict[str, list[str]] = {}

    def expand(name: str, seen: tuple[str, ...]) -> list[str]:
        if name in seen:
            raise PinError(f"{where}: dependency group {name} includes itself")
        if name not in groups:
            raise PinError(f"{where}: dependency group {seen[-1]} includes unknown {name}")
        items: list[str] = []
        for item in groups[name]:
            if isinstance(item, str):
                items.append(item)
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                items += expand(item["include-group"], (*seen, name))
            else:
                raise PinError(
                    f"{where}: dependency group {name} has an entry that is not a string"
                )
        return items

    for name in groups:
        expanded[name] = expand(name, ())
    return expanded


def pyproject(text: str, path: str) -> Manifest:
    document = toml(text, path)
    manifest = Manifest(path, "pyproject")
    project = document.get("project") or {}
    if not isinstance(project, dict):
        raise PinError(f"{path}: [project] is not a table")
    from_strings(manifest, text, _strings(project.get("dependencies", []), f"{path} dependencies"))
    extras = project.get("optional-dependencies") or {}
    for extra, items in extras.items() if isinstance(extras, dict) else []:
        from_strings(manifest, text, _strings(items, f"{path} optional-dependencies.{extra}"))
    groups = document.get("dependency-groups") or {}
    if not isinstance(groups, dict):
        raise PinError(f"{path}: [dependency-groups] is not a table")
    for name, items in dependency_groups(groups, path).items():
        if not name.startswith(PIPELINE_GROUP_PREFIX):
            from_strings(manifest, text, items)
    build = (document.get("build-system") or {}).get("requires", [])
    from_strings(manifest, text, _strings(build, f"{path} build-system.requires"), "build")
    poetry = (document.get("tool") or {}).get("poetry") or {}
    if isinstance(poetry, dict):
        _poetry_tables(manifest, text, poetry)
    return _unique(manifest)


def _poetry_tables(manifest: Manifest, text: str, poetry: dict[str, Any]) -> None:
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    for group in (poetry.get("group") or {}).values():
        if isinstance(group, dict):
            tables.append(group.get("dependencies"))
    for table in tables:
        if not isinstance(table, dict):
            continue
        for name, constraint in table.items():
            if name.lower() == "python":
                continue
            for one in constraint if isinstance(constraint, list) else [constraint]:
                poetry_entry(manifest, text, name, one)


def poetry_entry(manifest: Manifest, text: str, name: str, constraint: object) -> None:
    number = line_of(text, f"{name} =") if f"{name} =" in text else line_of(text, name)
    if isinstance(constraint, dict):
        if any(key in constraint for key in ("git", "url")):
            manifest.problems.append(direct_url(manifest.path, number, name))
            return
        if any(key in constraint for key in ("path", "file")):
            return  # a local project of the repository's own
        marker = constraint.get("markers")
        constraint = constraint.get("version", "*")
    else:
        marker = None
    if not isinstance(constraint, str):
        raise PinError(f"{manifest.path}:{number}: {name} has a constraint that is not a string")
    manifest.declared.append(
        Declared(
            manifest=manifest.path,
            line=number,
            name=canonicalize_name(name),
            specifier=poetry_specifier(constraint),
            marker=marker if isinstance(marker, str) else None,
        )
    )


def poetry_specifier(constraint: str) -> str:
    """Poetry's version constraints in PEP 440: ``^1.2`` is ``>=1.2,<2.0``,
    ``~1.2`` is ``>=1.2,<1.3``, a bare version is exact. An ``||`` union
    cannot be one specifier: the resolver is left free (any version)."""
    text = constraint.strip()
    if text in {"", "*"} or "||" in text:
        return ""
    if text[0] in "^~" and not text.startswith("~="):
        base = text[1:].strip()
        parts = [int(part) for part in base.split(".") if part.isdigit()]
        if not parts or len(parts) != len(base.split(".")):
            raise PinError(f"{constraint!r} is not a Poetry version constraint")
        if text[0] == "^":
            index = next((i for i, part in enumerate(parts) if part), len(parts) - 1)
        else:
            index = 1 if len(parts) > 1 else 0
        upper = [*parts[:index], parts[index] + 1]
        return f">={base},<{'.'.join(map(str, upper))}"
    if re.fullmatch(r"\d+(\.\d+)*(\.\*)?", text):
        return f"=={text}"
    return ",".join(clause.strip().replace(" ", "") for clause in text.split(","))


def _unique(manifest: Manifest) -> Manifest:
    """One entry per declaration: a group that repeats an extra's line counts once."""
    seen: set[tuple[str, str, str | None]] = set()
    kept = []
    for entry in manifest.declared:
        key = (entry.name, entry.specifier, entry.marker)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    manifest.declared = kept
    return manifest


# -- the locks -----------------------------------------------------------------


def _lock(path: str, form: str, text: str, packages: Iterable[dict[str, Any]],
          local: Callable[[dict[str, Any]], bool]) -> Manifest:  # fmt: skip
    manifest = Manifest(path, form, is_lock=True)
    cursor = 0
    for package in packages:
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str):
            raise PinError(f"{path}: a package entry has no name")
        # The entry's own `name = ...` line, not a dependency's inline `{ name = ... }`.
        needle = f'\nname = "{name}"'
        cursor = max(cursor, text.find(needle, cursor))
        number = line_of(text, needle, cursor) + 1
        if local(package):
            continue  # the project itself, or another of the repository's own
        if not isinstance(version, str) or not version:
            manifest.problems.append(direct_url(path, number, name))
            continue
        manifest.declared.append(Declared(path, number, canonicalize_name(name), f"=={version}"))
    return manifest


def _list(document: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    packages = document.get(key, [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise PinError(f"{path}: {key} is not a list of package tables")
    return packages


def uv_lock(text: str, path: str) -> Manifest:
    document = toml(text, path)
    packages = _list(document, "package", path)

    def local(package: dict[str, Any]) -> bool:
        source = package.get("source") or {}
        return isinstance(source, dict) and bool(LOCAL_SOURCES & set(source))

    return _lock(path, "uv.lock", text, packages, local)


def poetry_lock(text: str, path: str) -> Manifest:
    document = toml(text, path)

    def local(package: dict[str, Any]) -> bool:
        source = package.get("source") or {}
        return isinstance(source, dict) and source.get("type") in LOCAL_SOURCES

    return _lock(path, "poetry.lock", text, _list(document, "package", path), local)


def pylock(text: str, path: str) -> Manifest:
    document = toml(text, path)
    if not str(document.get("lock-version", "")).startswith("1"):
        raise PinError(f"{path} is not a PEP 751 lock (no lock-version 1.x)")

    def local(package: dict[str, Any]) -> bool:
        return "directory" in package

    return _lock(path, "pylock.toml", text, _list(document, "packages", path), local)


def pipfile_lock(text: str, path: str) -> Manifest:
    try:
        document = json.loads(text)
    except ValueError:
        raise PinError(f"{path} is not JSON") from None
    if not isinstance(document, dict):
        raise PinError(f"{path} is not a Pipfile.lock")
    manifest = Manifest(path, "Pipfile.lock", is_lock=True)
    for section in ("default", "develop"):
        entries = document.get(section) or {}
        if not isinstance(entries, dict):
            raise PinError(f"{path}: {section} is not an object")
        for name, entry in entries.items():
            number = line_of(text, f'"{name}": {{')
            if not isinstance(entry, dict):
                raise PinError(f"{path}:{number}: {name} is not an object")
            version = entry.get("version")
            if isinstance(version, str) and version.startswith("=="):
                manifest.declared.append(Declared(path, number, canonicalize_name(name), version))
            elif any(key in entry for key in ("git", "file", "url")):
                manifest.problems.append(direct_url(path, number, name))
            elif "path" not in entry:
                raise PinError(f"{path}:{number}: {name} has no exact version")
    return manifest


# -- the other declarations ------------------------------------------------------


def pipfile(text: str, path: str) -> Manifest:
    document = toml(text, path)
    manifest = Manifest(path, "Pipfile")
    for section in ("packages", "dev-packages"):
        for name, entry in (document.get(section) or {}).items():
            number = line_of(text, name)
            spec = entry
            if isinstance(entry, dict):
                if any(key in entry for key in ("git", "file", "url")):
                    manifest.problems.append(direct_url(path, number, name))
                    continue
                if "path" in entry:
                    continue
                spec = entry.get("version", "*")
            specifier = "" if spec in ("*", "") else str(spec).replace(" ", "")
            manifest.declared.append(Declared(path, number, canonicalize_name(name), specifier))
    return manifest


def setup_cfg(text: str, path: str) -> Manifest:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise PinError(f"{path} is not a setup.cfg: {type(error).__name__}") from None
    manifest = Manifest(path, "setup.cfg")
    values = []
    if parser.has_option("options", "install_requires"):
        values.append(parser.get("options", "install_requires"))
    if parser.has_option("options", "tests_require"):
        values.append(parser.get("options", "tests_require"))
    if parser.has_section("options.extras_require"):
        values += [value for _key, value in parser.items("options.extras_require")]
    lines = [line.strip() for value in values for line in value.splitlines()]
    from_strings(manifest, text, [line for line in lines if line and not line.startswith("#")])
    return manifest


SETUP_KEYWORDS = ("install_requires", "tests_require", "extras_require", "setup_requires")


def setup_py(text: str, path: str) -> Manifest:
    """The literal dependency lists of a ``setup(...)`` call. setup.py is code and
    is never run: a list it computes cannot be read, which is an error."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        raise PinError(f"{path} is not Python") from None
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    manifest = Manifest(path, "setup.py")
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and _called(call) == "setup"):
            continue
        for keyword in call.keywords:
            if keyword.arg not in SETUP_KEYWORDS:
                continue
            try:
                literal = _literal(keyword.value, constants)
            except ValueError:
                raise PinError(
                    f"{path}:{keyword.value.lineno}: {keyword.arg} is computed, not written "
                    "out: declare the dependencies in pyproject.toml or setup.cfg"
                ) from None
            items = literal.values() if isinstance(literal, dict) else [literal]
            for item in items:
                group = [item] if isinstance(item, str) else item
                from_strings(manifest, text, _strings(list(group), f"{path} {keyword.arg}"))
    return manifest


def _literal(node: ast.expr, constants: dict[str, ast.expr], depth: int = 0) -> object:
    """A literal, where names bound at module level to literals count as literals."""
    if depth > 10:
        raise ValueError("too deep")
    if isinstance(node, ast.Name) and node.id in constants:
        return _literal(constants[node.id], constants, depth + 1)
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item, constants, depth + 1) for item in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            _literal(key, constants, depth + 1): _literal(value, constants, depth + 1)  # type: ignore[arg-type]
            for key, value in zip(node.keys, node.values, strict=True)
        }
    return ast.literal_eval(node)


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


# The readers, by file name; requirements files are matched by pattern instead.
READERS: dict[str, Callable[[str, str], Manifest]] = {
    "pyproject.toml": pyproject,
    "uv.lock": uv_lock,
    "poetry.lock": poetry_lock,
    "pylock.toml": pylock,
    "Pipfile.lock": pipfile_lock,
    "Pipfile": pipfile,
    "setup.cfg": setup_cfg,
    "setup.py": setup_py,
}
PYLOCK_NAME = re.compile(r"pylock\.[^/]+\.toml")


def reader(name: str) -> Callable[[str, str], Manifest] | None:
    if name in READERS:
        return READERS[name]
    return pylock if PYLOCK_NAME.fullmatch(name) else None
