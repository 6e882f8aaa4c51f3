"""The run record for people: a console table and a Markdown summary."""

from __future__ import annotations

from tools.verdict import GateRecord, PipelineRecord, Status


def findings_text(gate: GateRecord) -> str:
    counts = [f"{count} {level}" for level, count in sorted(gate.findings.items()) if count]
    return ", ".join(counts) or "-"


def duration_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _rows(run: PipelineRecord) -> list[list[str]]:
    return [
        [
            gate.gate,
            gate.status,
            duration_text(gate.duration_s),
            findings_text(gate),
            ", ".join(gate.reports) or "-",
        ]
        for gate in run.gates
    ]


HEADER = ["gate", "status", "duration", "findings", "reports"]


def console_table(run: PipelineRecord, log_tails: dict[str, str]) -> str:
    rows = [HEADER, *_rows(run)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for gate in run.gates:
        if gate.status == Status.PASSED:
            continue
        lines.append(f"\n{gate.gate} {gate.status}: {gate.reason}")
        tail = log_tails.get(gate.gate, "").rstrip() if gate.status == Status.FAILED else ""
        if tail:
            lines.extend(f"  | {line}" for line in tail.splitlines())
    if run.reason:
        lines.append(f"\npipeline {run.status}: {run.reason}")
    lines.append(f"\npipeline {run.status} in {run.duration_s:.1f}s")
    return "\n".join(lines)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(run: PipelineRecord) -> str:
    lines = [
        f"## Pipeline {run.status}",
        "",
        f"`{run.repository}` at `{(run.commit or 'no commit')[:12]}` on `{run.branch or '-'}`,"
        f" {run.duration_s:.1f}s",
        *(["", _cell(run.reason)] if run.reason else []),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in _rows(run)]
    for gate in run.gates:
        if gate.status == Status.PASSED:
            continue
        lines += ["", f"### {gate.gate}: {gate.status}", "", _cell(gate.reason)]
        if gate.blocking:
            lines.append("")
            for finding in gate.blocking:
                lines.append(
                    f"- `{_cell(finding.rule)}` {_cell(finding.location())}: "
                    f"{_cell(finding.message)}"
                )
    return "\n".join(lines) + "\n"
