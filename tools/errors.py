"""The pipeline's one tree of errors.

Every error the pipeline expects carries a message of one line that says what
went wrong and what to do. The edges (a gate's ``main``, ``python -m
tools.pipeline``, ``python -m tools.notify``, ``python -m tools.locks``) catch
``PipelineError`` and print that line; anything else reaching an edge is an
internal error, reported in one line too, never as a traceback.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Something the pipeline cannot go on with; the message is one line."""


class GateError(PipelineError):
    """A gate could not produce a trustworthy verdict: its tool crashed, timed
    out, skipped input, wrote no report or could not reach its data."""


class SettingsError(PipelineError):
    """``[tool.pipeline]`` is there but cannot be used as written."""


class SarifError(GateError):
    """A tool's SARIF report is missing or unreadable."""


class PinError(PipelineError):
    """A manifest that is not a plain list of exact pins."""


class LockError(PipelineError):
    """A lock could not be generated or is out of date."""


class DatabaseError(PipelineError):
    """The advisory database is missing, empty or unreadable."""


class RecordError(PipelineError):
    """A gate or run record that is not what the pipeline writes."""


class GitError(PipelineError):
    """git could not answer: not a repository, a bad revision, a broken clone."""


class NotifyError(PipelineError):
    """The notification cannot be configured or its inputs cannot be read."""
