"""The kernel's own structure: its modules import each other without a cycle.

Users read and edit their vendored copy, so each private module must be importable on
its own terms: a module that needs another only for annotations imports it under
`if TYPE_CHECKING:`, which is not a runtime edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import otp

KERNEL = Path(otp.__file__).parent


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str) -> set[str]:
    """The kernel modules a module's top level imports when it runs (not for typing)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module is not None:
                    found.add(node.module)
                else:
                    found.update(alias.name for alias in node.names)

    visit(ast.parse(source).body)
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        path.stem: runtime_imports(path.read_text())
        for path in sorted(KERNEL.glob("*.py"))
        if path.stem != "__init__"
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in `graph` as a list of modules (first repeated last), or None."""
    done: set[str] = set()
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            cycle = walk(imported)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in graph:
        cycle = walk(module)
        if cycle is not None:
            return cycle
    return None


def test_the_kernel_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()
    assert "_messages" in graph["_genserver"]  # the walk sees the real imports
    assert "_genserver" not in graph["_childspec"]  # and skips the TYPE_CHECKING ones
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle_through_a_runtime_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ._b import x\n"
        "if TYPE_CHECKING:\n"
        "    from ._c import y\n"
    )
    assert runtime_imports(source) == {"_b"}
    assert find_cycle({"_a": {"_b"}, "_b": {"_c"}, "_c": {"_a"}}) == ["_a", "_b", "_c", "_a"]
    assert find_cycle({"_a": {"_b"}, "_b": set(), "_c": {"_a"}}) is None
