"""The package's layers, read off its import statements: no cycle, none upward.

Only imports that run when a module loads count (module level, ``try`` blocks included);
imports under ``TYPE_CHECKING`` and inside functions (the CLI's lazy subcommands) do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bbre_async"

#: What the pool may not know: the vendors, the programs above it, the emulator.
ABOVE_THE_POOL = (
    "bbre_async._client",
    "bbre_async._bbre_backend",
    "bbre_async._resources",
    "bbre_async._transport",
    "bbre_async._aiohttp_transport",
    "bbre_async.orchestrator",
    "bbre_async.cli",
    "bbre_async.emulator",
    "bbre_async.telemetry",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _load_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                yield from _load_time_imports(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [stmt for handler in node.handlers for stmt in handler.body]
            yield from _load_time_imports(node.body + node.orelse + node.finalbody + handlers)


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each module's imports inside the package, and the top-level names it imports outside."""
    modules = _modules()
    inside: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        foreign: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                assert node.level == 0, f"{name}: relative import"
                base = node.module or ""
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for target in targets:
                if target.startswith("bbre_async"):
                    deps.add(target)
                else:
                    foreign.add(target.split(".")[0])
        inside[name] = {d for d in deps if d in modules and d != name}
        outside[name] = foreign
    return inside, outside


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others() -> None:
    inside, _ = _graph()
    assert cycles(inside) == []


@pytest.mark.parametrize(
    ("layer", "must_not_reach"),
    [
        ("bbre_async.pool", ABOVE_THE_POOL),
        ("bbre_async.coordination", ("bbre_async.pool", *ABOVE_THE_POOL)),
    ],
)
def test_no_import_points_upward(layer: str, must_not_reach: tuple[str, ...]) -> None:
    inside, _ = _graph()
    upward = {
        (module, dep)
        for module, deps in inside.items()
        if module.startswith(layer)
        for dep in deps
        if dep.startswith(must_not_reach)
    }
    assert upward == set()


def test_the_emulator_imports_nothing_from_the_client_side() -> None:
    inside, _ = _graph()
    reached = {
        dep
        for module, deps in inside.items()
        if module.startswith("bbre_async.emulator")
        for dep in deps
        if not dep.startswith("bbre_async.emulator")
    }
    assert reached == set()


def test_only_the_transport_imports_aiohttp_on_the_client_side() -> None:
    _, outside = _graph()
    users = {
        module
        for module, names in outside.items()
        if "aiohttp" in names and not module.startswith("bbre_async.emulator")
    }
    assert users == {"bbre_async._aiohttp_transport"}
