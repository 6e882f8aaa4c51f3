"""What gets audited for each manifest: its exact pins as given, the versions its
lock pins for its ranges, and, where neither pins a range, what resolving it
gets today.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tools.deps import resolve
from tools.deps.declared import PIPELINE, PROJECT, Manifest
from tools.deps.discovery import PIPELINE_LOCKS, Discovered
from tools.deps.pins import Pin


@dataclass
class Audit:
    """One manifest, and the pins audited on its behalf."""

    manifest: Manifest
    pins: list[Pin] = field(default_factory=list)
    locked: int = 0  # ranges its lock pins (counted with the lock)
    resolved: int = 0  # packages that resolving its ranges brought in

    def describe(self) -> str:
        """How its pins came to be, in a few words for the console and the record."""
        how = []
        if exact := len(self.pins) - self.resolved:
            how.append(f"{exact} pinned")
        if self.resolved:
            how.append(f"{self.resolved} resolved from its ranges")
        if self.locked:
            how.append(f"{self.locked} locked by {self.manifest.locked_by}")
        return ", ".join(how) or "declares nothing"


def project_python(root: Path, default: str) -> str:
    """The oldest Python the project supports (its requires-python lower bound),
    for resolving as its users would install; else ``default``."""
    try:
        requires = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        spec = str(requires.get("project", {}).get("requires-python") or "")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return default
    lower = re.search(r">=\s*(\d+\.\d+)", spec)
    return lower.group(1) if lower else default


def plan(manifests: list[Manifest], *, python: str, offline: bool, timeout_s: float) -> list[Audit]:
    by_path = {manifest.path: manifest for manifest in manifests}
    audits = []
    for manifest in manifests:
        audit = Audit(manifest)
        exact = [entry for entry in manifest.declared if entry.exact]
        ranges = [entry for entry in manifest.declared if not entry.exact]
        lock = by_path.get(manifest.locked_by or "")
        if lock is not None:
            pinned = {entry.name for entry in lock.declared}
            audit.locked = sum(1 for entry in ranges if entry.name in pinned)
            ranges = [entry for entry in ranges if entry.name not in pinned]
        audit.pins = [Pin.of(entry) for entry in exact]
        for scope in sorted({entry.scope for entry in ranges}):
            # Resolved within the exact pins, so that the versions fit together, but
            # apart from other scopes: a build system is installed on its own.
            resolved = resolve.resolve(
                [entry for entry in ranges if entry.scope == scope],
                manifest.path,
                constraints=[e for e in exact if e.scope == scope],
                python=python,
                offline=offline,
                timeout_s=timeout_s,
            )
            given = {(pin.name, pin.version) for pin in audit.pins}
            brought = [pin for pin in resolved if (pin.name, pin.version) not in given]
            audit.pins += brought
            audit.resolved += len(brought)
        audits.append(audit)
    return audits


def project_audits(audits: list[Audit]) -> list[Audit]:
    return [audit for audit in audits if audit.manifest.owner == PROJECT]


def coverage_notes(audits: list[Audit], found: Discovered, service: str) -> list[str]:
    """What was covered, manifest by manifest: the project's own, then the pipeline's."""
    ours = project_audits(audits)
    tools = [audit for audit in audits if audit.manifest.owner == PIPELINE]
    own = {(pin.name, pin.version) for audit in ours for pin in audit.pins}
    if ours:
        notes = [
            f"{len(own)} package(s) of the project's own audited, from {len(ours)} "
            f"manifest(s), against {service}"
        ]
        notes += [f"  {audit.manifest.path}: {audit.describe()}" for audit in ours]
    else:
        notes = [
            "the project declares no dependencies of its own: only the pipeline's tool "
            f"locks were audited, against {service}"
        ]
    pipeline_pins = {(pin.name, pin.version) for audit in tools for pin in audit.pins}
    notes.append(
        f"{len(pipeline_pins)} package(s) of the pipeline's own tools audited, "
        f"from {len(tools)} lock(s) under {PIPELINE_LOCKS}"
    )
    for why in sorted({why for _path, why in found.skipped}):
        paths = [path for path, reason in found.skipped if reason == why]
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        notes.append(f"skipped {len(paths)} declaration file(s) {why}: {shown}")
    notes += [
        f"{where} names {path}: the project itself, audited from its own declarations"
        for where, path in found.local
    ]
    return notes
