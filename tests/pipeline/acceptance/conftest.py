"""Collects each case's verdict and prints the acceptance table at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Verdict:
    defect: str
    expected_gate: str
    failed_gates: str
    ids: str
    caught: bool


VERDICTS: list[Verdict] = []


@pytest.fixture
def verdict() -> Callable[..., None]:
    """Adds a case's verdict (the fields of Verdict, in order) to the table."""

    def record(*fields: object) -> None:
        VERDICTS.append(Verdict(*fields))  # type: ignore[arg-type]

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not VERDICTS:
        return
    header = ("defect", "expected gate", "gate that failed", "rule or advisory id", "caught")
    rows = [header] + [
        (v.defect, v.expected_gate, v.failed_gates, v.ids, "yes" if v.caught else "NO")
        for v in VERDICTS
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    terminalreporter.section("acceptance")
    for index, row in enumerate(rows):
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            terminalreporter.write_line("  ".join("-" * w for w in widths))
