"""The gate table: one module per gate, each declaring its ``GATE``.

A gate module (``tools/gates/<name>.py``) says, in its ``GATE``, everything the
rest of the pipeline needs to know about it: its name, the gates it requires,
its default timeout, the severity its failure has for the SOC, the reports it
writes and how the benchmark runs its bare tool. The noxfile gives each one a
session (``tools.sessions.gate``); settings, notify, the benchmark and the tests
read this table and list no gate by hand.

Gate modules keep their top-level imports light (the standard library and
light ``tools`` modules): the table is read in every venv, and the lint venv,
for one, holds nothing but ruff and zizmor.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from tools.errors import PipelineError

GATE_TAG = "gate"
LOCKS = Path("locks")
GROUP_PREFIX = "pipeline-"


class Severity(IntEnum):
    """TheHive's scale: what a gate's failure means for the SOC."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Bare:
    """What the benchmark hands a gate's bare-tool recipe."""

    venv: Path  # the gate's own venv, ready
    project: Path  # the repository measured; the commands run there
    scratch: Path  # a folder for reports and inputs the commands need
    osv_url: str  # a standalone advisory mirror the benchmark keeps running

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


Command = list[str]


@dataclass(frozen=True)
class Gate:
    name: str
    requires: tuple[str, ...]
    timeout_s: float  # the default; [tool.pipeline.timeouts] may change it
    severity: Severity
    reports: tuple[Path, ...]
    # The gate's tool run by hand, venv ready: what the benchmark compares against.
    bare: Callable[[Bare], list[Command]] = field(repr=False, compare=False)
    # Reads the gate's own [tool.pipeline.<name>] table ({} when absent) into its
    # settings record; None for a gate that has no settings of its own.
    settings: Callable[[object], object] | None = field(default=None, repr=False, compare=False)
    # Its notes belong in the run's summary whatever its verdict (the policy
    # gate's notes list a pull request's policy changes, passing or not).
    notes_in_summary: bool = False
    # Its findings may be baselined (tools.baseline): only new ones block.
    holds_the_line: bool = False
    # In pull-request mode it scans the changed files only, and the base's
    # versions of them to tell the findings the base already had.
    changed_files_in_pr: bool = False

    @property
    def module(self) -> str:
        return f"{__name__}.{self.name}"

    @property
    def group(self) -> str:
        """Its dependency group in pyproject.toml, named so that no group of a
        project's own clashes with it; `nox -s lock` locks it."""
        return GROUP_PREFIX + self.name

    @property
    def lock(self) -> Path:
        return lock_of(self.group)

    @property
    def sarif_reports(self) -> tuple[Path, ...]:
        return tuple(report for report in self.reports if report.suffix == ".sarif")


def lock_of(group: str) -> Path:
    """Where `nox -s lock` writes a pipeline group's hash lock."""
    return LOCKS / f"{group.removeprefix(GROUP_PREFIX)}.txt"


@functools.cache
def registry() -> dict[str, Gate]:
    """Every gate, in an order where each comes after the gates it requires."""
    found: dict[str, Gate] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if module.name.startswith("_"):
            continue
        gate = getattr(importlib.import_module(f"{__name__}.{module.name}"), "GATE", None)
        if not isinstance(gate, Gate) or gate.name != module.name:
            raise PipelineError(f"{__name__}.{module.name} declares no GATE named {module.name}")
        found[gate.name] = gate
    ordered: dict[str, Gate] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise PipelineError(f"the gates' requires form a cycle: {' -> '.join((*path, name))}")
        if name not in found:
            raise PipelineError(f"gate {path[-1]} requires {name}, which is no gate")
        for required in found[name].requires:
            visit(required, (*path, name))
        ordered.setdefault(name, found[name])

    for name in found:
        visit(name, ())
    return ordered


def get(name: str) -> Gate:
    try:
        return registry()[name]
    except KeyError:
        raise PipelineError(f"no gate named {name!r} (one of {', '.join(registry())})") from None


def dependents(name: str) -> list[str]:
    """The gates that cannot run when ``name`` fails: everything downstream of it."""
    below: list[str] = []
    for gate in registry().values():
        if any(required == name or required in below for required in gate.requires):
            below.append(gate.name)
    return below


def longest_path(weight: Callable[[str], float]) -> tuple[list[str], float]:
    """The heaviest chain of gates through the graph: with each gate's bare tool
    time as its weight, the critical path no parallel runner can beat."""
    best: dict[str, tuple[list[str], float]] = {}
    for gate in registry().values():
        before = max((best[r] for r in gate.requires), key=lambda b: b[1], default=([], 0.0))
        best[gate.name] = ([*before[0], gate.name], before[1] + weight(gate.name))
    return max(best.values(), key=lambda chain: chain[1])
