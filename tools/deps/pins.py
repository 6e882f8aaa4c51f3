"""Exact pins, the unit pip-audit is handed: one ``name==version`` each, with the
manifest line it came from.

The deps gate audits every pin for every platform its manifest covers: pip-audit
evaluates environment markers for the machine it runs on, so a Linux runner
would silently skip a lock's ``pywin32==311 ; sys_platform == 'win32'``. Pins
are therefore handed over as bare ``name==version`` lines, split into as many
files as it takes for no package to appear twice in one (a universal lock may
pin one package at two versions for two Pythons).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.deps import requirements_txt
from tools.deps.declared import Declared
from tools.errors import PinError


@dataclass(frozen=True)
class Pin:
    manifest: str
    line: int
    name: str  # canonical (PEP 503)
    version: str
    hashes: tuple[str, ...] = ()

    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @classmethod
    def of(cls, entry: Declared) -> Pin:
        if entry.exact is None:
            raise PinError(f"{entry.manifest}:{entry.line}: {entry.name} is not an exact pin")
        return cls(entry.manifest, entry.line, entry.name, entry.exact, entry.hashes)


def read(path: Path, label: str | None = None) -> list[Pin]:
    """The pins of a hash lock (a pipeline lock): every line an exact pin with hashes."""
    manifest = label or path.as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PinError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PinError(f"{path} is not UTF-8 text") from None
    parsed = requirements_txt.read(text, manifest)
    if parsed.problems or parsed.includes or parsed.local:
        raise PinError(f"{manifest} is not a plain lock: it has options or includes")
    found = [Pin.of(entry) for entry in parsed.declared]
    if missing := [pin for pin in found if not pin.hashes]:
        raise PinError(f"{manifest}:{missing[0].line}: {missing[0].name} has no --hash")
    return found


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
