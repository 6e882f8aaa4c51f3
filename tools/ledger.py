"""The coverage ledger every scanning gate keeps: what it was given, what its
tool analysed, and everything it did not, each with the reason.

A gate decides its targets itself (``tools.targets``: every tracked file of the
kinds it scans, never filtered by ``.gitignore``; commits for ``secrets``;
packages for ``deps``), hands them to its tool explicitly, and reads back what
the tool really analysed. What its policy excludes is listed with the policy's
reason and does not fail the gate; what the tool did not analyse (too large, a
name it cannot read, a link out of the repository, a parse error, a timeout)
is a skip, and a skip fails the gate unless ``[tool.pipeline]`` accepts it
with a reason. The record, the summary and the console say "scanned N of M".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Enough for a person to act on; the full list is in the gate's own report.
MAX_LISTED = 50


@dataclass(frozen=True)
class Skip:
    path: str
    why: str
    accepted: str | None = None  # the reason a setting gives for accepting it


@dataclass
class Ledger:
    unit: str  # "files", "commits", "packages"
    total: int = 0  # of the kinds the gate scans, before its policy's exclusions
    scanned: int = 0
    excluded: list[Skip] = field(default_factory=list)  # by the gate's policy, with its reason
    skipped: list[Skip] = field(default_factory=list)  # not analysed by the tool
    notes: list[str] = field(default_factory=list)  # how targets were taken (links followed...)
    changed_only: bool = False  # pull-request mode: only what the pull request changed
    unchanged: int = 0  # tracked, of the kinds scanned, and left alone by the pull request

    @property
    def refused(self) -> list[Skip]:
        """The skips no setting accepts: each one fails the gate."""
        return [skip for skip in self.skipped if skip.accepted is None]

    def line(self) -> str:
        if self.changed_only:
            changed = self.total - self.unchanged
            parts = [f"scanned {self.scanned} of {changed} changed of {self.total} tracked "
                     f"{self.unit} (pull-request mode)"]  # fmt: skip
        else:
            parts = [f"scanned {self.scanned} of {self.total} tracked {self.unit}"]
        if self.excluded:
            parts.append(f"{len(self.excluded)} excluded by policy")
        if self.skipped:
            accepted = len(self.skipped) - len(self.refused)
            parts.append(
                f"{len(self.skipped)} not analysed"
                + (f" ({accepted} accepted by [tool.pipeline])" if accepted else "")
            )
        return ", ".join(parts)

    def details(self) -> list[str]:
        """One line per skip and exclusion, for the console and the record."""
        lines = [
            f"not analysed: {skip.path}: {skip.why}"
            + (f" (accepted: {skip.accepted})" if skip.accepted else "")
            for skip in self.skipped[:MAX_LISTED]
        ]
        reasons: dict[str, list[str]] = {}
        for skip in self.excluded:
            reasons.setdefault(skip.why, []).append(skip.path)
        for why, paths in reasons.items():
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            lines.append(f"excluded {len(paths)} {self.unit} ({why}): {shown}")
        return lines + self.notes

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "total": self.total,
            "scanned": self.scanned,
            "excluded": [vars(skip) for skip in self.excluded[:MAX_LISTED]],
            "excluded_count": len(self.excluded),
            "skipped": [vars(skip) for skip in self.skipped[:MAX_LISTED]],
            "skipped_count": len(self.skipped),
            **({"changed": self.total - self.unchanged} if self.changed_only else {}),
        }

    def notifications(self) -> list[dict[str, Any]]:
        """SARIF tool notifications: what the scan did not cover, and its summary."""
        found = [{"level": "note", "message": {"text": self.line()}}]
        found += [
            {
                "level": "note" if skip.accepted else "error",
                "message": {"text": f"not analysed: {skip.why}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": skip.path}}}],
            }
            for skip in self.skipped[:MAX_LISTED]
        ]
        return found
