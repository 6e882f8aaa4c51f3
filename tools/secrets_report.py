"""The secrets gate's reports: its findings as SARIF and as JSON.

Written by the gate from its own records, never copied from gitleaks' reports,
which carry commit messages (`partialFingerprints.commitMessage`), authors and
matched lines: a finding here is a rule, a place and a fingerprint, never text
from the history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tools import fingerprint as pipeline_fingerprint
from tools import sarif

WHERE = {
    "file": "committed in",
    "message": "in the message of commit",
    "tag": "in annotated tag object",
}


@dataclass(frozen=True)
class Leak:
    rule: str
    description: str
    kind: str  # "file", "message" (a commit's own object) or "tag" (an annotated tag object)
    file: str
    line: int | None
    commit: str | None  # the tag object's id for a tag
    fingerprint: str  # what .gitleaksignore takes to silence a confirmed false positive
    suppressed_by: str | None = None  # "gitleaks:allow" or ".gitleaksignore"

    def where(self) -> str:
        if self.commit is None:
            return "in the working tree"
        return f"{WHERE[self.kind]} {self.commit[:12]}"


def fingerprint(commit: str | None, path: str, rule: str, line: int | None) -> str:
    """gitleaks' fingerprint: `commit:path:rule:line` (no commit outside git)."""
    return ":".join(str(part) for part in (commit, path, rule, line or 0) if part is not None)


def stable_fingerprint(leak: Leak) -> str:
    """The baseline's fingerprint of a leak: where git holds it, never its value."""
    return pipeline_fingerprint.of(leak.rule, "secret", leak.fingerprint)


def sarif_log(release: str, leaks: list[Leak]) -> dict:
    """One run; suppressed findings stay in it, marked as such, as GitHub expects."""
    rules = {leak.rule: leak.description for leak in leaks}
    results = []
    for leak in leaks:
        location: dict = {"artifactLocation": {"uri": leak.file}}
        if leak.line:
            location["region"] = {"startLine": leak.line}
        result: dict = {
            "ruleId": leak.rule,
            "level": "error",
            "message": {"text": f"{leak.description} Secret {leak.where()} (value redacted)."},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {
                "gitleaksFingerprint/v1": leak.fingerprint,
                pipeline_fingerprint.VERSION: stable_fingerprint(leak),
            },
        }
        if leak.commit:
            result["partialFingerprints"]["commitSha"] = leak.commit
        if leak.suppressed_by:
            kind = "inSource" if leak.suppressed_by == "gitleaks:allow" else "external"
            result["suppressions"] = [{"kind": kind, "justification": leak.suppressed_by}]
        results.append(result)
    return {
        "$schema": sarif.SARIF_SCHEMA,
        "version": sarif.SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gitleaks",
                        "semanticVersion": release,
                        "rules": [
                            {"id": rule, "shortDescription": {"text": text}}
                            for rule, text in sorted(rules.items())
                        ],
                    }
                },
                "results": results,
            }
        ],
    }


def leak_record(leak: Leak) -> dict:
    record = asdict(leak)
    record.pop("description")
    if leak.suppressed_by is None:
        record.pop("suppressed_by")
    return record
