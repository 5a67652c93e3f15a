"""No import circles between hub modules (type-only and function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parent.parent / "hub"


def module_name(path: Path) -> str:
    parts = path.relative_to(HUB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in HUB.rglob("*.py")}
    known = set(paths)
    return {name: imports_of(path, name, known) for name, path in paths.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_known_edges() -> None:
    edges = graph()
    assert "hub.server.hub" in edges["hub.server.ws"]
    assert "hub.server.ws" not in edges["hub.server.hub"]


def test_no_import_circles() -> None:
    edges = graph()
    assert "hub.store.ignite.feed" in edges and "hub.ignite.protocol" in edges
    assert cycles(edges) == []


def test_no_part_of_the_ignite_store_imports_its_facade() -> None:
    """The facade delegates to its parts; a part reaching back (even lazily) is how circles hide."""
    facade = "hub.store.ignite"
    edges = graph()
    parts = [m for m in edges if m.startswith(facade + ".")]
    assert {f"{facade}.{p}" for p in ("feed", "stamp", "write", "read", "tx", "schema", "gc")} <= set(parts)
    assert [m for m in parts if facade in edges[m]] == []


def test_the_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
