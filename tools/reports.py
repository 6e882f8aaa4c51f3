"""Where the pipeline's outputs live, relative to the repository checked.

Each gate's own report paths are declared by the gate (``tools/gates/<gate>.py``);
these are the ones every gate and the pipeline share.
"""

from __future__ import annotations

from pathlib import Path

REPORTS = Path("reports")
RECORDS = REPORTS / "gates"
PIPELINE_JSON = REPORTS / "pipeline.json"
SUMMARY_MD = REPORTS / "summary.md"
NOX_REPORT = REPORTS / "nox.json"


def record_path(gate: str) -> Path:
    return RECORDS / f"{gate}.json"
