"""The `secrets` gate: gitleaks with .gitleaks.toml over the git history.

In a git repository it scans every commit HEAD descends from (`gitleaks git`),
or only BASE..HEAD when a base ref is given (`--base-ref` or PIPELINE_BASE_REF,
for a pull request). Outside a git repository it scans the working tree (`gitleaks dir`)
and says so. Any leak blocks. Values are always redacted: the console, the
SARIF report and reports/secrets.json name the rule, file, line and commit,
never the secret.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tools import git as git_cli
from tools import gitleaks, sarif
from tools.errors import GateError
from tools.gates import Bare, Command, Gate, Severity
from tools.gates._gate import Context, Outcome, main
from tools.reports import REPORTS
from tools.text import last_line
from tools.toolrun import run_tool
from tools.verdict import Finding

ROOT = Path.cwd()
CONFIG = Path(".gitleaks.toml")
SARIF_REPORT = REPORTS / "secrets.sarif"
JSON_REPORT = REPORTS / "secrets.json"
BASE_REF_ENV = "PIPELINE_BASE_REF"

# Leaks get an exit code no failure produces, so a crash never reads as leaks
# nor leaks as a crash: gitleaks exits 1 on errors (and, by default, on leaks)
# and 126 on a bad flag, and a Go panic (a bad regex in the config) exits 2.
LEAKS_EXIT = 3
# The pipeline's own working folders: venvs full of third-party test data, and
# these reports. git ignores them; `gitleaks dir` would not.
DIR_MODE_SKIP = (".nox", ".venv", str(REPORTS))
FETCH_HINT = (
    "fetch the full history (actions/checkout with `fetch-depth: 0`, or `git fetch --unshallow`)"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COMMITS_SCANNED = re.compile(r"\b(\d+) commits scanned")
GIT_FAILURE = re.compile(r"\[git\] (?:fatal|error):.*")
# The line that says why gitleaks failed: a panic, or its fatal/error log entry.
FAILURE_LINE = re.compile(r"^(?:panic: .*|.*\b(?:FTL|ERR)\b.*)$", re.MULTILINE)


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
)


@dataclass(frozen=True)
class Scope:
    mode: str  # "git" (history) or "dir" (working tree only)
    description: str
    log_opts: str | None = None


@dataclass(frozen=True)
class Leak:
    rule: str
    file: str
    line: int | None
    commit: str | None
    fingerprint: str  # what .gitleaksignore takes to silence a confirmed false positive


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
        return Scope("dir", "the working tree only: not a git repository (gitleaks dir)")
    shallow = git("rev-parse", "--is-shallow-repository")
    if shallow.stdout.strip() == "true":
        raise GateError(f"this clone is shallow, so its history cannot be scanned: {FETCH_HINT}")
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        raise GateError(f"cannot tell whether this clone is shallow: {last_line(shallow.stderr)}")
    if resolve_commit("HEAD") is None:
        raise GateError("the repository has no commits yet: nothing to scan")
    # Every commit HEAD descends from, as gitleaks' default (`--full-history --all`)
    # would scan minus `--all`: the verdict is about the commit under test, not
    # about whatever other branches and tags this clone happens to hold.
    if not base_ref:
        return Scope("git", "the full history of HEAD (gitleaks git)", "--full-history HEAD")
    base = resolve_commit(base_ref)
    if base is None:
        raise GateError(f"base ref {base_ref!r} does not resolve to a commit here: {FETCH_HINT}")
    # The resolved hash, not the user's text, goes into git log's arguments.
    return Scope("git", f"{base_ref}..HEAD (gitleaks git)", f"--full-history {base}..HEAD")


# -- the scan ----------------------------------------------------------------


def dir_mode_config(config: Path, folder: Path) -> Path:
    """The project config plus the pipeline's own working folders, skipped."""
    paths = ", ".join(json.dumps(f"^{re.escape(name)}/") for name in DIR_MODE_SKIP)
    text = (
        f"[extend]\npath = {json.dumps(str(config.resolve()))}\n\n"
        "[[allowlists]]\n"
        'description = "the pipeline\'s own working folders, ignored by git"\n'
        f"paths = [{paths}]\n"
    )
    path = folder / "gitleaks-dir.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_gitleaks(
    binary: Path, config: Path, where: Scope, timeout_s: float
) -> tuple[bool, int | None]:
    """Run the scan: (leaks reported, commits scanned, None for `dir`)."""
    with tempfile.TemporaryDirectory(prefix="gitleaks-") as scratch:
        if where.mode == "dir":
            config = dir_mode_config(config, Path(scratch))
        argv = [
            str(binary),
            where.mode,
            "--no-banner",
            f"--config={config}",
            "--redact",
            f"--exit-code={LEAKS_EXIT}",
            "--report-format=sarif",
            f"--report-path={SARIF_REPORT}",
        ]
        if where.log_opts:
            argv.append(f"--log-opts={where.log_opts}")
        result = run_tool(
            [*argv, "."],
            timeout=timeout_s,
            what="gitleaks",
            # gitleaks runs git, whose messages are parsed below: untranslated.
            env=git_cli.environment(),
        )
    log = ANSI.sub("", result.stderr + result.stdout)
    if result.returncode not in (0, LEAKS_EXIT):
        failure = FAILURE_LINE.search(log)
        why = failure.group(0).strip() if failure else last_line(log)
        raise GateError(f"gitleaks failed (exit {result.returncode}): {why}")
    git_failure = GIT_FAILURE.search(log)
    if git_failure:
        raise GateError(f"gitleaks could not read the history: {git_failure.group(0)}")
    reported = result.returncode == LEAKS_EXIT
    if where.mode == "dir":
        return reported, None
    counted = COMMITS_SCANNED.search(log)
    if counted is None:
        raise GateError("gitleaks did not say how many commits it scanned: cannot trust the scan")
    commits = int(counted.group(1))
    if commits == 0:
        raise GateError(
            f"gitleaks scanned 0 commits of {where.description}, which is never a pass: "
            f"check that the base ref is behind HEAD, and {FETCH_HINT}"
        )
    return reported, commits


