"""The packages are floors: an import only goes down (or sideways within one package), and no
two modules import each other in a loop. Checked on the source text, lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Bottom to top. A module may import its own package and any package on a lower floor.
FLOORS = ("safevla_core", "sim_bridge", "safevla_eval", "safevla_train", "safevla_ros")
# Generated ROS interfaces are merged into safevla_ros at install time (not source files here).
GENERATED = ("safevla_ros.msg", "safevla_ros.srv")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every first-party module named by an import statement anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from pkg import module` names a module too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in FLOORS}


def _source_modules() -> dict[str, Path]:
    modules = {}
    for top in FLOORS:
        for path in sorted((REPO / top).rglob("*.py")):
            modules[_module_name(path)] = path
    return modules


def _edges() -> dict[str, set[str]]:
    """module -> first-party modules it imports (resolved to existing source modules)."""
    modules = _source_modules()
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            if imported.startswith(GENERATED):
                continue
            if imported in modules:
                targets.add(imported)
            elif imported.rpartition(".")[0] in modules:
                targets.add(imported.rpartition(".")[0])  # `from module import name`
        targets.discard(name)
        edges[name] = targets
    return edges


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    floor = {top: i for i, top in enumerate(FLOORS)}
    bad = []
    for src, targets in edges.items():
        for dst in targets:
            if floor[dst.split(".")[0]] > floor[src.split(".")[0]]:
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), ignoring package
    ``__init__`` re-exports, which import their own submodules by design."""
    graph = {
        m: {t for t in ts if not m.startswith(t + ".") and not t.startswith(m + ".")}
        for m, ts in edges.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_import_goes_down_a_floor():
    assert upward_imports(_edges()) == []


def test_no_import_cycles():
    assert import_cycles(_edges()) == []


@pytest.mark.parametrize(
    ("edges", "expect_up", "expect_cycle"),
    [
        ({"safevla_core.a": {"sim_bridge.b"}, "sim_bridge.b": set()}, True, False),
        ({"sim_bridge.a": {"sim_bridge.b"}, "sim_bridge.b": {"sim_bridge.a"}}, False, True),
        ({"safevla_ros.a": {"safevla_core.b"}, "safevla_core.b": set()}, False, False),
    ],
)
def test_the_checks_catch_a_planted_violation(edges, expect_up, expect_cycle):
    assert bool(upward_imports(edges)) is expect_up
    assert bool(import_cycles(edges)) is expect_cycle
