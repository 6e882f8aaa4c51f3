"""The `secrets` gate: gitleaks with .gitleaks.toml over everything git stores.

In a git repository it scans every commit HEAD descends from, or only BASE..HEAD
when a base ref is given (`--base-ref` or PIPELINE_BASE_REF, for a pull
request): each commit's changes against each of its parents (merges included),
each commit's own text (its message) and every annotated tag on those commits,
read by ``tools.history`` with git plumbing that no file in the repository can
steer. Outside a git repository it scans the working tree and says so. The texts
go through `gitleaks dir` (``tools.textscan``); any leak blocks. Values are never
shown: the console, the SARIF report and reports/secrets.json name the rule, the
place and the commit, never the secret nor any text of the history.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tools import git as git_cli
from tools import gitleaks, history, policy, reports, sarif, suppressions, textscan
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.ledger import Ledger
from tools.reports import REPORTS
from tools.secrets_report import Leak, fingerprint, leak_record, sarif_log, stable_fingerprint
from tools.text import last_line
from tools.verdict import Finding

ROOT = Path.cwd()
CONFIG = policy.path(".gitleaks.toml")
SARIF_REPORT = REPORTS / "secrets.sarif"
JSON_REPORT = REPORTS / "secrets.json"
BASE_REF_ENV = policy.BASE_ENV
LEAKS_EXIT = textscan.LEAKS_EXIT
# The pipeline's own working folders: venvs full of third-party test data, and
# these reports. git ignores them; a scan of the working tree skips them.
DIR_MODE_SKIP = (".nox", ".venv", str(REPORTS))
FETCH_HINT = (
    "fetch the full history (actions/checkout with `fetch-depth: 0`, or `git fetch --unshallow`)"
)


def bare(bench: Bare) -> list[Command]:
    return [
        [
            str(gitleaks.bundled_binary_in(bench.venv)),
            "git",
            "-c",
            str(CONFIG),
            "--redact",
            "--no-banner",
            "--log-level",
            "error",
            "--report-format",
            "sarif",
            "--report-path",
            str(bench.scratch / "secrets.sarif"),
            ".",
        ]
    ]


GATE = Gate(
    name="secrets",
    requires=("lint",),
    timeout_s=900,
    # A credential in history is exposed the moment the repository is read.
    severity=Severity.HIGH,
    reports=(SARIF_REPORT, JSON_REPORT),
    bare=bare,
    holds_the_line=True,
)


@dataclass(frozen=True)
class Scope:
    mode: str  # "git" (history) or "dir" (working tree only)
    description: str
    revisions: tuple[str, ...] = ()  # what `git rev-list` is given


# -- what to scan --------------------------------------------------------------


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return git_cli.run(*args)


def inside_git_repository() -> bool:
    """True in a work tree; False only when there is plainly no repository. A
    repository git refuses to read (ownership, corruption) is an error, not a
    reason to fall back to the working tree and skip the history."""
    result = git("rev-parse", "--is-inside-work-tree")
    if result.returncode == 0 and result.stdout.strip() == "true":
        return True
    no_dot_git = not any((folder / ".git").exists() for folder in (ROOT, *ROOT.parents))
    if result.returncode != 0 and "not a git repository" in result.stderr and no_dot_git:
        return False
    raise GateError(f"cannot read the git repository here: {last_line(result.stderr)}")


def resolve_commit(ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    result = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return result.stdout.strip() if result.returncode == 0 else None


def scope(base_ref: str | None) -> Scope:
    if not inside_git_repository():
        if base_ref:
            raise GateError(f"a base ref ({base_ref}) was given but this is not a git repository")
        return Scope("dir", "the working tree only: not a git repository")
    shallow = git("rev-parse", "--is-shallow-repository")
    if shallow.stdout.strip() == "true":
        raise GateError(f"this clone is shallow, so its history cannot be scanned: {FETCH_HINT}")
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        raise GateError(f"cannot tell whether this clone is shallow: {last_line(shallow.stderr)}")
    if resolve_commit("HEAD") is None:
        raise GateError("the repository has no commits yet: nothing to scan")
    head = resolve_commit("HEAD") or "HEAD"
    # Every commit HEAD descends from: the verdict is about the commit under
    # test, not about whatever other branches this clone happens to hold.
    if not base_ref:
        return Scope("git", "the full history of HEAD", (head,))
    base = resolve_commit(base_ref)
    if base is None:
        raise GateError(f"base ref {base_ref!r} does not resolve to a commit here: {FETCH_HINT}")
    # The resolved hashes, not the user's text, go into git's arguments.
    return Scope("git", f"{base_ref}..HEAD", (head, f"^{base}"))


# -- the scan ----------------------------------------------------------------


def entries(where: Scope, timeout: float) -> tuple[Iterator[history.Entry], history.Coverage]:
    if where.mode == "dir":
        return history.working_tree(ROOT, DIR_MODE_SKIP)
    texts, coverage = history.read(where.revisions, timeout=timeout)
    if coverage.commits == 0:
        raise GateError(
            f"0 commits of {where.description} to scan, which is never a pass: "
            f"check that the base ref is behind HEAD, and {FETCH_HINT}"
        )
    return texts, coverage


def as_leak(found: textscan.Located) -> Leak:
    print_ = fingerprint(found.commit, found.path, found.rule, found.line)
    return Leak(
        found.rule, found.description, found.kind, found.path, found.line, found.commit, print_
    )


IGNORE_FILE = policy.path(".gitleaksignore")
# gitleaks' fingerprint of a finding in history: commit, path, rule, line.
FULL_FINGERPRINT = re.compile(r"(?P<commit>[0-9a-f]{40}):(?P<path>.+):(?P<rule>[\w.-]+):\d+")


def ignore_entries(path: Path = IGNORE_FILE) -> list[suppressions.Suppression]:
    """`.gitleaksignore`, one `<fingerprint> -- <reason> [(until ...)]` per line.
    A fingerprint without its commit (`path:rule:line`) would silence that
    finding in every commit, past and future: it silences nothing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target, _, rest = line.partition(" ")
        target = target.replace("\\", "/")
        parsed = suppressions.REST.match(rest)
        full = FULL_FINGERPRINT.fullmatch(target)
        rule = full["rule"] if full else target.rsplit(":", 2)[-2] if target.count(":") >= 2 else ""
        entries.append(
            suppressions.Suppression(
                tool=".gitleaksignore",
                path=".gitleaksignore",
                line=number,
                rules=(rule,) if rule else (),
                reason=((parsed["reason"] or "").strip() or None) if parsed else None,
                until=parsed["until"] if parsed else None,
                scope="fingerprint",
                target=target,
                defect=None
                if full
                else "`.gitleaksignore` entry names no commit: it would silence the finding in "
                "every commit; copy the full fingerprint from reports/secrets.json",
            )
        )
    return entries


