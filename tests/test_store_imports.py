"""The store package's import graph: no circle, and no part of hub/store/ignite/ reaches its facade.

Walks the source (AST) instead of importing it, like tests/core/test_purity.py, so imports inside
functions count too (they are how a circle hides).
"""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"
CHECKED = ("hub.core", "hub.store")
FACADE = "hub.store.ignite"


def _module_name(path: Path) -> str:
    parts = path.relative_to(HUB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in HUB.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if not name.startswith(CHECKED):
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = node.module or "" if not node.level else ".".join(filter(None, [base, node.module]))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in modules and d.startswith(CHECKED) and d != name}
    return graph


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    path: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            found = visit(dep)
            if found:
                return found
        path.pop()
        return None

    return visit(start)


def test_core_and_store_have_no_import_circle() -> None:
    graph = _graph()
    assert "hub.store.ignite.feed" in graph
    cycles = [c for c in (_cycle_from(m, graph) for m in sorted(graph)) if c]
    assert cycles == []


def test_no_part_of_the_ignite_store_imports_its_facade() -> None:
    graph = _graph()
    parts = [m for m in graph if m.startswith(FACADE + ".")]
    assert {f"{FACADE}.{p}" for p in ("feed", "stamp", "write", "read", "tx", "schema", "gc")} <= set(parts)
    assert [m for m in parts if FACADE in graph[m]] == []
