"""The architecture, read from the source with `ast`: no import cycles, short functions, and the
dependency rules of the design (parsing and lint need no model, emission works from the plan
alone, the llama.cpp facts and the readers know no recipe, the core knows no command line).

Every import counts, including those inside functions (deferred imports still make a
dependency); imports by `importlib` with a computed name (the CLI's command registry) do not.
"""

from __future__ import annotations

import ast
import fnmatch
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "recipec"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_FUNCTION_LINES = 80

# Module groups; a name stands for the module and, when it is a package, all its submodules.
SYNTAX = ("source", "ast", "parser", "transformer", "formatter", "recipe", "checks")
RECIPE_LANGUAGE = ("ast", "parser", "transformer", "formatter", "recipe", "checks", "selectors")
READERS = ("loaders", "gguffile", "modelinfo", "imatrix")
RESOLVE = ("resolve", "budget", "solve")
EMISSION = ("emit", "rules")
FACTS = ("ggml", "llamacpp", "mixture", "matcher", "hardware", "kvcache")
CORE = ("source", "diagnostics")
COMMAND_LINE = ("cli", "commands", "__main__")
STAGES = SYNTAX + READERS + RESOLVE + EMISSION + FACTS + CORE + ("plan",)

# (modules, forbidden imports, reason): a module matching the first may not import one matching
# the second. Names are relative to the package; globs (fnmatch) are allowed. Specific rules come
# first: an import that several rules forbid is reported once, with the first reason.
RULES: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (SYNTAX, READERS,
     "parsing and lint never need a model: syntax and validation import no model or imatrix reader"),
    (SYNTAX, RESOLVE + EMISSION + ("plan",),
     "no stage reaches forward: syntax and validation import neither resolve, the plan nor emission"),
    (EMISSION, READERS,
     "emission works from the Plan alone: rule synthesis and rendering import no model/imatrix reader"),
    (EMISSION, RESOLVE,
     "emission works from the Plan alone, not from the optimiser's working"),
    (RESOLVE, EMISSION,
     "no stage reaches forward: resolve makes the plan, the rules are synthesised from it afterwards"),
    (FACTS, RECIPE_LANGUAGE + RESOLVE + EMISSION + ("plan",),
     "the llama.cpp facts (types, matcher, fallbacks, hardware, KV cache) know no recipe and no stage"),
    (READERS, RECIPE_LANGUAGE + RESOLVE + EMISSION,
     "readers know no recipe and none of the stages that consume what they read"),
    (CORE, COMMAND_LINE,
     "the core (source spans, diagnostics) knows no command line"),
    (STAGES, ("api",),
     "recipec.api wires the pipeline; no stage of it imports the front end"),
    (("*",), COMMAND_LINE,
     "the command line is the top: only cli and the commands import cli or a command"),
)


# ----------------------------------------------------------------------------- reading the source

def module_name(path: Path, root: Path = ROOT, package: str = PACKAGE) -> str:
    """`recipec/resolve/bounds.py` -> `recipec.resolve.bounds`; a package's __init__ is the package."""
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {module_name(p, root, package): p for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}


def _target(name: str, modules) -> str | None:
    """The module NAME refers to: itself, or the longest existing prefix (a name inside a module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(tree: ast.Module, me: str, is_package: bool, modules, package: str = PACKAGE
               ) -> list[tuple[str, int]]:
    """(imported package module, line) for every import in TREE, at any depth."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = me.split(".") if is_package else me.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([node.module] if node.module else []))
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            if name == package or name.startswith(package + "."):
                target = _target(name, modules)
                if target and target != me:
                    out.append((target, node.lineno))
    return out


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line importing it}, over the package's own modules."""
    modules = package_modules(root, package)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: dict[str, int] = {}
        for target, line in imports_of(tree, name, path.name == "__init__.py", modules, package):
            edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan; the package graph is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_shortest_cycle(graph, min(c), c) for c in sorted(components, key=min)]