def inline_allows(found: list[textscan.Located]) -> list[suppressions.Suppression]:
    """Every `gitleaks:allow` on a leak's own lines, in the grammar of every tool."""
    allows = []
    for one in found:
        for text in one.lines:
            line = text.decode("utf-8", "replace")
            allow = suppressions.parse(suppressions.GITLEAKS_ALLOW, line, one.path, one.line)
            if allow is not None:
                allows.append(allow)
                break
    # One per place: the same line in many commits is one suppression.
    return list({(a.path, a.line, a.rules, a.reason): a for a in allows}.values())


def as_finding(leak: Leak) -> Finding:
    message = (
        f"secret {leak.where()} (value redacted): rotate it; if it is no secret, add its "
        f"fingerprint from {JSON_REPORT} to .gitleaksignore"
    )
    return Finding(
        leak.rule,
        "error",
        leak.file,
        leak.line,
        message,
        blocking=True,
        fingerprint=stable_fingerprint(leak),
    )


def coverage_note(where: Scope, release: str, coverage: history.Coverage, scanned: int) -> str:
    files = (
        f"{coverage.files} file version(s) ({coverage.binary_files} binary, "
        f"{coverage.archive_members} archive member(s))"
    )
    if where.mode == "dir":
        return f"gitleaks {release} scanned {where.description}: {files}, {scanned} bytes"
    return (
        f"gitleaks {release} scanned {coverage.commits} commit(s) of {where.description}: "
        f"{coverage.merges} merge(s) against each parent, {coverage.messages} message(s), "
        f"{coverage.tags} annotated tag(s), {files}, {scanned} bytes"
    )


