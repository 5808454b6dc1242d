"""The architecture's import rules, checked on the source: dependencies point
inwards (docs/ARCHITECTURE.md) and no module imports itself around a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("blobs", "events", "commands", "projections", "read_api", "ws_edge", "parley")
MAY_IMPORT = {
    "blobs": {"blobs"},
    "events": {"events"},
    "commands": {"blobs", "events", "commands"},
    "projections": {"events", "projections"},
    "read_api": {"blobs", "events", "commands", "projections", "read_api"},
    "ws_edge": {"blobs", "events", "commands", "projections", "read_api", "ws_edge"},
    "parley": set(PACKAGES),
}


def _modules() -> dict[str, set[str]]:
    """Every production module and the production modules it imports."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            imported: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module)
                    imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            graph[name] = {m for m in imported if m.split(".")[0] in PACKAGES}
    return {name: {m for m in deps if m in graph} for name, deps in graph.items()}


def test_dependencies_point_inwards() -> None:
    wrong = [
        f"{module} imports {dependency}"
        for module, dependencies in _modules().items()
        for dependency in dependencies
        if dependency.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = _modules()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dependency in sorted(graph[module]):
            if state.get(dependency) == 1:
                cycles.append([*path[path.index(dependency) :], dependency])
            elif dependency not in state:
                visit(dependency, [*path, dependency])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
