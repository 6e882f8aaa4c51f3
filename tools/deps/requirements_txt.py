"""pip's requirements-file format, read as pip reads it, with line numbers.

Every line is accounted for: a requirement becomes a ``Declared`` (exact or a
range, hashes optional: hashes matter for installing, not for matching
advisories); ``-r``/``-c`` in every spelling (``-r x``, ``-rx``, ``--requirement=x``)
names another file the caller reads too; an index option (``-i``,
``--extra-index-url``, ``--find-links``, ``--trusted-host``) is a finding,
since an index the file names can shadow a package (dependency confusion); a
direct URL is a finding, since no advisory matches it; a local path (``-e .``)
is the project itself, whose own declarations are read from its pyproject.toml.
Anything else that is not a requirement is an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tools.deps.declared import (
    INDEX_OPTION,
    Declared,
    declared,
    direct_url,
    parse_requirement,
)
from tools.errors import PinError
from tools.verdict import Finding

_COMMENT = re.compile(r"(?:^|\s)#.*$")
_HASH = re.compile(r"--hash[=\s]+(\S+)")
INCLUDES = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint",
            "--constraint": "constraint"}  # fmt: skip
EDITABLE = ("-e", "--editable")
INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host")
# Options that change how pip installs, not what: nothing to audit in them.
HARMLESS = (
    "--no-index", "--pre", "--prefer-binary", "--only-binary", "--no-binary",
    "--require-hashes", "--use-feature", "--config-settings", "--global-option",
    "--hash", "-Z", "--always-unzip",
)  # fmt: skip
URL_SCHEMES = re.compile(r"^(?:[a-z][a-z0-9+.-]*)://|^[a-z]+\+[a-z]+:", re.IGNORECASE)


@dataclass
class RequirementsFile:
    declared: list[Declared] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    includes: list[tuple[int, str]] = field(default_factory=list)  # (line, path as written)
    local: list[tuple[int, str]] = field(default_factory=list)  # the project itself, by path


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with continuations joined and comments dropped, each with the
    number of the physical line it starts on."""
    joined: list[tuple[int, str]] = []
    start, parts = 0, []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).rstrip()
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        logical = " ".join(part.strip() for part in parts).strip()
        parts = []
        if logical:
            joined.append((start, logical))
    if parts and (logical := " ".join(part.strip() for part in parts).strip()):
        joined.append((start, logical))
    return joined


def split_option(line: str) -> tuple[str, str]:
    """``-rfile``, ``-r file``, ``--requirement=file`` -> (option, value)."""
    head, _, rest = line.partition(" ")
    if head.startswith("--"):
        option, sep, value = head.partition("=")
        return option, value if sep else rest.strip()
    if len(head) > 2:  # a short option with its value attached: -rfile, -e.
        return head[:2], (head[2:] + (" " + rest if rest else "")).strip()
    return head, rest.strip()


def is_path(text: str) -> bool:
    """A local path (``.``, ``./pkg``, ``libs/pkg``, ``file:...``), not a PEP 508
    requirement (``name @ url`` names its project) nor a URL."""
    if text.startswith((".", "/", "file:")):
        return True
    return "/" in text and "@" not in text and "://" not in text and not URL_SCHEMES.match(text)


def read(text: str, manifest: str) -> RequirementsFile:
    parsed = RequirementsFile()
    for number, line in logical_lines(text):
        if line.startswith("-"):
            _option(parsed, line, manifest, number)
            continue
        requirement, _, options = line.partition(" --")
        requirement = requirement.strip()
        if URL_SCHEMES.match(requirement) and not is_path(requirement):
            parsed.problems.append(direct_url(manifest, number, requirement.split("#")[0][:60]))
            continue
        if is_path(requirement):
            parsed.local.append((number, requirement))
            continue
        parsed_requirement = parse_requirement(requirement, manifest, number)
        if parsed_requirement.url:
            if is_path(parsed_requirement.url):
                parsed.local.append((number, parsed_requirement.url))
            else:
                parsed.problems.append(direct_url(manifest, number, parsed_requirement.name))
            continue
        hashes = tuple(_HASH.findall("--" + options)) if options else ()
        parsed.declared.append(declared(parsed_requirement, manifest, number, hashes=hashes))
    return parsed


def _option(parsed: RequirementsFile, line: str, manifest: str, number: int) -> None:
    option, value = split_option(line)
    if option in INCLUDES:
        if not value:
            raise PinError(f"{manifest}:{number}: {option} names no file")
        parsed.includes.append((number, value))
    elif option in EDITABLE:
        if URL_SCHEMES.match(value) and not is_path(value):
            parsed.problems.append(direct_url(manifest, number, value.split("#")[0][:60]))
        else:
            parsed.local.append((number, value.split("[")[0] or "."))
    elif option in INDEX_OPTIONS:
        parsed.problems.append(
            Finding(
                rule=INDEX_OPTION,
                level="error",
                path=manifest,
                line=number,
                message=(
                    f"{option} in a requirements file: an index or link the file names can "
                    "shadow a package (dependency confusion); configure indexes on the runner"
                ),
                blocking=True,
            )
        )
    elif option not in HARMLESS:
        raise PinError(f"{manifest}:{number}: {option} is not an option pip reads here")


def included_path(manifest: str, written: str) -> str:
    """An include's path relative to the repository: pip reads it relative to
    the including file's folder."""
    parts: list[str] = []
    for part in (PurePosixPath(manifest).parent / written).parts:
        if part == "..":
            if not parts:
                raise PinError(f"{manifest}: {written} lies outside the repository")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
