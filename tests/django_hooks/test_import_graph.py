"""No import circle through django_hooks/ or sync_tasks/ (issue 10).

The graph is read from the source (ast), not by importing. Two views: the imports that run when a
module is imported (module level; those under `if TYPE_CHECKING:` never run), which must have no
cycle so every module can be imported first, on its own; and every import, in-function ones too,
which must have none either: a circle hidden in a function (as `runs` and `worker` had, the result
type living in the loop module) is still two modules that cannot be understood apart."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("django_hooks", "sync_tasks")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: module level, also inside if/try/with blocks,
    but not in functions or classes' methods, and not under `if TYPE_CHECKING:`."""
    out: list[ast.Import | ast.ImportFrom] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                out.append(node)
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)
                walk(node.orelse)
                walk(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                walk(node.body)

    walk(tree.body)
    return out


def _every_import(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def import_graph(*, everywhere: bool = False) -> dict[str, set[str]]:
    """module → the modules of both packages it imports at import time (`everywhere`: at any time)."""
    find = _every_import if everywhere else _top_level_imports
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        for node in find(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import mod` imports the submodule; `from mod import name` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_holds_the_known_edges() -> None:
    graph = import_graph()
    assert "django_hooks.results" in graph["django_hooks.runs"]
    assert "django_hooks.results" in graph["django_hooks.queue.worker"]
    assert "django_hooks.runs" in graph["django_hooks.queue.worker"]
    assert "django_hooks.admin.actions" in graph["django_hooks.admin.accounts"]  # `from pkg import mod`
    assert "sync_tasks.config" in graph["sync_tasks.engine"]  # relative imports
    assert "django_hooks.results" not in graph["django_hooks.apps"]
    assert "django_hooks.queue.pending" in import_graph(everywhere=True)["django_hooks"]  # in request_sync()


def test_no_import_circle_through_django_hooks_or_sync_tasks() -> None:
    assert cycles(import_graph()) == []


def test_no_circle_even_through_imports_inside_functions() -> None:
    assert cycles(import_graph(everywhere=True)) == []


def test_the_reconciler_does_not_import_the_queue_loop() -> None:
    graph = import_graph()
    assert "django_hooks.queue.worker" not in graph["django_hooks.runs"]
    assert not {m for m in graph["django_hooks.runs"] if m.startswith("django_hooks.admin")}
