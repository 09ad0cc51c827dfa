"""Size rules that keep the code readable: a pass fits in one screen, no class or function
grows into a second job (docs/architecture.md). The emulators are left out: they model a
whole service each."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
MAX_ENGINE_LINES = 250
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60


def _definitions():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                lines = node.end_lineno - node.lineno + 1
                yield f"{path.relative_to(PACKAGE)}:{node.name}", node, lines


def test_engine_reads_in_one_screen():
    lines = len((PACKAGE / "sync" / "engine.py").read_text().splitlines())
    assert lines <= MAX_ENGINE_LINES, f"engine.py has {lines} lines"


def test_no_class_over_250_lines():
    big = [(n, where) for where, node, n in _definitions() if isinstance(node, ast.ClassDef)]
    assert [b for b in big if b[0] > MAX_CLASS_LINES] == []


def test_no_function_over_60_lines():
    long = [
        (n, where)
        for where, node, n in _definitions()
        if not isinstance(node, ast.ClassDef) and n > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_the_rules_see_the_code():
    """A rule that finds nothing to measure would pass for ever."""
    names = {where for where, _, _ in _definitions()}
    assert "sync/engine.py:run_pass" in names and "write/pipeline.py:WritePipeline" in names
