"""Stable fingerprints of findings: what a finding is, not where it sits.

A finding's fingerprint is its rule and the code it flags with every blank
removed: lines shifted above it leave it alone, so does reformatting (a call
split over lines, spaces added), a renamed file and code moved to another file.
Never a line number, never a secret: a secret's finding is fingerprinted by
where git holds it (commit, file, line), which a history never changes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VERSION = "pipeline/v1"  # the key of SARIF's partialFingerprints
BLANKS = re.compile(r"\s+")
# A region longer than this is a whole-file finding: the rule and path stand for it.
MAX_REGION_CHARS = 4000


def of(rule: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join([rule, *parts]).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def region_text(root: Path, path: str, region: dict) -> str | None:
    """The text a SARIF region covers in ``root / path``; None when it cannot be read."""
    start = region.get("startLine")
    if type(start) is not int or start < 1:
        return None
    try:
        lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    end = region.get("endLine") if type(region.get("endLine")) is int else start
    chosen = lines[start - 1 : max(end, start)]
    if not chosen:
        return None
    first_col, end_col = region.get("startColumn"), region.get("endColumn")
    if type(end_col) is int and end_col > 0:
        chosen[-1] = chosen[-1][: end_col - 1]
    if type(first_col) is int and first_col > 0:
        chosen[0] = chosen[0][first_col - 1 :]
    text = "\n".join(chosen)
    return text if len(text) <= MAX_REGION_CHARS else None


def of_code(rule: str, root: Path, path: str, region: dict) -> str:
    """A code finding's fingerprint: its rule and its code, blanks removed; its
    rule and file when the code cannot be read."""
    text = region_text(root, path, region)
    if text is None or not BLANKS.sub("", text):
        return of(rule, "file", path)
    return of(rule, "code", BLANKS.sub("", text))


def of_sarif_result(result: dict, root: Path) -> str:
    physical = (result.get("locations") or [{}])[0].get("physicalLocation", {})
    path = str(physical.get("artifactLocation", {}).get("uri", "?"))
    return of_code(str(result.get("ruleId", "unknown")), root, path, physical.get("region", {}))
