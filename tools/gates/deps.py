"""The `deps` gate: pip-audit, strict, on every dependency the repository
declares, in every form a Python project declares them (requirements files
anywhere, pyproject.toml, setup.cfg, setup.py, Pipfile, and the locks uv.lock,
poetry.lock, pylock.toml and Pipfile.lock), and on the pipeline's own tool locks
(locks/*.txt), because the pipeline's toolchain is part of the supply chain. Any
known advisory fails the gate; so does an index option or a direct URL in a
manifest, and a repository that declares dependencies of which none could be
audited.

Exact pins are audited as given (from a lock when there is one); ranges that
no lock pins are resolved with uv into what an install would get today. The
advisory source (a local OSV mirror, a shared one, or OSV's API) is chosen by
``tools.deps.audit``; see the README, ### deps.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tools import network, reports, sarif, settings, suppressions, toolrun
from tools.errors import GateError, SettingsError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.verdict import Finding

JSON_REPORT = REPORTS / "deps.json"
SARIF_REPORT = REPORTS / "deps.sarif"


def bare(bench: Bare) -> list[Command]:
    """pip-audit alone against the benchmark's mirror, on every distinct pin the
    gate audits (found offline, untimed), split as the gate splits them."""
    # packaging is not in every venv that reads the gate table: imported when used.
    from tools.deps import discovery, pins, plan  # noqa: PLC0415 -- see above

    found = discovery.discover(bench.project)
    audits = plan.plan(found.manifests, python="3.11", offline=True, timeout_s=GATE.timeout_s)
    every = [pin for audit in audits for pin in audit.pins]
    commands = []
    for index, part in enumerate(pins.partitions(every)):
        path = bench.scratch / f"pins-{index}.txt"
        path.write_text("".join(pin.requirement() + "\n" for pin in part), encoding="utf-8")
        commands.append(
            [
                bench.bin("pip-audit"),
                "--strict",
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "-s",
                "osv",
                "--osv-url",
                bench.osv_url,
                "-r",
                str(path),
            ]
        )
    return commands


@dataclass(frozen=True)
class DepsSettings:
    """``[tool.pipeline.deps]``: ``manifests`` audits only the files listed (any
    form), instead of every manifest the repository holds; ``ignore`` accepts
    advisories, each with its reason and, best, an end:

        ignore = { "PYSEC-2023-221" = "the debugger is never exposed (until 2027-01-31)" }
    """

    manifests: tuple[str, ...] | None = None
    ignore: dict[str, str] = field(default_factory=dict)


def advisory_reasons(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(why, str) for key, why in value.items()
    ):
        raise SettingsError(
            f'{settings.TABLE}.deps.ignore must be a table of "<advisory id>" = "reason"'
        )
    return dict(value)


def read_settings(value: object) -> DepsSettings:
    return DepsSettings(
        **settings.table(
            value,
            "deps",
            {
                "manifests": lambda v: settings.strings(v, "deps.manifests"),
                "ignore": advisory_reasons,
            },
        )
    )


GATE = Gate(
    name="deps",
    requires=("lint",),
    timeout_s=600,
    # A vulnerable dependency usually has a fixed release to take.
    severity=Severity.MEDIUM,
    reports=(JSON_REPORT, SARIF_REPORT),
    bare=bare,
    settings=read_settings,
)


def run(context: Context) -> Outcome:
    # pip-audit's side needs packaging and PyYAML, which only the deps venv holds.
    from tools.deps import audit, discovery, plan, report  # noqa: PLC0415 -- see above

    for tool in ("pip-audit", "uv"):
        toolrun.pinned(GATE.lock, tool, tool)
    root = Path.cwd()
    explicit = context.args.manifest or settings.load().of(GATE).manifests
    found = discovery.discover(root, list(explicit) if explicit else None)
    python = plan.project_python(root, f"{sys.version_info.major}.{sys.version_info.minor}")
    audits = plan.plan(
        found.manifests,
        python=python,
        offline=network.offline_requested(),
        timeout_s=context.timeout_s,
    )
    ours = plan.project_audits(audits)
    declared = sum(len(a.manifest.declared) for a in ours)
    audited_pins = [pin for audit in ours for pin in audit.pins]
    if declared and not audited_pins:
        raise GateError(
            "the repository declares dependencies but none of them could be audited: "
            "see the manifests listed in reports/deps.json"
        )
    every = [audit.pins for audit in audits if audit.pins]
    if not every:
        raise GateError("nothing to audit: no manifest and no pipeline lock here")
    with audit.vulnerability_service() as service:
        audits_json, vulnerable = audit.audit_all(every, service, context.timeout_s)
    version = audit.pip_audit_version()
    problems = [problem for a in audits for problem in a.manifest.problems]
    log = report.to_sarif(
        vulnerable, tool_version=version, service=service.label, problems=problems
    )
    sarif.write(log, SARIF_REPORT)
    notes = plan.coverage_notes(audits, found, service.label)
    reports.write_text(
        JSON_REPORT,
        json.dumps(
            {
                "tool": "pip-audit",
                "version": version,
                "service": service.label,
                "resolved_for_python": python,
                "manifests": [
                    {
                        "path": a.manifest.path,
                        "form": a.manifest.form,
                        "owner": a.manifest.owner,
                        "declared": len(a.manifest.declared),
                        "audited": len({(p.name, p.version) for p in a.pins}),
                        "how": a.describe(),
                    }
                    for a in audits
                ],
                "skipped": [{"path": path, "why": why} for path, why in found.skipped],
                "local": [{"where": where, "path": path} for where, path in found.local],
                "pip_audit": audits_json,
                "vulnerabilities": [vars(v) for v in vulnerable],
            },
            indent=2,
        )
        + "\n",
    )
    aliases = {v.id: {v.id, *v.aliases} for v in vulnerable}
    ignored = [
        suppressions.from_setting("deps ignore", "pyproject.toml", advisory, why)
        for advisory, why in settings.load().of(GATE).ignore.items()
    ]

    def covers(suppression: suppressions.Suppression, finding: Finding) -> bool:
        return bool(set(suppression.rules) & aliases.get(finding.rule, {finding.rule}))

    findings, in_force, silenced = suppressions.apply(
        sarif.findings(log, blocking=lambda _level: True), ignored, covers=covers
    )
    sarif.mark_suppressed(SARIF_REPORT, silenced)
    return Outcome(
        findings=findings,
        reports=[str(JSON_REPORT), str(SARIF_REPORT)],
        notes=notes,
        suppressions=in_force,
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="deps", description=__doc__)
    options.add_argument(
        "--manifest",
        action="append",
        default=[],
        metavar="PATH",
        help="a manifest to audit instead of those discovered, in any form (repeatable); "
        "default: [tool.pipeline.deps] manifests, else every one the repository holds",
    )
    return options


if __name__ == "__main__":
    sys.exit(main(GATE, run, parser()))
