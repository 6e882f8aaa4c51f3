"""pip-audit's JSON report read into records, and written out as SARIF 2.1.0.

pip-audit has no SARIF output of its own. Each advisory becomes one rule (its
aliases and fix versions in the rule's properties); each vulnerable pin one
``error`` result on the manifest line that pins it. A result's fingerprint
hashes the manifest, the package and the advisory id, and neither the line nor
the version: moving a pin or bumping it to another still-affected version keeps
the alert, fixing it closes the alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from tools.deps.declared import DIRECT_URL, INDEX_OPTION
from tools.deps.pins import Pin
from tools.sarif import SARIF_SCHEMA, SARIF_VERSION
from tools.verdict import Finding

FINGERPRINT_NAME = "depsAdvisory/v1"
INFORMATION_URI = "https://github.com/pypa/pip-audit"
ADVISORY_URI = "https://osv.dev/vulnerability/{id}"
# A rule's short description is one line; the full text is in fullDescription.
SHORT_DESCRIPTION_CHARS = 120


class ReportError(ValueError):
    """pip-audit's report is not what an audit of these pins must produce."""


@dataclass(frozen=True)
class Vulnerability:
    manifest: str
    line: int
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    description: str

    def summary(self) -> str:
        """One line, without the advisory id: it is the rule the line goes with."""
        aliases = f" (aliases {', '.join(self.aliases)})" if self.aliases else ""
        fixed = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fix yet"
        return f"{self.package} {self.version} is affected{aliases}; {fixed}"

    def fingerprint(self) -> str:
        key = "\0".join((self.manifest, self.package, self.id))
        return hashlib.sha256(key.encode()).hexdigest()


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReportError(f"{what} is not a list of strings")
    return tuple(value)


def vulnerabilities(report: object, pins: list[Pin]) -> list[Vulnerability]:
    """The vulnerabilities in one pip-audit JSON report of ``pins``.

    Every pin must appear in the report, audited: a pin pip-audit skipped or
    left out would otherwise pass unaudited.
    """
    if not isinstance(report, dict) or not isinstance(report.get("dependencies"), list):
        raise ReportError("no dependencies list")
    by_name = {pin.name: pin for pin in pins}
    seen: set[str] = set()
    found: list[Vulnerability] = []
    for dependency in report["dependencies"]:
        if not isinstance(dependency, dict) or not isinstance(dependency.get("name"), str):
            raise ReportError("a dependency has no name")
        name = canonicalize_name(dependency["name"])
        if "skip_reason" in dependency:
            raise ReportError(f"{name} was skipped: {dependency['skip_reason']}")
        pin = by_name.get(name)
        if pin is None:
            raise ReportError(f"{name} is not pinned in {pins[0].manifest if pins else '?'}")
        seen.add(name)
        vulns = dependency.get("vulns")
        if not isinstance(vulns, list):
            raise ReportError(f"{name} has no vulns list")
        for vuln in vulns:
            if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
                raise ReportError(f"a vulnerability of {name} has no id")
            description = vuln.get("description")
            found.append(
                Vulnerability(
                    manifest=pin.manifest,
                    line=pin.line,
                    package=name,
                    version=str(dependency.get("version", pin.version)),
                    id=vuln["id"],
                    # pip-audit keeps aliases in a set: sorted, reports are reproducible.
                    aliases=tuple(sorted(_strings(vuln.get("aliases", []), "aliases"))),
                    fix_versions=_strings(vuln.get("fix_versions", []), f"{vuln['id']} fixes"),
                    description=description if isinstance(description, str) else "",
                )
            )
    missing = sorted(set(by_name) - seen)
    if missing:
        raise ReportError(f"{len(missing)} pin(s) not audited: {', '.join(missing[:5])}")
    return found


def _short(description: str, advisory: str) -> str:
    line = " ".join(description.split())
    if not line:
        return advisory
    return (
        line
        if len(line) <= SHORT_DESCRIPTION_CHARS
        else line[: SHORT_DESCRIPTION_CHARS - 3] + "..."
    )


def _rule(advisory: str, found: list[Vulnerability]) -> dict:
    aliases = sorted({alias for v in found for alias in v.aliases})
    fixes = sorted({fix for v in found for fix in v.fix_versions})
    packages = sorted({v.package for v in found})
    description = next((v.description for v in found if v.description), "")
    if fixes:
        help_text = f"Upgrade {', '.join(packages)} to a fixed release: {', '.join(fixes)}."
    else:
        help_text = f"No fixed release of {', '.join(packages)} is known yet."
    if aliases:
        help_text += f" Also known as {', '.join(aliases)}."
    return {
        "id": advisory,
        "name": advisory,
        "shortDescription": {"text": _short(description, advisory)},
        "fullDescription": {"text": description or advisory},
        "help": {"text": help_text},
        "helpUri": ADVISORY_URI.format(id=advisory),
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "aliases": aliases,
            "fix_versions": fixes,
            "packages": packages,
            "tags": ["security", "dependency", "vulnerability"],
        },
    }


# What reading the manifests finds, beside advisories: each its own rule.
PROBLEM_RULES = {
    INDEX_OPTION: "A requirements file names a package index or link: an index the file "
    "names can shadow a package (dependency confusion). Configure indexes on the runner.",
    DIRECT_URL: "A dependency comes from a URL or a path outside the repository: no advisory "
    "can be matched against it. Depend on a released version.",
}


def _problem_result(problem: Finding, index: int) -> dict:
    return {
        "ruleId": problem.rule,
        "ruleIndex": index,
        "level": "error",
        "message": {"text": problem.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": problem.path},
                    "region": {"startLine": problem.line or 1},
                }
            }
        ],
    }


def to_sarif(
    found: Iterable[Vulnerability],
    *,
    tool_version: str,
    service: str,
    problems: Iterable[Finding] = (),
) -> dict:
    ordered = sorted(found, key=lambda v: (v.manifest, v.line, v.id))
    advisories = sorted({v.id for v in ordered})
    index = {advisory: number for number, advisory in enumerate(advisories)}
    results = [
        {
            "ruleId": v.id,
            "ruleIndex": index[v.id],
            "level": "error",
            "message": {"text": v.summary()},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": v.manifest},
                        "region": {"startLine": v.line},
                    }
                }
            ],
            "partialFingerprints": {FINGERPRINT_NAME: v.fingerprint()},
            "properties": {
                "package": v.package,
                "version": v.version,
                "aliases": list(v.aliases),
                "fix_versions": list(v.fix_versions),
            },
        }
        for v in ordered
    ]
    rules = [_rule(advisory, [v for v in ordered if v.id == advisory]) for advisory in advisories]
    for rule, text in PROBLEM_RULES.items():
        matching = [problem for problem in problems if problem.rule == rule]
        if matching:
            rules.append(
                {
                    "id": rule,
                    "name": rule,
                    "shortDescription": {"text": text.split(":")[0]},
                    "fullDescription": {"text": text},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"tags": ["security", "dependency", "supply-chain"]},
                }
            )
            results += [_problem_result(problem, len(rules) - 1) for problem in matching]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pip-audit",
                        "version": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "results": results,
                "properties": {"vulnerabilityService": service},
            }
        ],
    }
