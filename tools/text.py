"""Small text helpers for the one-line messages the pipeline prints."""

from __future__ import annotations


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def first_line(text: str) -> str:
    lines = _lines(text)
    return lines[0] if lines else "no detail"


def last_line(text: str) -> str:
    lines = _lines(text)
    return lines[-1] if lines else "no output"
