"""Today's two ways of silencing a reviewed secrets finding, one function each.

Both keep gitleaks' own behaviour, applied by the gate rather than by gitleaks
(which runs with both switched off): the gate sees and counts every finding it
silences. Each is one function so that the pipeline-wide suppression syntax,
which will ask for a rule and a reason, can replace it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from tools import policy

ALLOW_MARKER = b"gitleaks:allow"
IGNORE_FILE = policy.path(".gitleaksignore")


def allowed_inline(lines: Sequence[bytes]) -> bool:
    """gitleaks' rule: a finding on a line that holds `gitleaks:allow` is silenced."""
    return any(ALLOW_MARKER in line for line in lines)


def listed_in_gitleaksignore(
    commit: str | None, path: str, rule: str, line: int | None, ignore_file: Path = IGNORE_FILE
) -> bool:
    """gitleaks' rule: `.gitleaksignore` lists fingerprints, `commit:path:rule:line`
    for one finding, or `path:rule:line` for that finding in any commit."""
    listed = _fingerprints(ignore_file.resolve())
    place = f"{path}:{rule}:{line or 0}"
    return place in listed or (commit is not None and f"{commit}:{place}" in listed)


@functools.cache
def _fingerprints(ignore_file: Path) -> frozenset[str]:
    try:
        text = ignore_file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return frozenset()
    # As gitleaks reads it: one per line, `#` comments, Windows separators normalised.
    return frozenset(
        line.strip().replace("\\", "/")
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    )
