"""The code base's shape: small modules, no import cycle (function-local imports included), and a module map in
docs/architecture.md that matches the tree."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("function_app", "localdev")
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs: all of them but the bodies of `if TYPE_CHECKING:` (annotations only)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            skipped.update(id(inner) for part in node.body for inner in ast.walk(part))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports anywhere in its file (top level and inside functions)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {str(p.relative_to(ROOT)): n for p in modules().values()
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not too_long, too_long


def test_there_is_no_import_cycle() -> None:
    found = modules()
    graph = {name: imports_of(name, path, set(found)) for name, path in found.items()}
    # A package's __init__ importing its own submodules is how packages expose them, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (found[name].name == "__init__.py" and t.startswith(name + "."))}
    # Importing `a.b` runs `a/__init__.py` too.
    for name in list(graph):
        for target in list(graph[name]):
            parent = target.rpartition(".")[0]
            while parent:
                if parent in graph and not name.startswith(parent):
                    graph[name].add(parent)
                parent = parent.rpartition(".")[0]
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def module_map() -> set[str]:
    """The files docs/architecture.md's module map names: a line `name/` opens a folder at its indentation, a
    line `name.py` (or `.json`) names a file in the folder open above it; description lines are indented past
    the first column."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("## Module map", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        words = line.split()
        if not words or indent > 20:
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        path = "/".join([*(name for _, name in folders), words[0].rstrip("/")])
        if words[0].endswith("/"):
            folders.append((indent, words[0].rstrip("/")))
        named.add(path)
    return named


def test_the_module_map_names_every_module_and_nothing_else() -> None:
    tree = {str(p.relative_to(ROOT)) for p in modules().values() if p.name != "__init__.py"}
    named = module_map()
    assert sorted(tree - named) == [], "modules missing from docs/architecture.md's module map"
    invented = sorted(p for p in named if not (ROOT / p).exists())
    assert invented == [], "the module map names files that do not exist"


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def test_every_local_stand_in_variable_is_spelled_once_and_documented() -> None:
    from localdev import settings as local

    declared = {value for name, value in vars(local).items() if isinstance(value, str) and value.startswith("LOCALDEV_")}
    declared |= set(local.PORTS.values())
    spelled_elsewhere = {}
    for folder in ("function_app", "localdev", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "localdev" / "settings.py":
                continue
            found = {c for c in _string_constants(path) if re.fullmatch(r"LOCALDEV_[A-Z_]+", c)}
            if found:
                spelled_elsewhere[str(path.relative_to(ROOT))] = sorted(found)
    assert spelled_elsewhere == {}, "LOCALDEV_* names belong in localdev/settings.py"
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("## Local stand-in settings", 1)[1].split("\n## ", 1)[0]
    assert sorted(v for v in declared if f"`{v}`" not in table) == []
    assert sorted(set(re.findall(r"`(LOCALDEV_[A-Z_]+)`", table)) - declared) == []
