"""How much of each vulnerability class the offline gates catch, on the annotated
fixtures of .semgrep/tests/.

    nox -s detection -- [--rules FILE ...] [--ruff-ignore S603,...]
                        [--fixtures DIR] [--compare] [--details]

Each fixture is one class, named after its stem. As in `semgrep --test`, an
annotation is a comment alone on its line and speaks of the line right after it:
that line is vulnerable after `# ruleid:` (or `# todoruleid:`, a known miss) and
safe after `# ok:` (or `# todook:`, a known false positive). A vulnerable line is
caught, and a safe one flagged, when a finding of any of the Semgrep rules (ERROR
or WARNING) or of any of ruff's S rules not ignored starts on it, whatever rule the
annotation names: this measures the gates, not one rule. Suppression comments
(`# nosemgrep`, `# noqa`) are disregarded, so a fixture cannot hide a line.

It prints, per class and overall, the vulnerable lines caught and the safe lines
flagged. By default it runs every rule file of .semgrep/ with every S rule. With
--compare it prints two measures: "before", the gates as they were (.semgrep/rules.yml
and every S rule), and "after", the given rules (default: every rule file) with
the given ignores (default: ``[tool.pipeline.lint] ignore``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools import semgrep_rules, settings
from tools.errors import PipelineError
from tools.gates import lint
from tools.gates.sast import QUIET_ENV, QUIET_FLAGS
from tools.text import last_line
from tools.toolrun import run_tool

RULES_DIR = Path(semgrep_rules.FOLDER)
FIXTURES = RULES_DIR / semgrep_rules.TESTS
BASELINE_RULES = (RULES_DIR / "rules.yml",)


def ruff_ignore() -> tuple[str, ...]:
    """The S rules the pipeline's policy does not block on ([tool.pipeline.lint] ignore)."""
    return tuple(sorted(settings.load().of(lint.GATE).ignore))


# Semgrep's own annotation syntax: `# ruleid: a, b`, with optional pro/deep prefixes.
ANNOTATION = re.compile(r"^#\s*(?:pro|deep)?(ruleid|todoruleid|ok|todook):")
VULNERABLE_KINDS = frozenset({"ruleid", "todoruleid"})
TIMEOUT_S = 900

Line = tuple[Path, int]
# Which rules report on each line.
Hits = dict[Line, set[str]]


class DetectionError(PipelineError):
    """A tool did not run to completion: its silence would read as "nothing found"."""


@dataclass(frozen=True)
class Fixture:
    path: Path
    vulnerable: frozenset[int]
    safe: frozenset[int]

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Score:
    name: str
    vulnerable: int
    caught: int
    safe: int
    flagged: int


@dataclass(frozen=True)
class Measure:
    title: str
    rules: tuple[Path, ...]
    ruff_ignore: tuple[str, ...]


def read_fixture(path: Path) -> Fixture:
    vulnerable, safe = set(), set()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if match := ANNOTATION.match(text.strip()):
            (vulnerable if match[1] in VULNERABLE_KINDS else safe).add(number + 1)
    # A line both expected and forbidden (by two annotations) is counted as vulnerable.
    return Fixture(path, frozenset(vulnerable), frozenset(safe - vulnerable))


def fixtures_in(folder: Path) -> list[Fixture]:
    fixtures = [read_fixture(path) for path in sorted(folder.glob("*.py"))]
    if not fixtures:
        raise DetectionError(f"no fixture (*.py) in {folder}")
    return fixtures


def run(argv: Sequence[str], *, env: dict[str, str] | None = None) -> str:
    result = run_tool(argv, timeout=TIMEOUT_S, what=argv[0], env=env)
    if result.returncode != 0:
        raise DetectionError(f"{argv[0]} exited {result.returncode}: {last_line(result.stderr)}")
    return result.stdout


def semgrep_hits(rules: Iterable[Path], targets: Sequence[Path]) -> Hits:
    configs = [f"--config={rule}" for rule in rules]
    if not configs:
        return {}
    output = run(
        ["semgrep", "scan", "--json", "--quiet", "--disable-nosem", *QUIET_FLAGS, *configs]
        + [str(target) for target in targets],
        env={**os.environ, **QUIET_ENV},
    )
    report = json.loads(output)
    if errors := [e for e in report.get("errors") or [] if e.get("level") == "error"]:
        raise DetectionError(f"semgrep reported an error: {errors[0].get('message')}")
    return collect(
        ((Path(r["path"]), int(r["start"]["line"])), r["check_id"].rsplit(".", 1)[-1])
        for r in report["results"]
    )


