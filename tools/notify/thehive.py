"""The run's outcome as a TheHive alert, for a team without Shuffle in between.

``POST <THEHIVE_URL>/api/v1/alert`` with ``Authorization: Bearer <THEHIVE_API_KEY>``
(and ``X-Organisation`` when THEHIVE_ORGANISATION is set). TheHive keeps one
alert per ``type``, ``source`` and ``sourceRef`` in an organisation; the
``sourceRef`` is the payload's ``dedupe_key``, so every delivery of one run,
retries and re-sends alike, lands on one alert.

A second alert with the same ``sourceRef`` is refused. TheHive 4 (open source,
the code TheHive 5 grew from) answers HTTP 400 with
``{"type": "CreateError", "message": "Alert <type>:<source>:<sourceRef> already
exist in organisation <org>"}`` (AlertSrv.create; Scalligraph's ErrorHandler
maps CreateError to 400); TheHive 3 answered 400 ``ConflictError`` "document
already exists". Either answer means the alert is there: delivered.

The description is Markdown, and every string in it that comes from the
repository (its name, the ref, gate names, rule ids, the actor) is escaped, so
a branch named ``[click](https://evil)`` shows as text, not as a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

from tools.notify import THEHIVE_URL_ENV, schemes
from tools.notify.payload import Payload, blocking_rules
from tools.notify.target import BadConfig, Target, parse

URL_ENV = THEHIVE_URL_ENV
API_KEY_ENV = "THEHIVE_API_KEY"
ORGANISATION_ENV = "THEHIVE_ORGANISATION"
ALERT_PATH = "/api/v1/alert"
# One (type, source) for every alert notify raises: with sourceRef, TheHive's key.
ALERT_TYPE = "ci-pipeline"
ALERT_SOURCE = "pipeline-notify"
# TLP:AMBER and PAP:AMBER, TheHive's own defaults: internal CI data, shared on a
# need-to-know basis, not to be acted on in the open.
TLP = 2
PAP = 2
# The refusals that mean "this alert already exists" (see the module docstring).
DUPLICATE_STATUSES = frozenset({400, 409})
DUPLICATE_TYPES = frozenset({"CreateError", "ConflictError"})
REFUSED_HINT = f"check {API_KEY_ENV} and {ORGANISATION_ENV}"

# Every ASCII punctuation character: CommonMark lets each be backslash-escaped,
# and only they (with line breaks) make Markdown syntax.
MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Characters a link destination may keep; quote() percent-encodes the others.
URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True)
class Config:
    target: Target  # the alert endpoint
    api_key: str = field(repr=False)
    organisation: str | None = None


def configured(env: Mapping[str, str]) -> bool:
    return bool(env.get(URL_ENV, "").strip())


def _header_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name) or None
    if value is not None and not schemes.HEADER_VALUE.fullmatch(value):
        raise BadConfig(
            f"{name} must be printable ASCII without leading or trailing spaces (value not shown)"
        )
    return value


def from_environment(env: Mapping[str, str]) -> Config | None:
    """TheHive's configuration, None when THEHIVE_URL is unset; BadConfig when
    a variable is set but unusable."""
    if not configured(env):
        return None
    base = parse(env[URL_ENV], URL_ENV)
    parts = urlsplit(base.url)
    if parts.query or parts.fragment:
        raise BadConfig(f"{URL_ENV} must be TheHive's base URL, without a query or fragment")
    # Unlike a webhook's token, the API key opens TheHive itself: never in clear.
    if base.plaintext_remote:
        raise BadConfig(
            f"{URL_ENV} is plain http to {base.host}: the API key would travel "
            "unencrypted, use https"
        )
    api_key = _header_value(env, API_KEY_ENV)
    if api_key is None:
        raise BadConfig(f"{URL_ENV} is set but {API_KEY_ENV} is not")
    organisation = _header_value(env, ORGANISATION_ENV)
    endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + ALERT_PATH, "", ""))
    return Config(Target(url=endpoint, host=base.host, scheme=base.scheme), api_key, organisation)


def headers(config: Config) -> dict[str, str]:
    out = {"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"}
    if config.organisation:
        out["X-Organisation"] = config.organisation
    return out


def escape(text: str) -> str:
    """``text`` as literal Markdown text: line breaks and controls become
    spaces, every ASCII punctuation character is backslash-escaped."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", LINE_BREAKING.sub(" ", text))


