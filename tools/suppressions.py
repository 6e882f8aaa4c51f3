"""Suppressions: each one names its rule, gives its reason, and may end.

One syntax for every tool, after the tool's own marker:

    <marker> <rule>[, <rule>...] -- <reason> [(until YYYY-MM-DD)]

    x = eval(text)  # noqa: S307 -- the input is our own config file (until 2027-06-30)
    app.run(debug=True)  # nosemgrep: flask-debug-true -- local demo entry point
    token = "..."  # gitleaks:allow generic-api-key -- a documented example value
    - run: ...  # zizmor: ignore[template-injection] -- the value is a job output we set
    <commit>:docs/example.cfg:generic-api-key:3 -- an example in the docs    (.gitleaksignore)
    "PYSEC-2024-1" = "we never parse XML (until 2027-01-01)"    ([tool.pipeline.deps] ignore)

The gates run their tools with the tools' own suppressions off (ruff
``--ignore-noqa``, Semgrep ``--disable-nosem``, zizmor ``--no-ignores``,
gitleaks ``--ignore-gitleaks-allow`` and no ``.gitleaksignore``) and apply
these themselves, so that every suppression is seen. A suppression that names
no rule or gives no reason, one past its date, or one whose date is not a
date, silences nothing and is a blocking finding of its gate; one that
silences nothing (stale) is a warning. Every suppression in force is listed in
the gate's record, the summary and (counted) the SOC's payload.

ruff's codes outside ``S`` keep ruff's own meaning (a bare ``# noqa`` still
hides a long line): only the security rules need a reason.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from tools import clock, fingerprint, policy
from tools.verdict import Finding

INVALID, EXPIRED, UNUSED = "suppression-invalid", "suppression-expired", "suppression-unused"
# What follows the rules: ` -- reason` and an optional `(until YYYY-MM-DD)`.
REST = re.compile(r"^\s*(?:--\s*(?P<reason>.*?))?\s*(?:\(until\s+(?P<until>[^)]*)\)\s*)?$")
RULE_LIST = r"(?P<rules>[\w.:/@+-]+(?:\s*,\s*[\w.:/@+-]+)*)"
SEP = r"(?:\s*:\s*|\s+)"


@dataclass(frozen=True)
class Marker:
    """One tool's way of writing a suppression."""

    tool: str  # how the record names it: "noqa", "nosemgrep", ...
    pattern: re.Pattern[str]
    scope: str  # "line", "line-or-above" (the line before counts too) or "file"


def _marker(tool: str, head: str, scope: str, rules: str = rf"(?:{SEP}{RULE_LIST})?") -> Marker:
    return Marker(tool, re.compile(rf"{head}{rules}(?P<rest>.*)$"), scope)


NOQA = _marker("noqa", r"#\s*noqa\b", "line", rf"(?::\s*{RULE_LIST})?")
FILE_NOQA = _marker("ruff: noqa", r"#\s*(?:ruff|flake8)\s*:\s*noqa\b", "file",
                    rf"(?::\s*{RULE_LIST})?")  # fmt: skip
NOSEMGREP = _marker("nosemgrep", r"(?:#|//|--)\s*nosem(?:grep)?\b", "line-or-above")
ZIZMOR = _marker("zizmor", r"#\s*zizmor\s*:\s*ignore", "line", r"(?:\[(?P<rules>[^\]]*)\])?")
GITLEAKS_ALLOW = _marker("gitleaks:allow", r"gitleaks:allow\b", "line")


