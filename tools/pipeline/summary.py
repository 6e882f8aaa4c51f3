"""The run record for people: a console table and a Markdown summary.

Every value in them may come from the repository (a branch name, a file name,
a test id, a rule's message): each is escaped for where it goes
(``tools.text``), so that no input can open a heading, a link, an HTML tag or a
table cell in the summary, nor a line or a workflow command on the console.
"""

from __future__ import annotations

from tools import gates
from tools.text import console, console_line
from tools.text import markdown as md
from tools.verdict import GateRecord, PipelineRecord, Status

# Mermaid's flowchart colours per verdict: GitHub renders the block in the summary.
STATUS_STYLE = {
    Status.PASSED: "fill:#d3f5d9,stroke:#1a7f37,color:#0b3d1a",
    Status.FAILED: "fill:#ffd8d8,stroke:#cf222e,color:#5c0a0f",
    Status.SKIPPED: "fill:#eaeef2,stroke:#6e7781,color:#24292f",
    Status.CANCELLED: "fill:#fff1c2,stroke:#9a6700,color:#3b2800",
}
# What a Mermaid label may hold as it is; everything else becomes an entity
# code (#35; for "#"): no quote can end the label, no bracket, backtick,
# pipe or HTML tag can start Mermaid or Markdown syntax.
LABEL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:/()+-")
HEADER = ["gate", "status", "duration", "findings", "new / existing / fixed", "covered", "reports"]


def findings_text(gate: GateRecord) -> str:
    counts = [f"{count} {level}" for level, count in sorted(gate.findings.items()) if count]
    return ", ".join(counts) or "-"


def duration_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def covered_text(gate: GateRecord) -> str:
    """What the gate's ledger says it covered: "64 of 92 files", or in
    pull-request mode "3 of 3 changed of 92 files"."""
    ledger = gate.coverage or {}
    if not ledger:
        return "-"
    changed = f" of {ledger['changed']} changed" if "changed" in ledger else ""
    return (
        f"{ledger.get('scanned', 0)}{changed} of {ledger.get('total', 0)} {ledger.get('unit', '')}"
    )


def debt_text(gate: GateRecord) -> str:
    """A gate that holds the line: its new, existing and fixed findings."""
    debt = gate.debt
    return f"{debt['new']} / {debt['existing']} / {debt['fixed']}" if debt else "-"


def _rows(run: PipelineRecord) -> list[list[str]]:
    return [
        [
            gate.gate,
            gate.status,
            duration_text(gate.duration_s),
            findings_text(gate),
            debt_text(gate),
            covered_text(gate),
            ", ".join(gate.reports) or "-",
        ]
        for gate in run.gates
    ]


def console_table(run: PipelineRecord, log_tails: dict[str, str]) -> str:
    rows = [HEADER, *[[console(cell) for cell in row] for row in _rows(run)]]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for gate in run.gates:
        if gate.status == Status.PASSED:
            continue
        lines.append(f"\n{console(gate.gate)} {gate.status}: {console(gate.reason or '')}")
        tail = log_tails.get(gate.gate, "").rstrip() if gate.status == Status.FAILED else ""
        if tail:
            lines.extend(f"  | {console_line(line)}" for line in tail.splitlines())
    if run.reason:
        lines.append(f"\npipeline {run.status}: {console(run.reason)}")
    lines.append(f"\npipeline {run.status} in {run.duration_s:.1f}s")
    return "\n".join(lines)


def suppressions_table(run: PipelineRecord) -> list[str]:
    """Every suppression in force, those a pull request adds first and marked."""
    rows = [(gate.gate, entry) for gate in run.gates for entry in gate.suppressions]
    if not rows:
        return []
    rows.sort(key=lambda row: not row[1].get("new"))
    lines = [
        "",
        f"### Suppressions in force ({len(rows)})",
        "",
        "| gate | where | rules | reason | until | |",
        "|---|---|---|---|---|---|",
    ]
    for gate, entry in rows:
        where = f"{entry.get('path')}:{entry['line']}" if entry.get("line") else entry.get("path")
        cells = [
            gate,
            str(where),
            ", ".join(map(str, entry.get("rules") or [])),
            str(entry.get("reason") or ""),
            str(entry.get("until") or "-"),
            "new" if entry.get("new") else "",
        ]
        lines.append("| " + " | ".join(md(cell) for cell in cells) + " |")
    return lines


def mermaid_label(text: str) -> str:
    return "".join(char if char in LABEL_SAFE else f"#{ord(char)};" for char in text)


def graph(run: PipelineRecord) -> list[str]:
    """The gate graph as a Mermaid flowchart: each gate a node coloured by its
    verdict, labelled with its duration and findings, an edge per requirement.
    Node ids are positions (g0, g1...), never names from the repository."""
    ids = {gate.gate: f"g{index}" for index, gate in enumerate(run.gates)}
    registry = gates.registry()
    lines = ["```mermaid", "flowchart LR"]
    for gate in run.gates:
        facts = [str(gate.status), duration_text(gate.duration_s), findings_text(gate)]
        label = mermaid_label(gate.gate) + "<br/>" + " · ".join(map(mermaid_label, facts))
        lines.append(f'  {ids[gate.gate]}["{label}"]')
    for gate in run.gates:
        spec = registry.get(gate.gate)
        for required in spec.requires if spec else ():
            if required in ids:
                lines.append(f"  {ids[required]} --> {ids[gate.gate]}")
    for status, style in STATUS_STYLE.items():
        lines.append(f"  classDef {status} {style}")
    for gate in run.gates:
        lines.append(f"  class {ids[gate.gate]} {gate.status}")
    return [*lines, "```"]


def markdown(run: PipelineRecord) -> str:
    commit = (run.commit or "no commit")[:12]
    lines = [
        f"## Pipeline {run.status}",
        "",
        f"{md(run.repository)} at {md(commit)} on {md(run.branch or '-')}, {run.duration_s:.1f}s",
        *(["", md(run.reason)] if run.reason else []),
        "",
        *graph(run),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in _rows(run)]
    lines += suppressions_table(run)
    for gate in run.gates:
        spec = gates.registry().get(gate.gate)
        if spec and spec.notes_in_summary and gate.notes:
            lines += ["", f"### {md(gate.gate)}", ""]
            lines += [f"- {md(note)}" for note in gate.notes]
        if gate.status == Status.PASSED:
            continue
        lines += ["", f"### {md(gate.gate)}: {gate.status}", "", md(gate.reason or "")]
        if gate.blocking:
            lines.append("")
            lines += [
                f"- {md(finding.rule)} {md(finding.location())}: {md(finding.message)}"
                for finding in gate.blocking
            ]
    return "\n".join(lines) + "\n"
