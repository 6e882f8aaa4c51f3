"""The `deps` gate: pip-audit, strict, on the service's lock (requirements.txt)
and on the gates' own tool locks (locks/*.txt), because the pipeline's toolchain
is part of the supply chain. Any known advisory fails the gate.

The advisory source (a local OSV mirror, a shared one, or OSV's API) is chosen
by ``tools.deps.audit``; see the README, ### deps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools import sarif
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS

JSON_REPORT = REPORTS / "deps.json"
SARIF_REPORT = REPORTS / "deps.sarif"
RUNTIME_LOCK = Path("requirements.txt")
TOOL_LOCKS = Path("locks")


def default_manifests() -> list[Path]:
    found = [RUNTIME_LOCK] if RUNTIME_LOCK.is_file() else []
    found += sorted(TOOL_LOCKS.glob("*.txt"))
    if not found:
        raise GateError(f"nothing to audit: no {RUNTIME_LOCK} and no {TOOL_LOCKS}/*.txt here")
    return found


def bare(bench: Bare) -> list[Command]:
    """pip-audit alone against the benchmark's mirror, on every distinct pin of the
    manifests the gate audits, split as the gate splits them."""
    # packaging is not in every venv that reads the gate table: imported when used.
    from tools.deps import pins  # noqa: PLC0415 -- see above

    every = [pin for path in default_manifests() for pin in pins.read(bench.project / path)]
    commands = []
    for index, part in enumerate(pins.partitions(every)):
        path = bench.scratch / f"pins-{index}.txt"
        path.write_text("".join(pin.requirement() + "\n" for pin in part), encoding="utf-8")
        commands.append(
            [
                bench.bin("pip-audit"),
                "--strict",
                "--require-hashes",
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


GATE = Gate(
    name="deps",
    requires=("lint",),
    timeout_s=600,
    # A vulnerable dependency usually has a fixed release to take.
    severity=Severity.MEDIUM,
    reports=(JSON_REPORT, SARIF_REPORT),
    bare=bare,
)


def run(context: Context) -> Outcome:
    # pip-audit's side needs packaging and PyYAML, which only the deps venv holds.
    from tools.deps import audit, pins, report  # noqa: PLC0415 -- see above

    args = context.args
    manifests = [Path(m) for m in args.manifest] if args.manifest else default_manifests()
    # SARIF locations are relative to the checkout, as GitHub resolves them.
    locked = [pins.read(m, sarif.relative_uri(str(m.resolve()), Path.cwd())) for m in manifests]
    for manifest, found in zip(manifests, locked, strict=True):
        if not found:  # an emptied lock must not pass as a clean one
            raise GateError(f"{manifest} pins nothing: regenerate it with `nox -s lock`")
    with audit.vulnerability_service() as service:
        audits, found = audit.audit_all(locked, service, context.timeout_s)
    version = audit.pip_audit_version()
    JSON_REPORT.write_text(
        json.dumps(
            {
                "tool": "pip-audit",
                "version": version,
                "service": service.label,
                "manifests": [
                    {"path": m.as_posix(), "pins": len(p)}
                    for m, p in zip(manifests, locked, strict=True)
                ],
                "pip_audit": audits,
                "vulnerabilities": [vars(v) for v in found],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    log = report.to_sarif(found, tool_version=version, service=service.label)
    sarif.write(log, SARIF_REPORT)
    count = sum(len(p) for p in locked)
    notes = [f"{count} pins in {len(manifests)} manifest(s) audited against {service.label}"]
    return Outcome(
        findings=sarif.findings(log, blocking=lambda _level: True),
        reports=[str(JSON_REPORT), str(SARIF_REPORT)],
        notes=notes,
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="deps", description=__doc__)
    options.add_argument(
        "--manifest",
        action="append",
        default=[],
        metavar="PATH",
        help="a hash-locked requirements file to audit (repeatable); "
        "default: requirements.txt and locks/*.txt",
    )
    return options


if __name__ == "__main__":
    sys.exit(main(GATE, run, parser()))