@dataclass(frozen=True)
class Suppression:
    tool: str
    path: str
    line: int | None
    rules: tuple[str, ...]
    reason: str | None
    until: str | None  # as written
    scope: str = "line"  # "line", "line-or-above", "file", "fingerprint" or "anywhere"
    used: int = 0  # findings it silenced
    security: bool = True  # False for ruff's non-S codes: ruff's own meaning, never listed
    target: str | None = None  # what it names instead of a place (a .gitleaksignore fingerprint)
    defect: str | None = None  # what is wrong with how it is written, beyond rule and reason

    def problem(self, today: date) -> tuple[str, str] | None:
        """Why it silences nothing (the finding's rule, and its message), or None."""
        if self.defect:
            return INVALID, self.defect
        if not self.rules:
            return INVALID, f"`{self.tool}` names no rule: name the rule it silences"
        if not self.reason:
            return INVALID, f"`{self.tool}` gives no reason: add ` -- <why>` after the rule"
        if self.until is not None:
            try:
                ends = date.fromisoformat(self.until.strip())
            except ValueError:
                return INVALID, f"`{self.tool}` ends on {self.until!r}, which is no YYYY-MM-DD date"
            if ends < today:
                return EXPIRED, f"`{self.tool}` expired on {ends}: fix the finding, or renew it"
        return None

    def covers(self, finding: Finding) -> bool:
        if self.scope != "anywhere" and self.path != finding.path:
            return False
        if self.scope == "line" and finding.line != self.line:
            return False
        if self.scope == "line-or-above" and finding.line not in (self.line, (self.line or 0) + 1):
            return False
        # Without rules: ruff's bare `# noqa`, which covers every rule of its line.
        return not self.rules or any(rule_matches(finding.rule, rule) for rule in self.rules)

    def to_json(self, new: bool | None = None) -> dict[str, object]:
        entry: dict[str, object] = {
            "tool": self.tool,
            "path": self.path,
            "line": self.line,
            "rules": list(self.rules),
            "reason": self.reason,
            "until": self.until,
        }
        if new is not None:
            entry["new"] = new
        return entry

    def key(self) -> tuple[str, tuple[str, ...], str]:
        """What it is, wherever it sits: a pull request moving it adds nothing."""
        return self.tool, self.rules, self.reason or ""


SETTING_VALUE = re.compile(r"^\s*(?P<reason>.*?)\s*(?:\(until\s+(?P<until>[^)]*)\)\s*)?$")


def from_setting(tool: str, where: str, rule: str, value: str) -> Suppression:
    """A suppression a setting holds: `"<rule>" = "<reason> [(until YYYY-MM-DD)]"`."""
    found = SETTING_VALUE.match(value)
    reason = (found["reason"] if found else "").strip()
    return Suppression(tool, where, None, (rule,), reason or None,
                       found["until"] if found else None, "anywhere")  # fmt: skip


def rule_matches(found: str, named: str) -> bool:
    """A rule named as its tool reports it, or by its last dotted part (Semgrep's
    registry ids are long: `python.flask.security.audit.debug-enabled`)."""
    return found == named or found.endswith("." + named) or named.endswith("." + found)


def parse(marker: Marker, text: str, path: str, line: int | None) -> Suppression | None:
    """The suppression ``text`` holds for ``marker``; None when it holds none."""
    found = marker.pattern.search(text)
    if not found:
        return None
    rules = tuple(r.strip() for r in re.split(r"[,\s]+", found["rules"] or "") if r.strip())
    rest = REST.match(found["rest"] or "")
    reason = (rest["reason"] or "").strip() if rest else ""
    until = rest["until"] if rest else None
    if rest is None:  # something after the rules that is not ` -- reason`
        reason = ""
    return Suppression(marker.tool, path, line, rules, reason or None, until, marker.scope)


# Cheap to look for before reading a file line by line.
WORDS = ("noqa", "nosem", "zizmor", "gitleaks:allow")


