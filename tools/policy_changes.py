"""A pull request's changes to gate policy, itemised in plain words.

Each change says what it does ("semgrep-packs: p/default, p/python -> none",
"rule flask-debug-true: ERROR -> WARNING", "1 allowlist entry added to
.gitleaks.toml", "coverage threshold 95 -> 0") and whether it strictly
tightens the gates (a rule added, a threshold raised, an ignore removed).
Anything else (a rule removed or rewritten, an exclusion or an allowlist
added, the pipeline's own code changed) weakens them or may: those are the
policy gate's blocking findings, for code owners to review.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tools import baseline, release, settings
from tools.gates import lint, test
from tools.policy import Change, read_toml

SEVERITY_ORDER = {"INFO": 0, "WARNING": 1, "ERROR": 2}
# Pipeline code: a change to any of these is a change to what judges a change.
CODE = ("noxfile.py", "tools/", "locks/", ".github/workflows/")


def _files(root: Path, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    if base.is_file():
        return {prefix: base.read_bytes()}
    if not base.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _listing(values: Iterable[object]) -> str:
    shown = ", ".join(str(value) for value in values)
    return shown or "none"


def compare(base: Path, head: Path) -> list[Change]:
    """Every policy change from ``base``'s tree to ``head``'s."""
    changes = [
        *_settings(base, head),
        *_semgrep_rules(base, head),
        *_lines_file(base, head, ".semgrepignore", "exclusion", added_tightens=False),
        *_gitleaks(base, head),
        *_lines_file(base, head, ".gitleaksignore", "fingerprint", added_tightens=False),
        *_ruff(base, head),
        *_changed_file(base, head, ".github/zizmor.yml", "zizmor configuration"),
        *_lines_file(base, head, ".github/CODEOWNERS", "code-owner line", added_tightens=True),
        *_baseline(base, head),
        *_pipeline_code(base, head),
    ]
    return changes


# -- [tool.pipeline] -----------------------------------------------------------------


def _pipeline_table(root: Path) -> dict[str, Any]:
    return read_toml(root / "pyproject.toml").get("tool", {}).get("pipeline", {}) or {}


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in {"ignore", "exclude", "accept"}:
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# What an absent setting means: a change is measured from the value in force.
DEFAULTS: dict[str, Any] = {
    "semgrep-packs": list(settings.DEFAULT_PACKS),
    "lint.test-ignore": list(lint.DEFAULT_TEST_IGNORE),
    "test.fail-under": test.DEFAULT_FAIL_UNDER,
}
# Settings where more entries let more through (an exclusion, an accepted skip,
# an ignored rule), and those where more entries catch more (a registry pack).
MORE_LETS_THROUGH = ("exclude", "accept", "ignore", "test-ignore")
MORE_CATCHES = ("semgrep-packs",)


def _entries(value: object) -> set[str]:
    """A list setting's items, or a table setting's keys, as text."""
    if isinstance(value, dict):
        return {str(key) for key in value}
    if isinstance(value, list):
        return {item if isinstance(item, str) else json.dumps(item) for item in value}
    return set() if value is None else {json.dumps(value)}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _settings(base: Path, head: Path) -> list[Change]:
    before = {**DEFAULTS, **_flat(_pipeline_table(base))}
    after = {**DEFAULTS, **_flat(_pipeline_table(head))}
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(old or new, list | dict) and (leaf in MORE_LETS_THROUGH + MORE_CATCHES):
            was, now = _entries(old), _entries(new)
            fewer = leaf in MORE_CATCHES
            tightens = (now <= was) if not fewer else (now >= was)
            what = f"{key}: {_listing(sorted(was))} -> {_listing(sorted(now))}"
        elif leaf == "fail-under" and all(_number(value) for value in (old, new)):
            tightens = new >= old
            what = f"coverage threshold {old:g} -> {new:g}"
        else:
            tightens = False
            what = f"{key}: {json.dumps(old)} -> {json.dumps(new)}"
        changes.append(Change("pyproject.toml [tool.pipeline]", what, tightens))
    return changes


# -- Semgrep's rules --------------------------------------------------------------------


def _rules(root: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    rules = {}
    for path in sorted((root / ".semgrep").glob("*.y*ml")) if (root / ".semgrep").is_dir() else []:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            document = {"rules": [{"id": f"{path.name}: not YAML", "severity": "ERROR"}]}
        for rule in document.get("rules") or []:
            if isinstance(rule, dict) and "id" in rule:
                rules[str(rule["id"])] = (path.relative_to(root).as_posix(), rule)
    return rules


def _semgrep_rules(base: Path, head: Path) -> list[Change]:
    before, after = _rules(base), _rules(head)
    changes = []
    for rule_id in sorted(set(before) | set(after)):
        if rule_id not in after:
            changes.append(Change(before[rule_id][0], f"rule {rule_id} removed", False))
            continue
        where, new = after[rule_id]
        if rule_id not in before:
            changes.append(Change(where, f"rule {rule_id} added", True))
            continue
        old = before[rule_id][1]
        if old == new:
            continue
        old_level, new_level = str(old.get("severity")), str(new.get("severity"))
        if old_level != new_level:
            lower = SEVERITY_ORDER.get(new_level, -1) < SEVERITY_ORDER.get(old_level, -1)
            changes.append(Change(where, f"rule {rule_id}: {old_level} -> {new_level}", not lower))
        rest = {k: v for k, v in new.items() if k != "severity"}
        if rest != {k: v for k, v in old.items() if k != "severity"}:
            changes.append(Change(where, f"rule {rule_id} rewritten", False))
    fixtures_before = _files(base, ".semgrep/tests/")
    fixtures_after = _files(head, ".semgrep/tests/")
    if fixtures_before != fixtures_after:
        names = set(fixtures_before) | set(fixtures_after)
        count = sum(fixtures_before.get(name) != fixtures_after.get(name) for name in names)
        # Tests of rules decide nothing by themselves: the rules do, above.
        changes.append(Change(".semgrep/tests/", f"rule tests changed ({count} file(s))", True))
    return changes


# -- gitleaks -----------------------------------------------------------------------------


def _gitleaks(base: Path, head: Path) -> list[Change]:
    before, after = read_toml(base / ".gitleaks.toml"), read_toml(head / ".gitleaks.toml")
    if before == after:
        return []
    where = ".gitleaks.toml"
    changes = []
    use_before = (before.get("extend") or {}).get("useDefault")
    use_after = (after.get("extend") or {}).get("useDefault")
    if use_before != use_after:
        changes.append(Change(where, f"gitleaks' default rules: {use_before} -> {use_after}",
                              bool(use_after)))  # fmt: skip
    disabled_before = set((before.get("extend") or {}).get("disabledRules") or [])
    disabled_after = set((after.get("extend") or {}).get("disabledRules") or [])
    if added := disabled_after - disabled_before:
        changes.append(Change(where, f"default rule(s) disabled: {_listing(sorted(added))}", False))
    rules_before = {r.get("id"): r for r in before.get("rules") or [] if isinstance(r, dict)}
    rules_after = {r.get("id"): r for r in after.get("rules") or [] if isinstance(r, dict)}
    for rule_id in sorted(set(rules_before) | set(rules_after), key=str):
        if rule_id not in rules_after:
            changes.append(Change(where, f"rule {rule_id} removed", False))
        elif rule_id not in rules_before:
            changes.append(Change(where, f"rule {rule_id} added", True))
        elif rules_before[rule_id] != rules_after[rule_id]:
            changes.append(Change(where, f"rule {rule_id} rewritten", False))
    entries_before, entries_after = _allowlist_entries(before), _allowlist_entries(after)
    if added := len(entries_after - entries_before):
        changes.append(Change(where, f"{added} allowlist entry(ies) added to {where}", False))
    if removed := len(entries_before - entries_after):
        changes.append(Change(where, f"{removed} allowlist entry(ies) removed from {where}", True))
    return changes


def _allowlist_entries(config: dict[str, Any]) -> set[str]:
    """Every path, regex, stopword and commit any allowlist holds, global or a rule's."""
    lists = [*(config.get("allowlists") or []), config.get("allowlist") or {}]
    for rule in config.get("rules") or []:
        if isinstance(rule, dict):
            lists += [*(rule.get("allowlists") or []), rule.get("allowlist") or {}]
    entries = set()
    for allow in lists:
        if not isinstance(allow, dict):
            continue
        for key in ("paths", "regexes", "stopwords", "commits"):
            entries |= {f"{key}:{value}" for value in allow.get(key) or []}
    return entries


