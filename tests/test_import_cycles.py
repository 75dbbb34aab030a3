"""No import circles in models, training and explorer, type-only imports included.

The graph is read from the source files with `ast`: every import that runs when a module is
imported (at module level, in class bodies, under `if TYPE_CHECKING:` or `try:`), not those
inside functions, which run later and are how torch and the panels load lazily. A circle of
type-only imports is a circle too: it is where a real one starts, and it is what makes a
module impossible to split.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "training", "explorer")


def module_files(root: Path, packages: tuple[str, ...], prefix: str) -> dict[str, Path]:
    """Module name (under `prefix`, the package they install in) -> source file."""
    out = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts] if prefix else parts)] = f
    return out


def _import_time_imports(tree: ast.Module):
    """The Import and ImportFrom nodes that run when the module is imported."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES,
                 prefix: str = "latent_explorer") -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports at import time."""
    files = module_files(root, packages, prefix)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in _import_time_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..a import b
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            for target in targets:
                while target and target not in files:  # a name inside a module: that module
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle (a, b, ..., a) per strongly connected group of modules, sorted; [] if none."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_circle_in(graph, g) for g in groups)


def _circle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest circle through the group's first module, staying inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ()) & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no circle in {group}")  # a strongly connected group always has one


def test_there_are_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_the_imports_that_matter():
    """Edges the real graph must have: a parser that found nothing would pass the test above."""
    g = import_graph()
    assert len(g) > 60
    assert "latent_explorer.training.config" in g["latent_explorer.training.engine.loop"]  # from training.config import ...
    assert "latent_explorer.training.engine.fast_step" in g["latent_explorer.training.engine.members"]  # from training.engine import fast_step
    assert "latent_explorer.training.config" in g["latent_explorer.training.data.sources"]  # under `if TYPE_CHECKING:`
    assert "latent_explorer.explorer.commands.actions" in g["latent_explorer.explorer.main_window"]
    assert "latent_explorer.models.registries" in g["latent_explorer.models.registry"]
    # imports inside functions are not edges: the loaders load lazily
    assert "latent_explorer.training.data.image_folder" not in g["latent_explorer.training.data.sources"]


def test_the_cycle_finder_names_every_circle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    # one group of four (x, y, p, q reach each other), named by its shortest circle, and a loop
    two = find_cycles({"x": {"y"}, "y": {"x", "p"}, "p": {"q"}, "q": {"p", "x"}, "z": {"z"}})
    assert two == [["p", "q", "p"], ["z", "z"]]
    assert find_cycles({"p": {"q"}, "q": {"x"}, "x": {"y"}, "y": {"p"}}) == \
        [["p", "q", "x", "y", "p"]]


def test_a_type_only_circle_is_found(tmp_path):
    """A circle through `if TYPE_CHECKING:` imports and relative imports fails the test."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.loop import Trainer\n")
    (pkg / "loop.py").write_text("from .config import TrainConfig\n")
    (pkg / "lazy.py").write_text(
        "import pkg.config\n"
        "def f():\n"
        "    from pkg import lazy2\n")  # inside a function: not an edge
    (pkg / "lazy2.py").write_text("from pkg import lazy\n")
    g = import_graph(tmp_path, ("pkg",), prefix="")
    assert g["pkg.loop"] == {"pkg.config"} and g["pkg.config"] == {"pkg.loop"}
    assert g["pkg.lazy"] == {"pkg.config"} and g["pkg.lazy2"] == {"pkg.lazy"}
    assert find_cycles(g) == [["pkg.config", "pkg.loop", "pkg.config"]]
