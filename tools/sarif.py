"""Reading and tidying SARIF 2.1.0 reports written by the gates' tools."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from tools import fingerprint, reports
from tools.errors import SarifError
from tools.text import mask_secrets
from tools.verdict import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def load(path: Path, *, tool: str) -> dict:
    """Read a SARIF log; a missing or unreadable one is a gate error, never a pass."""
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SarifError(f"{tool} wrote no SARIF report at {path}") from None
    except (OSError, ValueError) as error:
        raise SarifError(f"{tool}'s SARIF report {path} is unreadable: {error}") from None
    if not isinstance(log, dict) or not isinstance(log.get("runs"), list):
        raise SarifError(f"{tool}'s SARIF report {path} has no runs")
    return log


def relative_uri(uri: str, root: Path, scanned: Path | None = None) -> str:
    """GitHub resolves SARIF locations against the checkout: make them relative.
    Some tools name files relative to the folder they were given (zizmor on
    `.github` says `workflows/ci.yml`): pass that folder, relative to ``root``,
    as ``scanned``."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return uri
    path = Path(unquote(parsed.path))
    if not path.is_absolute():
        if scanned is not None and path.parts[: len(scanned.parts)] != scanned.parts:
            path = scanned / path
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def relativize(log: dict, root: Path, scanned: Path | None = None) -> dict:
    """Every location of ``log`` relative to ``root``; see ``relative_uri``."""
    for run in log["runs"]:
        for result in run.get("results") or []:
            for location in result.get("locations") or []:
                artifact = location.get("physicalLocation", {}).get("artifactLocation", {})
                if "uri" in artifact:
                    artifact["uri"] = relative_uri(artifact["uri"], root, scanned)
                    artifact.pop("uriBaseId", None)
        for artifact in run.get("artifacts") or []:
            location = artifact.get("location", {})
            if "uri" in location:
                location["uri"] = relative_uri(location["uri"], root, scanned)
        run.pop("originalUriBaseIds", None)
    return log


def drop_snippets(log: dict) -> dict:
    """Remove the matched text SARIF carries beside each location: it may be a
    secret (redacted or not) or code a reader does not need in a report."""
    for run in log["runs"]:
        for result in run.get("results") or []:
            for location in result.get("locations") or []:
                location.get("physicalLocation", {}).get("region", {}).pop("snippet", None)
    return log


def first_location(result: dict) -> tuple[str, int | None]:
    """A result's file (as its URI) and start line."""
    physical = (result.get("locations") or [{}])[0].get("physicalLocation", {})
    uri = physical.get("artifactLocation", {}).get("uri", "?")
    return uri, physical.get("region", {}).get("startLine")


