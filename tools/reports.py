"""Where the pipeline's outputs live, and how they are written safely.

Each gate's own report paths are declared by the gate (``tools/gates/<gate>.py``);
these are the ones every gate and the pipeline share.

Everything under ``reports/`` may have been planted by a pull request: a
committed ``reports/pipeline.json`` claiming a pass, a ``reports`` link to a
folder outside the checkout, ``reports/pipeline.json -> /dev/zero``. So the
folder is checked before use (a tracked one is refused; a link, or a file in its
place, is replaced, never followed), a pipeline run starts from an empty one,
and every file is written without following a link.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from tools import git
from tools.errors import PipelineError

REPORTS = Path("reports")
RECORDS = REPORTS / "gates"
PIPELINE_JSON = REPORTS / "pipeline.json"
SUMMARY_MD = REPORTS / "summary.md"
NOX_REPORT = REPORTS / "nox.json"


class ReportsError(PipelineError):
    """reports/ cannot be used: it is part of the repository."""


def record_path(gate: str) -> Path:
    return RECORDS / f"{gate}.json"


def tracked_reports(root: Path = Path()) -> list[str]:
    if git.answer("rev-parse", "--is-inside-work-tree", cwd=root) != "true":
        return []
    return git.paths("ls-files", "-z", "--", REPORTS.as_posix(), cwd=root)


def _replace_with_folder(path: Path) -> None:
    """A link or a file where a folder must be: removed, the link never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(exist_ok=True)


def prepare(*, fresh: bool) -> None:
    """Make ``reports/`` a real folder of this checkout's, that the repository does
    not hold. ``fresh`` empties it first: a pipeline run trusts nothing in it."""
    if tracked := tracked_reports():
        raise ReportsError(
            f"{REPORTS}/ is committed ({tracked[0]}, ...): reports are outputs, never inputs; "
            f"remove them from the repository (git rm -r --cached {REPORTS})"
        )
    if fresh and REPORTS.is_dir() and not REPORTS.is_symlink():
        shutil.rmtree(REPORTS)
    _replace_with_folder(REPORTS)
    _replace_with_folder(RECORDS)


def write_text(path: Path, text: str) -> None:
    """Write ``path`` (under a prepared reports/), replacing a link rather than
    writing through it."""
    if path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_bounded(path: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file, never through a link: a
    planted ``/dev/zero`` or a link to a secret stays unread."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read(limit + 1)
