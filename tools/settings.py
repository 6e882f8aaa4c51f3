"""The pipeline's settings: ``[tool.pipeline]`` in the project's pyproject.toml.

    [tool.pipeline]
    semgrep-packs = ["p/default", "p/python", "p/flask"]

    [tool.pipeline.timeouts]   # seconds each tool run of a gate may take
    lint = 300                 # one key per gate; each gate declares its default

Every key is optional: a project without the table gets the defaults. A key
that is there but wrong (a misspelt name, a string for a number) is an error
naming it, never a silent default.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tools import gates
from tools.errors import SettingsError

PYPROJECT = Path("pyproject.toml")
TABLE = "tool.pipeline"
DEFAULT_PACKS = ("p/default", "p/python", "p/flask")
# A day: beyond it a value is a typo, and beyond what subprocess can wait for.
MAX_TIMEOUT_S = 86_400
KEYS = ("semgrep-packs", "timeouts")


def default_timeouts() -> dict[str, float]:
    return {gate.name: gate.timeout_s for gate in gates.registry().values()}


@dataclass(frozen=True)
class Settings:
    semgrep_packs: tuple[str, ...] = DEFAULT_PACKS
    timeouts: dict[str, float] = field(default_factory=default_timeouts)

    def timeout(self, gate: gates.Gate) -> float:
        # A gate outside the table (a test's throwaway one) keeps its own default.
        return self.timeouts.get(gate.name, gate.timeout_s)


def _packs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise SettingsError(f"{TABLE}.semgrep-packs must be a list of pack names, like 'p/python'")
    return tuple(pack.strip() for pack in value)


def _timeouts(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise SettingsError(f"{TABLE}.timeouts must be a table of seconds per gate")
    timeouts = default_timeouts()
    for gate, seconds in value.items():
        if gate not in timeouts:
            raise SettingsError(
                f"{TABLE}.timeouts.{gate}: no such gate (one of {', '.join(timeouts)})"
            )
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        # Comparisons, not math.isfinite: they hold for NaN, infinities and huge ints.
        if not number or not 0 < seconds <= MAX_TIMEOUT_S:
            raise SettingsError(
                f"{TABLE}.timeouts.{gate} must be a number of seconds above 0 and at most "
                f"{MAX_TIMEOUT_S}"
            )
        timeouts[gate] = float(seconds)
    return timeouts


@functools.cache
def load(pyproject: Path = PYPROJECT) -> Settings:
    """The settings of the project at ``pyproject`` (defaults when it has none)."""
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"cannot read {pyproject}: {error}") from None
    tool = document.get("tool", {})
    table = tool.get("pipeline", {}) if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        raise SettingsError(f"[{TABLE}] in {pyproject} must be a table")
    if unknown := sorted(set(table) - set(KEYS)):
        raise SettingsError(
            f"[{TABLE}] in {pyproject} has unknown key(s): {', '.join(unknown)} "
            f"(known: {', '.join(KEYS)})"
        )
    return Settings(
        semgrep_packs=_packs(table.get("semgrep-packs", list(DEFAULT_PACKS))),
        timeouts=_timeouts(table.get("timeouts", {})),
    )
