"""The summary opens with the gate graph as a Mermaid flowchart: well formed
(checked strictly against the subset it emits), each gate coloured by its
verdict, every label escaped."""

from __future__ import annotations

import re

from tools import gates
from tools.pipeline import summary
from tools.verdict import GateRecord, PipelineRecord, Status

NODE = re.compile(r'^  (?P<id>g\d+)\["(?P<label>[^"\[\]<>`|]*(?:<br/>[^"\[\]<>`|]*)*)"\]$')
EDGE = re.compile(r"^  (?P<source>g\d+) --> (?P<target>g\d+)$")
CLASS_DEF = re.compile(r"^  classDef (?P<name>\w+) (?:[\w-]+:#?\w+)(?:,[\w-]+:#?\w+)*$")
CLASS = re.compile(r"^  class (?P<id>g\d+) (?P<name>\w+)$")


def flowchart(markdown: str) -> dict:
    """Our flowchart subset, parsed strictly: any other line is an error."""
    lines = markdown.splitlines()
    start = lines.index("```mermaid")
    end = lines.index("```", start + 1)
    assert lines[start + 1] == "flowchart LR"
    nodes, edges, styles, classes = {}, [], set(), {}
    for line in lines[start + 2 : end]:
        if match := NODE.match(line):
            assert match["id"] not in nodes, f"node defined twice: {line}"
            nodes[match["id"]] = match["label"]
        elif match := EDGE.match(line):
            edges.append((match["source"], match["target"]))
        elif match := CLASS_DEF.match(line):
            styles.add(match["name"])
        elif match := CLASS.match(line):
            classes[match["id"]] = match["name"]
        else:
            raise AssertionError(f"not in the flowchart subset: {line!r}")
    assert all(a in nodes and b in nodes for a, b in edges), edges
    assert set(classes) == set(nodes) and set(classes.values()) <= styles
    return {"start": start, "nodes": nodes, "edges": edges, "classes": classes}


def record(statuses: dict[str, Status], **names: str) -> PipelineRecord:
    runs = [
        GateRecord(
            gate=names.get(gate, gate),
            status=status,
            duration_s=1.5,
            findings={"error": 2} if status == Status.FAILED else {},
            reason="findings" if status == Status.FAILED else None,
        )
        for gate, status in statuses.items()
    ]
    return PipelineRecord(
        repository="acme/app", commit="0" * 40, branch="main", started_at="x", ended_at="y",
        duration_s=9.0, status=Status.FAILED, gates=runs,
    )  # fmt: skip


def test_the_graph_carries_each_gates_verdict_and_the_noxfiles_edges() -> None:
    statuses = {name: Status.PASSED for name in gates.registry()}
    statuses.update(sast=Status.FAILED, test=Status.SKIPPED)
    markdown = summary.markdown(record(statuses))
    chart = flowchart(markdown)
    # First thing after the heading and the run's line; the table follows.
    assert chart["start"] < markdown.splitlines().index("| " + " | ".join(summary.HEADER) + " |")
    by_name = {label.split("<br/>")[0]: node for node, label in chart["nodes"].items()}
    assert set(by_name) == set(statuses)
    for name, status in statuses.items():
        assert chart["classes"][by_name[name]] == status
        assert chart["nodes"][by_name[name]].split("<br/>")[1].startswith(str(status))
    assert "2 error" in chart["nodes"][by_name["sast"]]
    expected = {
        (by_name[required], by_name[gate.name])
        for gate in gates.registry().values()
        for required in gate.requires
    }
    assert set(chart["edges"]) == expected and ("lint" in gates.registry()["sast"].requires)


def test_a_label_with_markdown_or_mermaid_syntax_is_escaped() -> None:
    hostile = 'x"]\n  click g0 "javascript:alert(1)"\n# Pipeline passed <b>`|[y]('
    markdown = summary.markdown(record({"lint": Status.FAILED}, lint=hostile))
    chart = flowchart(markdown)  # still only our subset: no click line, no second node
    (label,) = chart["nodes"].values()
    assert "javascript" in label and "#34;" in label and "#10;" in label
    assert not re.search(r'["\[\]<>`|\n]', label.replace("<br/>", ""))
