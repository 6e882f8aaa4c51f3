"""The exact, hash-locked pins of a requirements file, with their line numbers.

The deps gate audits locks "as given": every ``name==version`` pin, for every
platform the lock was generated for. pip-audit evaluates environment markers
for the machine it runs on, so a Linux runner would silently skip a lock's
``pywin32==311 ; sys_platform == 'win32'``. Each manifest is therefore
rewritten for pip-audit as bare ``name==version --hash=...`` lines, split into
as many files as it takes for no package to appear twice in one (a universal
lock may pin one package at two versions for two Pythons).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from tools.errors import PinError

_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?"
    r"\s*==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.!+_-]*)"
)
_HASH = re.compile(r"--hash[=\s]+(\S+)")
_COMMENT = re.compile(r"(?:^|\s)#.*$")
# Options that pull in other files or unpinned sources: the gate audits what it
# is given, so these must be listed as manifests of their own or pinned.
_INCLUDES = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")


@dataclass(frozen=True)
class Pin:
    manifest: str
    line: int
    name: str  # canonical (PEP 503)
    version: str
    hashes: tuple[str, ...]

    def requirement(self) -> str:
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Requirement-file lines with continuations joined, comments dropped,
    each with the number of the physical line it starts on."""
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


def parse(text: str, manifest: str) -> list[Pin]:
    pins: list[Pin] = []
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            option = line.split()[0].split("=")[0]
            if option in _INCLUDES:
                raise PinError(
                    f"{manifest}:{number}: {option} is not audited: pass that file as a "
                    "manifest of its own, or pin its requirements here"
                )
            continue  # index options and the like: nothing is resolved or downloaded
        # name==version [; marker] [--hash=... ...]: the marker is dropped on purpose.
        requirement, _, options = line.partition(" --")
        match = _PIN.fullmatch(requirement.split(";", 1)[0].strip())
        if match is None:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise PinError(f"{manifest}:{number}: not an exact pin (name==version): {shown}")
        hashes = tuple(_HASH.findall("--" + options)) if options else ()
        if not hashes:
            # What pip-audit's --require-hashes would say, for every line: the gate
            # hands pip-audit each distinct pin once, from whichever lock has it first.
            raise PinError(
                f"{manifest}:{number}: {match['name']} has no --hash: lock it with hashes"
            )
        pins.append(
            Pin(manifest, number, canonicalize_name(match["name"]), match["version"], hashes)
        )
    return pins


def read(path: Path, label: str | None = None) -> list[Pin]:
    """The pins of ``path``, recorded under ``label`` (default: the path)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PinError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PinError(f"{path} is not UTF-8 text") from None
    return parse(text, label or path.as_posix())


def partitions(pins: list[Pin]) -> list[list[Pin]]:
    """The pins split so that no package appears twice in one part; an exact
    repeat of a pin (same version) is audited once, at its first line."""
    parts: list[dict[str, Pin]] = []
    for pin in pins:
        for part in parts:
            if pin.name not in part:
                part[pin.name] = pin
                break
            if part[pin.name].version == pin.version:
                break
        else:
            parts.append({pin.name: pin})
    return [list(part.values()) for part in parts]