def _shortest_cycle(graph, start: str, within: set[str]) -> list[str]:
    """The shortest path START -> ... -> START inside one component (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w not in within:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"{start} is in a component but on no cycle")


def long_functions(root: Path = ROOT, package: str = PACKAGE, limit: int = MAX_FUNCTION_LINES
                   ) -> list[tuple[str, int]]:
    """(module:qualified.name, lines) of every function or method longer than LIMIT lines."""
    out = []
    for name, path in package_modules(root, package).items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        todo = [(node, "") for node in tree.body]
        while todo:
            node, prefix = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}{node.name}"
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    out.append((f"{name}:{qual}", length))
                todo += [(child, f"{qual}.") for child in ast.iter_child_nodes(node)]
            elif isinstance(node, ast.ClassDef):
                todo += [(child, f"{prefix}{node.name}.") for child in node.body]
            else:
                todo += [(child, prefix) for child in ast.iter_child_nodes(node)]
    return sorted(out)


def matches(module: str, globs, package: str = PACKAGE) -> bool:
    """Whether MODULE (dotted, with the package) is one of GLOBS or inside one of them."""
    rel = module[len(package) + 1:] if module.startswith(package + ".") else module
    return any(fnmatch.fnmatchcase(rel, g) or rel.startswith(g + ".") for g in globs)


@dataclass(frozen=True)
class Violation:
    module: str
    imported: str
    line: int
    reason: str

    def __str__(self) -> str:
        path = self.module.replace(".", "/")
        return f"{self.module} imports {self.imported} ({path}.py line {self.line}): {self.reason}"


def violations(graph: dict[str, dict[str, int]], rules=RULES) -> list[Violation]:
    """Every import that a rule forbids; a module of a forbidden group may import its own group."""
    out: dict[tuple[str, str], Violation] = {}
    for who, forbidden, reason in rules:
        for module, edges in sorted(graph.items()):
            if not matches(module, who) or matches(module, forbidden):
                continue
            for imported, line in sorted(edges.items()):
                if matches(imported, forbidden):
                    out.setdefault((module, imported), Violation(module, imported, line, reason))
    return list(out.values())


# ----------------------------------------------------------------------------- the package

def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_functions_are_short():
    found = long_functions()
    assert not found, f"functions longer than {MAX_FUNCTION_LINES} lines:\n" + "\n".join(
        f"{name}: {n} lines" for name, n in found)


def test_dependency_rules():
    found = violations(import_graph())
    assert not found, "forbidden imports:\n" + "\n".join(map(str, found))


def test_every_rule_names_existing_modules():
    # a renamed module must not silently switch a rule off
    modules = package_modules()
    for who, forbidden, _ in RULES:
        for glob in (*who, *forbidden):
            assert any(matches(m, [glob]) for m in modules), f"no module matches {glob!r} in RULES"


# ----------------------------------------------------------------------------- the checker itself

@pytest.fixture
def toy(tmp_path):
    """A small package `toy`: a.py, b.py, sub/__init__.py, sub/c.py."""
    root = tmp_path / "toy"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "import os\nfrom toy import b\n\ndef f():\n    from toy.sub import c\n    return c\n",
        "b.py": "from toy.sub.c import thing\n",
        "sub/__init__.py": "from . import c\nfrom .c import thing\n",
        "sub/c.py": "thing = 1\n\ndef g():\n    import toy.a\n" + "    x = 1\n" * 85,
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_graph_sees_function_level_and_relative_imports(toy):
    graph = import_graph(toy, "toy")
    assert graph["toy.a"] == {"toy.b": 2, "toy.sub.c": 5}
    assert graph["toy.b"] == {"toy.sub.c": 1}
    assert graph["toy.sub"] == {"toy.sub.c": 1}
    assert graph["toy.sub.c"] == {"toy.a": 4}


def test_cycles_are_reported_shortest_first(toy):
    found = cycles(import_graph(toy, "toy"))
    assert found == [["toy.a", "toy.sub.c", "toy.a"]]
    assert cycles({"x": {"y": 1}, "y": {}}) == []


def test_long_functions_named_with_their_length(toy):
    assert long_functions(toy, "toy") == [("toy.sub.c:g", 87)]


def test_rules_match_modules_and_packages():
    graph = {"recipec.rules": {"recipec.loaders.model": 3, "recipec.plan": 4},
             "recipec.checks.x": {"recipec.checks.common": 1, "recipec.resolve.bounds": 7}}
    found = violations(graph)
    assert [(v.module, v.imported, v.line) for v in found] == [
        ("recipec.checks.x", "recipec.resolve.bounds", 7), ("recipec.rules", "recipec.loaders.model", 3)]
    assert "line 3" in str(found[1]) and "Plan alone" in str(found[1])
    twice = violations({"recipec.diagnostics": {"recipec.cli": 9}})
    assert [v.reason for v in twice] == ["the core (source spans, diagnostics) knows no command line"]