def tidy_sarif() -> dict:
    """Relative paths, and no snippets: a snippet only ever holds the secret
    (redacted or not), which is nothing a reader needs."""
    log = sarif.drop_snippets(sarif.relativize(sarif.load(SARIF_REPORT, tool="gitleaks"), ROOT))
    sarif.write(log, SARIF_REPORT)
    return log


def leaks(log: dict) -> list[Leak]:
    found = []
    for run in log["runs"]:
        for result in run.get("results") or []:
            rule = result.get("ruleId", "unknown")
            file, line = sarif.first_location(result)
            commit = result.get("partialFingerprints", {}).get("commitSha") or None
            fingerprint = ":".join(str(part) for part in (commit, file, rule, line) if part)
            found.append(Leak(rule, file, line, commit, fingerprint))
    return found


def as_finding(leak: Leak) -> Finding:
    where = f"committed in {leak.commit[:12]}" if leak.commit else "in the working tree"
    message = (
        f"secret {where} (value redacted): rotate it; if it is no secret, add its "
        f"fingerprint from {JSON_REPORT} to .gitleaksignore"
    )
    return Finding(leak.rule, "error", leak.file, leak.line, message, blocking=True)


def run(context: Context) -> Outcome:
    args = context.args
    config = Path(args.config)
    if not config.is_file():
        raise GateError(f"no gitleaks config at {config}: the gate never scans without it")
    binary, release = gitleaks.find()
    where = scope((args.base_ref or "").strip() or None)
    reported, commits = run_gitleaks(binary, config, where, context.timeout_s)
    found = leaks(tidy_sarif())
    if reported != bool(found):
        raise GateError(
            f"gitleaks exit code and report disagree ({'leaks' if reported else 'clean'} vs "
            f"{len(found)} result(s) in {SARIF_REPORT}): re-run the gate"
        )
    JSON_REPORT.write_text(
        json.dumps(
            {
                "gitleaks": release,
                "config": str(config),
                "scanned": where.description,
                "commits_scanned": commits,
                "leaks": [asdict(leak) for leak in found],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    scanned = f"{commits} commit(s) of " if commits is not None else ""
    return Outcome(
        findings=[as_finding(leak) for leak in found],
        reports=[str(SARIF_REPORT), str(JSON_REPORT)],
        notes=[f"gitleaks {release} scanned {scanned}{where.description}"],
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="secrets", description=__doc__)
    options.add_argument(
        "--base-ref",
        default=os.environ.get(BASE_REF_ENV),
        help=f"scan only BASE_REF..HEAD (default: ${BASE_REF_ENV}; unset: the full history)",
    )
    options.add_argument(
        "--config", default=str(CONFIG), help="gitleaks config (default: %(default)s)"
    )
    return options


if __name__ == "__main__":
    sys.exit(main(GATE, run, parser()))