def run(context: Context) -> Outcome:
    args = context.args
    config = Path(args.config)
    if not config.is_file():
        raise GateError(f"no gitleaks config at {config}: the gate never scans without it")
    binary, release = gitleaks.find()
    where = scope((args.base_ref or "").strip() or None)
    timeout = context.timeout_s
    texts, coverage = entries(where, timeout)
    with tempfile.TemporaryDirectory(prefix="secrets-") as folder:
        found, scanned = textscan.scan(
            texts, binary=binary, config=config, folder=Path(folder), timeout=timeout
        )
    every = [as_leak(one) for one in found]
    findings = [as_finding(leak) for leak in every]
    prints = {id(f): leak.fingerprint for f, leak in zip(findings, every, strict=True)}

    def covers(suppression: suppressions.Suppression, finding: Finding) -> bool:
        if suppression.scope == "fingerprint":
            return suppression.target == prints[id(finding)]
        return suppression.covers(finding)

    findings, in_force, silenced = suppressions.apply(
        findings, [*inline_allows(found), *ignore_entries()], covers=covers
    )
    silenced_by = {prints[id(f)]: s for f, s in silenced}
    every = [
        replace(leak, suppressed_by=silenced_by[leak.fingerprint].tool)
        if leak.fingerprint in silenced_by
        else leak
        for leak in every
    ]
    leaks = [leak for leak in every if leak.suppressed_by is None]
    suppressed = [leak for leak in every if leak.suppressed_by is not None]
    sarif.write(sarif_log(release, every), SARIF_REPORT)
    reports.write_text(
        JSON_REPORT,
        json.dumps(
            {
                "gitleaks": release,
                "config": str(config),
                "scanned": where.description,
                "commits_scanned": coverage.commits if where.mode == "git" else None,
                "coverage": {**asdict(coverage), "bytes_scanned": scanned},
                "leaks": [leak_record(leak) for leak in leaks],
                "suppressed": [leak_record(leak) for leak in suppressed],
            },
            indent=2,
        )
        + "\n",
    )
    notes = [coverage_note(where, release, coverage, scanned)]
    if suppressed:
        notes.append(
            f"{len(suppressed)} finding(s) suppressed (gitleaks:allow or .gitleaksignore), "
            f"listed in {JSON_REPORT}"
        )
    # Every commit git handed over was read: history.read fails the gate otherwise.
    commits = coverage.commits if where.mode == "git" else 0
    unit = "commits" if where.mode == "git" else "files"
    covered = commits if where.mode == "git" else coverage.files
    return Outcome(
        findings=findings,
        suppressions=in_force,
        reports=[str(SARIF_REPORT), str(JSON_REPORT)],
        notes=notes,
        ledger=Ledger(unit, total=covered, scanned=covered),
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="secrets", description=__doc__)
    options.add_argument(
        "--base-ref",
        default=policy.base_ref(),
        help=f"scan only BASE_REF..HEAD (default: ${BASE_REF_ENV}; unset: the full history)",
    )
    options.add_argument(
        "--config", default=str(CONFIG), help="gitleaks config (default: %(default)s)"
    )
    return options


if __name__ == "__main__":
    sys.exit(main(GATE, run, parser()))