def in_files(root: Path, paths: Iterable[str], markers: Iterable[Marker]) -> list[Suppression]:
    """Every suppression comment of ``markers`` in the files."""
    chosen = list(markers)
    found = []
    for path in paths:
        try:
            text = (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if not any(word in text for word in WORDS):
            continue
        for number, line in comments(path, text):
            for marker in chosen:
                if (suppression := parse(marker, line, path, number)) is not None:
                    found.append(suppression)
    return found


def comments(path: str, text: str) -> Iterator[tuple[int, str]]:
    """Where a suppression may be written: a Python file's comments (a string
    that reads `# noqa` is no suppression), any other file's lines."""
    if path.endswith((".py", ".pyi")):
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError, ValueError):
            tokens = None  # not Python ruff can read: every line, as the tools read it
        if tokens is not None:
            yield from ((t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT)
            return
    yield from enumerate(text.splitlines(), start=1)


def apply(
    findings: list[Finding],
    suppressions: list[Suppression],
    today: date | None = None,
    is_security: Callable[[str], bool] = lambda _rule: True,
    covers: Callable[[Suppression, Finding], bool] = Suppression.covers,
) -> tuple[list[Finding], list[Suppression], list[tuple[Finding, Suppression]]]:
    """The findings no valid suppression silences, plus a finding for each
    suppression that is invalid (blocking) or silences nothing (a warning); the
    suppressions in force, each with what it silenced; and each silenced finding
    with what silenced it (for the SARIF, which keeps it, marked). A suppression with
    ruff's own meaning (``security=False``) never silences a security finding,
    and one without a rule on a security finding's line is invalid."""
    today = today or clock.today()
    problems = {id(s): s.problem(today) for s in suppressions}
    used: dict[int, int] = {}
    kept, silenced = [], []
    for finding in findings:
        silencer = next(
            (
                s
                for s in suppressions
                if (problems[id(s)] is None if s.security else not is_security(finding.rule))
                and covers(s, finding)
            ),
            None,
        )
        if silencer is None:
            kept.append(finding)
        else:
            used[id(silencer)] = used.get(id(silencer), 0) + 1
            silenced.append((finding, silencer))
    exposed = {(f.path, f.line) for f in kept if is_security(f.rule)}
    for suppression in suppressions:
        problem = problems[id(suppression)]
        if not suppression.security:
            if not suppression.rules and (suppression.path, suppression.line) in exposed:
                message = f"`{suppression.tool}` names no rule: name the rule and say why"
                kept.append(_finding(suppression, INVALID, message, blocking=True))
            continue
        if problem is not None:
            rule, message = problem
            kept.append(_finding(suppression, rule, message, blocking=True))
        elif not used.get(id(suppression)):
            message = f"`{suppression.tool}` for {', '.join(suppression.rules)} silences nothing"
            kept.append(_finding(suppression, UNUSED, message + ": remove it", blocking=False))
    in_force = [
        replace(s, used=used.get(id(s), 0))
        for s in suppressions
        if s.security and problems[id(s)] is None
    ]
    return kept, in_force, silenced


def _finding(suppression: Suppression, rule: str, message: str, *, blocking: bool) -> Finding:
    return Finding(
        rule=rule,
        level="error" if blocking else "warning",
        path=suppression.path,
        line=suppression.line,
        message=message,
        blocking=blocking,
        # What it is, not where: a baselined reasonless suppression stays debt if moved.
        fingerprint=fingerprint.of(
            rule, suppression.tool, ",".join(suppression.rules), suppression.reason or ""
        ),
    )


# Where the suppressions that live in policy files are: in a pull request they
# are the base's (the policy), so never new.
IN_POLICY_FILES = (".gitleaksignore", "pyproject.toml")


def known_at_base(suppressions: list[Suppression]) -> list[Suppression] | None:
    """In pull-request mode, the suppressions the base already had, as far as a
    gate without a scan of the base can tell: those of the policy's own files;
    None outside pull-request mode."""
    if not policy.base_ref():
        return None
    return [s for s in suppressions if s.path in IN_POLICY_FILES]


def marked_new(
    suppressions: list[Suppression], base: list[Suppression] | None
) -> list[dict[str, object]]:
    """Each suppression in force as a record entry; with the base's, those the
    pull request adds are marked new."""
    if base is None:
        return [s.to_json() for s in suppressions]
    left: dict[tuple[str, tuple[str, ...], str], int] = {}
    for known in base:
        left[known.key()] = left.get(known.key(), 0) + 1
    entries = []
    for suppression in suppressions:
        known = left.get(suppression.key(), 0) > 0
        if known:
            left[suppression.key()] -= 1
        entries.append(suppression.to_json(new=not known))
    return entries
