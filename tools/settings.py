"""The pipeline's settings: ``[tool.pipeline]`` in the project's pyproject.toml.

    [tool.pipeline]
    semgrep-packs = ["p/default", "p/python", "p/flask"]
    source = ["taskapi"]          # the packages coverage measures (default: discovered)
    tests = ["tests"]             # where the tests live (default: discovered)

    [tool.pipeline.timeouts]      # seconds each tool run of a gate may take
    lint = 300                    # one key per gate; each gate declares its default

    [tool.pipeline.<gate>]        # a gate's own settings, read by the reader its GATE
                                  # names (tools/gates/<gate>.py documents its keys)

Every key is optional: a project without the table gets the defaults. A key
that is there but wrong (a misspelt name, a string for a number) is an error
naming it, never a silent default.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tools import gates, policy
from tools.errors import SettingsError

PYPROJECT = policy.path("pyproject.toml")
TABLE = "tool.pipeline"
DEFAULT_PACKS = ("p/default", "p/python", "p/flask")
# A day: beyond it a value is a typo, and beyond what subprocess can wait for.
MAX_TIMEOUT_S = 86_400
RULE_CODE = re.compile(r"[A-Z]+[0-9]+")
T = TypeVar("T")


def default_timeouts() -> dict[str, float]:
    return {gate.name: gate.timeout_s for gate in gates.registry().values()}


def default_sections() -> dict[str, object]:
    return {
        gate.name: gate.settings({})
        for gate in gates.registry().values()
        if gate.settings is not None
    }


@dataclass(frozen=True)
class Settings:
    semgrep_packs: tuple[str, ...] = DEFAULT_PACKS
    timeouts: dict[str, float] = field(default_factory=default_timeouts)
    source: tuple[str, ...] | None = None  # None: discovered
    tests: tuple[str, ...] | None = None
    # Each gate's own [tool.pipeline.<gate>] table, read by the reader its GATE names.
    sections: dict[str, object] = field(default_factory=default_sections)

    def timeout(self, gate: gates.Gate) -> float:
        # A gate outside the table (a test's throwaway one) keeps its own default.
        return self.timeouts.get(gate.name, gate.timeout_s)

    def of(self, gate: gates.Gate) -> Any:
        """The gate's own settings, as its reader made them (its defaults when absent)."""
        if gate.name in self.sections:
            return self.sections[gate.name]
        return gate.settings({}) if gate.settings is not None else None


# -- readers: each one names the key it refuses; the gates' readers use them -----


def strings(value: object, key: str, *, what: str = "a list of strings") -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(f"{TABLE}.{key} must be {what}")
    return tuple(v.strip() for v in value)


def _packs(value: object) -> tuple[str, ...]:
    return strings(value, "semgrep-packs", what="a list of pack names, like 'p/python'")


def boolean(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{TABLE}.{key} must be true or false")
    return value


def number(
    value: object, key: str, low: float, high: float, *, above: bool = True, unit: str = ""
) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        inside = False
    else:
        # Comparisons, not math.isfinite: they hold for NaN, infinities and huge ints.
        inside = low < value <= high if above else low <= value <= high
    if not inside:
        bound = "above" if above else "at least"
        raise SettingsError(
            f"{TABLE}.{key} must be a number{unit} {bound} {low:g} and at most {high:g}"
        )
    return float(value)  # type: ignore[arg-type]


def codes(value: object, key: str) -> tuple[str, ...]:
    codes = strings(value, key, what="a list of rule codes, like 'S101'")
    if bad := [code for code in codes if not RULE_CODE.fullmatch(code)]:
        raise SettingsError(f"{TABLE}.{key}: {bad[0]!r} is not a rule code, like 'S101'")
    return codes


def reasons(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SettingsError(f'{TABLE}.{key} must be a table of rule code = "reason"')
    for code, why in value.items():
        if not RULE_CODE.fullmatch(code):
            raise SettingsError(f"{TABLE}.{key}: {code!r} is not a rule code, like 'S311'")
        if not isinstance(why, str) or len(why.strip()) < 10:
            raise SettingsError(f"{TABLE}.{key}.{code} must give its reason in words")
    return {code: why.strip() for code, why in value.items()}


def _timeouts(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise SettingsError(f"{TABLE}.timeouts must be a table of seconds per gate")
    timeouts = default_timeouts()
    for gate, seconds in value.items():
        if gate not in timeouts:
            raise SettingsError(
                f"{TABLE}.timeouts.{gate}: no such gate (one of {', '.join(timeouts)})"
            )
        timeouts[gate] = number(seconds, f"timeouts.{gate}", 0, MAX_TIMEOUT_S, unit=" of seconds")
    return timeouts


def table(value: object, key: str, known: dict[str, Callable[[object], Any]]) -> dict[str, Any]:
    """A sub-table read key by key; an unknown key is an error naming it."""
    if not isinstance(value, dict):
        raise SettingsError(f"{TABLE}.{key} must be a table")
    if unknown := sorted(set(value) - set(known)):
        raise SettingsError(
            f"[{TABLE}.{key}] has unknown key(s): {', '.join(unknown)} (known: {', '.join(known)})"
        )
    return {name.replace("-", "_"): known[name](item) for name, item in value.items()}


# The keys that are no one gate's: the layout every gate reads, and the timeouts.
READERS: dict[str, Callable[[object], dict[str, Any]]] = {
    "semgrep-packs": lambda v: {"semgrep_packs": _packs(v)},
    "timeouts": lambda v: {"timeouts": _timeouts(v)},
    "source": lambda v: {"source": strings(v, "source")},
    "tests": lambda v: {"tests": strings(v, "tests")},
}


def parse(document: object, where: str) -> Settings:
    if not isinstance(document, dict):
        raise SettingsError(f"[{TABLE}] in {where} must be a table")
    sections = {
        gate.name: gate.settings for gate in gates.registry().values() if gate.settings is not None
    }
    if unknown := sorted(set(document) - set(READERS) - set(sections)):
        raise SettingsError(
            f"[{TABLE}] in {where} has unknown key(s): {', '.join(unknown)} "
            f"(known: {', '.join([*READERS, *sections])})"
        )
    values: dict[str, Any] = {}
    read = {name: reader(document.get(name, {})) for name, reader in sections.items()}
    for key, item in document.items():
        if key in READERS:
            values.update(READERS[key](item))
    return Settings(**values, sections=read)


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
    found = tool.get("pipeline", {}) if isinstance(tool, dict) else None
    return parse(found, str(pyproject))
