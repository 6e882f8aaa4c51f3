"""The gate table: every gate declared once, in its module, and read from there.

A list of gate names kept by hand anywhere else is the bug this guards against:
adding a gate would leave it silently behind. The check walks the source of the
pipeline and its tests and fails on any literal collection naming two or more
gates; the gate modules and the noxfile, which declare the gates, are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import ROOT

from tools import gates, settings
from tools.notify import payload
from tools.verdict import GateRecord, Status

# Where the gates are declared: their own modules, and the noxfile's sessions.
DECLARING = ("tools/gates/", "noxfile.py")


def hand_kept_lists(source: str, names: set[str]) -> list[int]:
    """Lines of ``source`` holding a literal list, tuple, set or dict (keys) of two
    or more gate names, or one string that lists every gate (a command line, a
    job list). A string naming a few gates is data: a parser's test input."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = set(node.value.replace(",", " ").replace("=", " ").split())
            if names <= words:
                found.append(node.lineno)
            continue
        else:
            continue
        named = {item.value for item in items if isinstance(item, ast.Constant)} & names
        if len(named) >= 2:
            found.append(node.lineno)
    return found


def test_the_checker_sees_a_hand_kept_list() -> None:
    names = set(gates.registry())
    first, second = list(names)[:2]
    assert hand_kept_lists(f"GATES = ({first!r}, {second!r})\n", names) == [1]
    assert hand_kept_lists(f"TIMEOUTS = {{{first!r}: 1, {second!r}: 2}}\n", names) == [1]
    every = " ".join(f"{name}=success" for name in sorted(names))
    assert hand_kept_lists(f"RESULTS = {every!r}\n", names) == [1]
    assert hand_kept_lists(f"ONE = [{first!r}]\n", names) == []


def test_no_hand_kept_list_of_gate_names_outside_the_gates_and_the_noxfile() -> None:
    names = set(gates.registry())
    offenders = []
    for path in sorted([*ROOT.glob("tools/**/*.py"), *ROOT.glob("tests/**/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(DECLARING) or relative == "tests/pipeline/test_gate_table.py":
            continue
        offenders += [f"{relative}:{line}" for line in hand_kept_lists(path.read_text(), names)]
    assert offenders == []


def test_every_gate_declares_what_the_rest_of_the_pipeline_reads() -> None:
    table = gates.registry()
    assert table, "no gate module found under tools/gates/"
    for name, gate in table.items():
        assert gate.module == f"tools.gates.{name}"
        assert gate.group == f"pipeline-{name}"
        assert gate.lock == Path("locks") / f"{name}.txt"
        assert (ROOT / gate.lock).is_file(), gate.lock
        assert all(required in table for required in gate.requires)
        assert gate.timeout_s == settings.Settings().timeout(gate)
        assert payload.gate_severity(name) == gate.severity
        failed = [GateRecord(name, Status.FAILED)]
        assert payload.severity("failed", failed) == gate.severity


def test_the_graph_is_ordered_and_its_paths_derived() -> None:
    order = list(gates.registry())
    for name, gate in gates.registry().items():
        assert all(order.index(required) < order.index(name) for required in gate.requires)
        for below in gates.dependents(name):
            assert order.index(below) > order.index(name)
    path, weight = gates.longest_path(lambda _name: 1.0)
    assert weight == len(path)
    assert not gates.get(path[0]).requires


def test_an_unknown_gate_is_one_clear_error() -> None:
    with pytest.raises(Exception, match="no gate named 'nope'"):
        gates.get("nope")
