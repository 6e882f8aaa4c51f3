"""Text the pipeline prints or writes, made safe for where it goes.

Every name, message and path that reaches an output may come from the
repository (a pull request's file name, branch name, test id or code quoted in
a rule's message): it is escaped for its destination, the console (control
characters, ANSI escapes, GitHub's ``::`` workflow commands) or Markdown (the
summary and GitHub's step summary), and any secret-shaped value in it is masked.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# C0 and C1 controls and DEL: line breaks, carriage returns, ANSI escapes.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a line must not start with on GitHub: `::error::...` is a workflow command.
WORKFLOW_COMMAND = re.compile(r"^(\s*)::")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
# Secret shapes, by their issuers' prefixes, and any long high-entropy token.
KNOWN_SECRETS = re.compile(
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20}"
    r"|sk_(?:live|test)_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35}"
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----"
)
TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{24,}")
# Random keys of 24+ characters sit above 4 bits per character (base62: about
# 4.5); long identifiers and words mostly sit below.
ENTROPY_FLOOR = 4.0
# snake_case and kebab-case names: words joined, none longer than a word.
IDENTIFIER = re.compile(r"[A-Za-z0-9]{1,14}(?:[_-][A-Za-z0-9]{1,14})+")
# A file path of lower-case words (requests/packages/oauthlib/oauth1/rfc5849):
# a random base64 key's segments are mixed-case (all lower-case for 1 % of
# 8-character segments, and every segment must be).
_WORDS = r"[a-z0-9]{1,14}(?:[_-][a-z0-9]{1,14})*"
PATH_LIKE = re.compile(rf"(?:{_WORDS}/)+{_WORDS}")
MASK = "***"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def first_line(text: str) -> str:
    lines = _lines(text)
    return lines[0] if lines else "no detail"


def last_line(text: str) -> str:
    lines = _lines(text)
    return lines[-1] if lines else "no output"


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _secret_shaped(token: str) -> bool:
    if IDENTIFIER.fullmatch(token) or PATH_LIKE.fullmatch(token):
        return False
    has_digit = any(char.isdigit() for char in token)
    has_letter = any(char.isalpha() for char in token)
    return has_digit and has_letter and entropy(token) >= ENTROPY_FLOOR


def mask_secrets(text: str) -> str:
    """``text`` with every secret-shaped value replaced by ``***``."""
    text = KNOWN_SECRETS.sub(MASK, text)
    return TOKEN.sub(lambda match: MASK if _secret_shaped(match[0]) else match[0], text)


def console(text: str) -> str:
    """One field of a console line: no control character (so no line break, no
    ANSI escape) and no secret-shaped value."""
    shown = CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", mask_secrets(str(text)))
    return shown


def console_line(line: str) -> str:
    """A whole line of a tool's output echoed by the pipeline: its controls
    escaped, and a leading ``::`` defused so GitHub runs no workflow command."""
    shown = CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", line.rstrip("\r\n"))
    return WORKFLOW_COMMAND.sub(r"\1: :", shown)


def markdown(text: object) -> str:
    """Inline Markdown that renders as the text itself: no heading, link, HTML
    tag, table cell break or code span an input could open."""
    flat = CONTROL.sub(" ", mask_secrets(str(text)))
    escaped = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", escaped)