# -- ruff ------------------------------------------------------------------------------------


def _ruff_config(root: Path) -> dict[str, Any]:
    for name in (".ruff.toml", "ruff.toml"):
        if (root / name).is_file():
            return read_toml(root / name)
    return read_toml(root / "pyproject.toml").get("tool", {}).get("ruff", {}) or {}


# What ruff selects when a configuration names nothing.
RUFF_DEFAULT_SELECT = ("E4", "E7", "E9", "F")


def _ruff(base: Path, head: Path) -> list[Change]:
    before, after = _ruff_config(base), _ruff_config(head)
    if before == after:
        return []
    lint_before, lint_after = before.get("lint", {}) or {}, after.get("lint", {}) or {}
    changes = []

    def codes(table: dict[str, Any], *keys: str) -> set[str]:
        return {code for key in keys for code in table.get(key) or []}

    def selected(config: dict[str, Any], table: dict[str, Any]) -> set[str]:
        chosen = table.get("select", config.get("select", RUFF_DEFAULT_SELECT))
        extra = table.get("extend-select", config.get("extend-select"))
        return {str(code) for code in [*(chosen or []), *(extra or [])]}

    selected_before, selected_after = selected(before, lint_before), selected(after, lint_after)
    if dropped := selected_before - selected_after:
        changes.append(Change("ruff", f"rules unselected: {_listing(sorted(dropped))}", False))
    if picked := selected_after - selected_before:
        changes.append(Change("ruff", f"rules selected: {_listing(sorted(picked))}", True))
    ignored_before = codes(lint_before, "ignore", "extend-ignore")
    ignored_after = codes(lint_after, "ignore", "extend-ignore")
    if more := ignored_after - ignored_before:
        changes.append(Change("ruff", f"rules ignored: {_listing(sorted(more))}", False))
    per_before = lint_before.get("per-file-ignores") or {}
    per_after = lint_after.get("per-file-ignores") or {}
    if per_before != per_after:
        changes.append(Change("ruff", "per-file ignores changed", False))
    others = {k: v for k, v in after.items() if k != "lint"}
    if others != {k: v for k, v in before.items() if k != "lint"}:
        changes.append(Change("ruff", "ruff settings changed", False))
    return changes