def _link(url: str | None) -> str:
    if not url or urlsplit(url).scheme.lower() not in {"http", "https"}:
        return "none (a local run)"
    # Inside <...> a destination may hold anything but <, > and line breaks,
    # all of which quote() encodes.
    return f"[the pipeline run](<{quote(url, safe=URL_SAFE)}>)"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _gate_rows(document: Payload) -> list[str]:
    rows = [
        _row("Gate", "Status", "Errors", "Warnings", "Notes", "Blocking rules"),
        _row(*["---"] * 6),
    ]
    for gate in document.gates:
        shown, omitted = blocking_rules(gate)
        rules = ", ".join(escape(rule) for rule in shown) or "none"
        if omitted:
            rules += f" and {omitted} more"
        counts = [str(gate.findings.get(level, 0)) for level in ("error", "warning", "note")]
        rows.append(_row(escape(gate.gate), escape(gate.status), *counts, rules))
    return rows


def description(document: Payload) -> str:
    """The alert's Markdown description: the run's facts, then its gates."""
    shown = {
        "Status": escape(document.status),
        "Severity": f"{escape(document.severity_label)} ({document.severity})",
        "Repository": escape(document.repository or "unknown"),
        "Commit": escape(document.commit or "unknown"),
        "Ref": escape(document.ref or "unknown"),
        "Actor": escape(document.actor or "unknown"),
        "Run": _link(document.run_url),
        "Duration": f"{document.duration_s:g} s" if document.duration_s is not None else "unknown",
        "Outcome read from": escape(document.source),
        "Event id": escape(document.event_id),
    }
    if document.input_error:
        shown["Unreadable input"] = escape(document.input_error)
    lines = [
        f"**Pipeline {escape(document.status)}** in {escape(document.repository or 'unknown')}",
        "",
        _row("Field", "Value"),
        _row("---", "---"),
        *(_row(name, value) for name, value in shown.items()),
        "",
        "#### Gates",
        "",
    ]
    if document.gates:
        lines += _gate_rows(document)
    else:
        lines.append("No gate results were reported.")
    if document.gates_omitted:
        lines += ["", f"{document.gates_omitted} more gate(s) not listed."]
    return "\n".join(lines) + "\n"


def _tags(document: Payload) -> list[str]:
    failed = [f"failed-gate:{gate.gate}" for gate in document.gates if gate.status == "failed"]
    return [
        ALERT_TYPE,
        f"status:{document.status}",
        f"severity:{document.severity_label}",
        *failed,
    ]


def _observables(document: Payload) -> list[dict[str, object]]:
    candidates = [
        ("other", document.repository, "repository"),
        ("other", document.commit, "commit"),
        ("url", document.run_url, "pipeline run"),
    ]
    found: dict[tuple[str, str], dict[str, object]] = {}
    for data_type, data, what in candidates:
        # TheHive refuses an alert holding the same observable twice.
        if data and (data_type, data) not in found:
            found[data_type, data] = {
                "dataType": data_type,
                "data": data,
                "message": what,
                "tags": [what.replace(" ", "-")],
            }
    return list(found.values())


def _epoch_ms(timestamp: str) -> int:
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        when = datetime.now(UTC)
    return int(when.timestamp() * 1000)


def alert(document: Payload) -> dict[str, object]:
    """TheHive 5's InputAlert for the run."""
    fields: dict[str, object] = {
        "type": ALERT_TYPE,
        "source": ALERT_SOURCE,
        "sourceRef": document.dedupe_key,
        "title": document.title,
        "description": description(document),
        "severity": document.severity,
        "date": _epoch_ms(document.timestamp),
        "tags": _tags(document),
        "tlp": TLP,
        "pap": PAP,
        "observables": _observables(document),
    }
    if document.run_url and urlsplit(document.run_url).scheme.lower() in {"http", "https"}:
        fields["externalLink"] = document.run_url
    return fields


def body(document: Payload) -> bytes:
    return json.dumps(alert(document), ensure_ascii=False, separators=(",", ":")).encode()


def already_exists(code: int, answer: bytes) -> str | None:
    """Why TheHive's refusal means the alert is already there, or None."""
    if code not in DUPLICATE_STATUSES:
        return None
    try:
        error = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    kind, message = error.get("type"), error.get("message")
    # "Observable already exists" is a CreateError too, and means the alert was not created.
    if (
        kind in DUPLICATE_TYPES
        and isinstance(message, str)
        and "already exist" in message
        and "alert" in message.lower()
    ):
        return f"{kind}: TheHive already has this run's alert, so none was added"
    return None