def empty(tool: str) -> dict:
    """A log of one run of ``tool`` that found nothing."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": {"name": tool, "rules": []}}, "results": []}],
    }


def merge(logs: list[dict], *, tool: str) -> dict:
    """Several runs of one tool (over different files, with different
    configurations) as one run: one category for code scanning, rules once each."""
    merged = empty(tool)
    run = merged["runs"][0]
    for log in logs:
        for part in log["runs"]:
            driver = part.get("tool", {}).get("driver", {})
            run["tool"]["driver"].setdefault("version", driver.get("version"))
            run["tool"]["driver"].setdefault("informationUri", driver.get("informationUri"))
            known = {rule["id"] for rule in _rules(run)}
            for rule in _rules(part):
                if rule["id"] not in known:
                    run["tool"]["driver"]["rules"].append(rule)
            run["results"] += part.get("results") or []
    # ruleIndex points into each part's own rule list: drop it, ruleId names the rule.
    for result in run["results"]:
        result.pop("ruleIndex", None)
        result.get("rule", {}).pop("index", None)
    return merged


def rename_rules(log: dict, rename: Callable[[str], str]) -> dict:
    """Every rule id of ``log`` (results and rule descriptions) through ``rename``."""
    for run in log["runs"]:
        for rule in _rules(run):
            rule["id"] = rename(str(rule["id"]))
        for result in run.get("results") or []:
            if "ruleId" in result:
                result["ruleId"] = rename(str(result["ruleId"]))
            if isinstance(result.get("rule"), dict) and "id" in result["rule"]:
                result["rule"]["id"] = rename(str(result["rule"]["id"]))
    return log


def mark_suppressed(path: Path, silenced: list[tuple[Finding, object]]) -> None:
    """Each result a suppression silenced, kept and marked as GitHub reads it:
    ``suppressions`` with the reason (the gate applied the tool's comments itself)."""
    if not silenced or not path.exists():
        return
    reasons: dict[tuple[str, str, int | None], str] = {}
    for finding, suppression in silenced:
        why = getattr(suppression, "reason", None) or getattr(suppression, "tool", "suppressed")
        reasons[(finding.rule, finding.path, finding.line)] = str(why)
    log = load(path, tool=path.stem)
    for run in log["runs"]:
        for result in run.get("results") or []:
            uri, line = first_location(result)
            why = reasons.get((str(result.get("ruleId")), uri, line))
            if why is not None:
                result["suppressions"] = [{"kind": "inSource", "justification": why}]
    write(log, path)


def mask_messages(log: dict) -> dict:
    """Every result's and notification's text with secret-shaped values masked:
    a tool's message may quote the code it matched (ruff's F601 quotes a dict key)."""
    for run in log["runs"]:
        for result in run.get("results") or []:
            message = result.get("message")
            if isinstance(message, dict) and isinstance(message.get("text"), str):
                message["text"] = mask_secrets(message["text"])
        for invocation in run.get("invocations") or []:
            for note in invocation.get("toolExecutionNotifications") or []:
                message = note.get("message")
                if isinstance(message, dict) and isinstance(message.get("text"), str):
                    message["text"] = mask_secrets(message["text"])
    return log


def write(log: dict, path: Path) -> None:
    """Write a SARIF report: never through a link, never with a secret in a message."""
    reports.write_text(path, json.dumps(mask_messages(log), indent=2) + "\n")


def rule_levels(run: dict) -> dict[str, str]:
    """Each rule's default level, for results that do not carry their own."""
    return {
        rule["id"]: rule.get("defaultConfiguration", {}).get("level", "warning")
        for rule in _rules(run)
    }


def rule_texts(run: dict) -> dict[str, str]:
    """Each rule's own description: the same text for every result of the rule."""
    texts = {}
    for rule in _rules(run):
        description = rule.get("fullDescription") or rule.get("shortDescription") or {}
        texts[rule["id"]] = description.get("text") or rule["id"]
    return texts


def _rules(run: dict) -> list[dict]:
    rules = run.get("tool", {}).get("driver", {}).get("rules") or []
    return [rule for rule in rules if isinstance(rule, dict) and "id" in rule]


def findings(
    log: dict,
    *,
    blocking: Callable[[str], bool],
    rule_messages: bool = False,
    root: Path | None = None,
) -> list[Finding]:
    """Every result as a Finding; ``blocking(level)`` decides which fail the gate.

    With ``rule_messages`` a finding carries its rule's description instead of
    the result's message, which some tools fill with the code they matched:
    findings travel into records, summaries and notifications. Each carries its
    fingerprint, read from the code under ``root`` (the working directory)."""
    found: list[Finding] = []
    for run in log["runs"]:
        levels, texts = rule_levels(run), rule_texts(run)
        for result in run.get("results") or []:
            rule = result.get("ruleId", "unknown")
            level = result.get("level") or levels.get(rule, "warning")
            path, line = first_location(result)
            text = (
                texts.get(rule, rule)
                if rule_messages
                else result.get("message", {}).get("text", "")
            )
            found.append(
                Finding(
                    rule=rule,
                    level=level,
                    path=path,
                    line=line,
                    message=text.splitlines()[0] if text else "",
                    blocking=blocking(level),
                    fingerprint=(result.get("partialFingerprints") or {}).get(fingerprint.VERSION)
                    or fingerprint.of_sarif_result(result, root or Path.cwd()),
                )
            )
    return found
