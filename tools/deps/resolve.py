"""Ranges into versions: what an install of a manifest's ranges would get today.

A declaration that pins no exact version (a library's ``requests>=2``) names
no version to match advisories against. It is resolved once, with uv, against
the package index (or, offline, uv's cache) into the versions an install would
get now, universally (every platform and Python the markers allow), and those
are audited. Each resolved package is attributed to the manifest line of the
declaration that pulled it in, so a finding points at something to change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.deps.declared import Declared
from tools.deps.pins import Pin
from tools.errors import GateError
from tools.text import last_line

# `name==version ; marker  # via a, b`, as `uv pip compile --annotation-style line` writes it.
_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)"
    r"(?:\s*;\s*(?P<marker>[^#]+?))?\s*(?:#\s*via\s+(?P<via>.*))?$"
)


def uv_binary() -> str:
    """The uv the deps venv pins; on PATH only where no venv holds one."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.is_file() else shutil.which("uv")
    if not found:
        raise GateError("uv is not installed here: run the gate through nox (`nox -s deps`)")
    return found


def resolve(
    declared: list[Declared],
    manifest: str,
    *,
    constraints: list[Declared],
    python: str,
    offline: bool,
    timeout_s: float,
) -> list[Pin]:
    """The versions ``declared`` resolve to together today, held to the exact
    ``constraints`` the same manifest pins; GateError when they cannot be
    resolved (offline with nothing cached, a conflict)."""
    with tempfile.TemporaryDirectory(prefix="resolve-") as scratch:
        pinned = Path(scratch) / "constraints.txt"
        pinned.write_text("".join(entry.requirement() + "\n" for entry in constraints), "utf-8")
        argv = [
            uv_binary(),
            "pip",
            "compile",
            "-",
            "--universal",
            "--python-version",
            python,
            "--no-header",
            "--annotation-style",
            "line",
            "--quiet",
            "--constraint",
            str(pinned),
            *(["--offline"] if offline else []),
        ]
        result = _run(argv, declared, manifest, timeout_s)
    if result.returncode != 0:
        where = "offline, from uv's cache" if offline else "against the package index"
        raise GateError(
            f"cannot resolve the ranges {manifest} declares ({where}): {last_line(result.stderr)}; "
            "pin exact versions, add a lock, or run once with the index reachable"
        )
    return attributed(result.stdout, declared, manifest)


def _run(
    argv: list[str], declared: list[Declared], manifest: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            input="\n".join(entry.requirement() for entry in declared) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GateError(f"resolving {manifest}'s ranges took over {timeout_s:.0f} s") from None


def attributed(output: str, declared: list[Declared], manifest: str) -> list[Pin]:
    """Each resolved package at the line of the declaration that pulled it in."""
    lines = {entry.name: entry.line for entry in declared}
    parents: dict[str, list[str]] = {}
    resolved: list[tuple[str, str]] = []
    for raw in output.splitlines():
        match = _LINE.match(raw.strip())
        if not match:
            continue
        name = canonical(match["name"])
        resolved.append((name, match["version"]))
        via = match["via"] or ""
        parents[name] = [canonical(parent.strip()) for parent in via.split(",") if parent.strip()]

    def line_for(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in lines:
            return lines[name]
        for parent in parents.get(name, []):
            if parent not in seen:
                found = line_for(parent, seen | {name})
                if found:
                    return found
        return 0

    return [
        Pin(manifest=manifest, line=line_for(name) or 1, name=name, version=version, hashes=())
        for name, version in resolved
    ]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
