"""Validation of task payloads: every rejection carries a message for the client."""

from __future__ import annotations

from dataclasses import dataclass

MAX_TITLE_LENGTH = 200
ALLOWED_FIELDS = frozenset({"title", "done"})


class InvalidTask(ValueError):
    """The payload is not a valid task; the message says why."""


@dataclass(frozen=True)
class NewTask:
    title: str
    done: bool


def parse_new_task(payload: object) -> NewTask:
    if not isinstance(payload, dict):
        raise InvalidTask("body must be a JSON object")
    unknown = sorted(set(payload) - ALLOWED_FIELDS)
    if unknown:
        # Rejecting unknown fields catches client typos ("titel") instead of
        # silently dropping data.
        raise InvalidTask(f"unknown field(s): {', '.join(unknown)}")
    if "title" not in payload:
        raise InvalidTask("field 'title' is required")
    title = payload["title"]
    if not isinstance(title, str):
        raise InvalidTask("field 'title' must be a string")
    title = title.strip()
    if not title:
        raise InvalidTask("field 'title' must not be empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidTask(f"field 'title' must be at most {MAX_TITLE_LENGTH} characters")
    done = payload.get("done", False)
    # bool is checked exactly: JSON 0/1 are numbers, not booleans.
    if type(done) is not bool:
        raise InvalidTask("field 'done' must be a boolean")
    return NewTask(title=title, done=done)