def ruff_hits(ignore: Sequence[str], targets: Sequence[Path]) -> Hits:
    argv = ["ruff", "check", "--isolated", "--no-cache", "--ignore-noqa", "--exit-zero"]
    argv += ["--select", "S", "--output-format", "json"]
    if ignore:
        argv += ["--ignore", ",".join(ignore)]
    output = run([*argv, *(str(target) for target in targets)])
    return collect(
        ((Path(d["filename"]), int(d["location"]["row"])), d["code"]) for d in json.loads(output)
    )


def collect(findings: Iterable[tuple[Line, str]]) -> Hits:
    hits: Hits = {}
    for (path, line), rule in findings:
        hits.setdefault((path.resolve(), line), set()).add(rule)
    return hits


def merge(*all_hits: Hits) -> Hits:
    merged: Hits = {}
    for hits in all_hits:
        for line, rules in hits.items():
            merged.setdefault(line, set()).update(rules)
    return merged


def lines_hit(fixture: Fixture, hits: Hits) -> dict[int, set[str]]:
    where = fixture.path.resolve()
    return {line: rules for (path, line), rules in hits.items() if path == where}


def score(fixture: Fixture, hits: Hits) -> Score:
    here = lines_hit(fixture, hits).keys()
    return Score(
        name=fixture.name,
        vulnerable=len(fixture.vulnerable),
        caught=len(fixture.vulnerable & here),
        safe=len(fixture.safe),
        flagged=len(fixture.safe & here),
    )


def total(scores: Sequence[Score]) -> Score:
    return Score(
        name="overall",
        vulnerable=sum(s.vulnerable for s in scores),
        caught=sum(s.caught for s in scores),
        safe=sum(s.safe for s in scores),
        flagged=sum(s.flagged for s in scores),
    )


def findings(which: Measure, fixtures: Sequence[Fixture]) -> Hits:
    targets = [fixture.path for fixture in fixtures]
    return merge(semgrep_hits(which.rules, targets), ruff_hits(which.ruff_ignore, targets))


def details(fixtures: Sequence[Fixture], hits: Hits) -> str:
    """The vulnerable lines missed and the safe lines flagged, with the rules that fired."""
    lines = []
    for fixture in fixtures:
        here = lines_hit(fixture, hits)
        lines += [f"  missed  {fixture.path}:{n}" for n in sorted(fixture.vulnerable - here.keys())]
        lines += [
            f"  flagged {fixture.path}:{n} by {', '.join(sorted(here[n]))}"
            for n in sorted(fixture.safe & here.keys())
        ]
    return "\n".join(lines)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    - "


def table(which: Measure, scores: Sequence[Score]) -> str:
    width = max(len("overall"), *(len(s.name) for s in scores))
    rules = ", ".join(str(rule) for rule in which.rules) or "none"
    lines = [
        f"{which.title}: Semgrep {rules}; ruff S"
        + (f" minus {','.join(which.ruff_ignore)}" if which.ruff_ignore else ""),
        f"{'class':<{width}}  {'vulnerable caught':>19}  {'safe flagged':>19}",
    ]
    for row in [*scores, total(scores)]:
        if row.name == "overall":
            lines.append("-" * (width + 42))
        caught, flagged = cell(row.caught, row.vulnerable), cell(row.flagged, row.safe)
        lines.append(f"{row.name:<{width}}  {caught}  {flagged}")
    return "\n".join(lines)


def cell(part: int, whole: int) -> str:
    return f"{part:>5}/{whole:<5} {percent(part, whole)}"


def ignore_list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())


def measures(args: argparse.Namespace) -> list[Measure]:
    rules = tuple(args.rules) if args.rules else semgrep_rules.pack().files
    ignore = ignore_list(args.ruff_ignore)
    if not args.compare:
        return [Measure("measure", rules, ignore or ())]
    return [
        Measure("before", BASELINE_RULES, ()),
        Measure("after", rules, ruff_ignore() if ignore is None else ignore),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rules",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="Semgrep rule files (default: every .semgrep/*.yml)",
    )
    parser.add_argument(
        "--ruff-ignore",
        metavar="CODES",
        help="comma-separated S rules not to count (default: none; with --compare, "
        "the policy's [tool.pipeline.lint] ignore)",
    )
    parser.add_argument(
        "--fixtures", type=Path, default=FIXTURES, help=f"annotated fixtures (default {FIXTURES})"
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="also list each vulnerable line missed and each safe line flagged",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="print the gates before (.semgrep/rules.yml, every S rule) and after",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        fixtures = fixtures_in(args.fixtures)
        for index, which in enumerate(measures(args)):
            hits = findings(which, fixtures)
            scores = [score(fixture, hits) for fixture in fixtures]
            print(("\n" if index else "") + table(which, scores))
            if args.details and (listed := details(fixtures, hits)):
                print(listed)
    except PipelineError as error:
        print(f"detection: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