# -- lists of lines, single files, the baseline --------------------------------------------


def _lines(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        return set()
    return {
        line.strip()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip() and not line.strip().startswith("#")
    }


def _lines_file(
    base: Path, head: Path, name: str, noun: str, *, added_tightens: bool
) -> list[Change]:
    before, after = _lines(base, name), _lines(head, name)
    changes = []
    if added := len(after - before):
        changes.append(Change(name, f"{added} {noun}(s) added to {name}", added_tightens))
    if removed := len(before - after):
        changes.append(Change(name, f"{removed} {noun}(s) removed from {name}", not added_tightens))
    return changes


def _changed_file(base: Path, head: Path, name: str, what: str) -> list[Change]:
    before, after = _files(base, name), _files(head, name)
    if before == after:
        return []
    state = "added" if not before else "removed" if not after else "changed"
    return [Change(name, f"{what} {state}", state == "removed")]


def _baseline(base: Path, head: Path) -> list[Change]:
    def entries(root: Path) -> Counter[tuple[str, str, str]]:
        try:
            gates = baseline.load(root)
        except baseline.BaselineError:
            return Counter({("?", "?", "unreadable"): 1})
        return Counter(
            {(gate, e.rule, e.fingerprint): e.count for gate, found in gates.items() for e in found}
        )

    before, after = entries(base), entries(head)
    where = baseline.BASELINE
    changes = []
    if added := sum((after - before).values()):
        changes.append(Change(where, f"{added} finding(s) added to the baseline", False))
    if removed := sum((before - after).values()):
        changes.append(Change(where, f"{removed} finding(s) removed from the baseline", True))
    return changes


# -- the pipeline's own code -------------------------------------------------------------------


def _code(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for prefix in CODE:
        files.update(_files(root, prefix))
    return files


def _pipeline_code(base: Path, head: Path) -> list[Change]:
    before, after = _code(base), _code(head)
    names = set(before) | set(after)
    changed = sorted(name for name in names if before.get(name) != after.get(name))
    if not changed:
        return []
    changes = []
    old, new = release.read(base), release.as_released(head)
    if old and new and old.version != new.version:
        # An upgrade as released: one change, the files it ships need no listing.
        changes.append(Change("tools/", f"pipeline {old.version} -> {new.version} (as released)",
                              tightens=False))  # fmt: skip
        changed = [name for name in changed if name not in new.files and name != release.MANIFEST]
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        shown = ", ".join(changed[:5]) + more
        changes.append(Change("tools/", f"the pipeline's own files changed: {shown}", False))
    return changes
