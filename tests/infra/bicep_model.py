"""A small model of the Bicep templates under infra/, read with pycep-parser.

pycep turns a template into JSON-like data: `parameters`, `variables`, `resources`, `modules`, `outputs`,
`extensions`. Values are plain strings (both literals and bare identifiers), interpolated strings keep their
`${...}` text, and expressions are nested `{"function": ...}` / `{"operator": ...}` objects. The helpers here
unwrap conditions and loops, follow variables, and find which symbols an expression refers to.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
AUTH_SETTINGS = INFRA / "auth" / "authsettings.json"

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_ROOT_IDENTIFIER = re.compile(r"(?<![\w.'])([A-Za-z_]\w*)(?=\s*(?:\.|\[|!|\)|,|$))")


@lru_cache(maxsize=None)
def _parser() -> BicepParser:
    return BicepParser()


@lru_cache(maxsize=None)
def parse(path: Path) -> dict[str, Any]:
    return _parser().parse(file_path=path)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


@dataclass(frozen=True)
class Resource:
    file: Path
    symbol: str
    type: str
    api_version: str
    existing: bool
    body: dict[str, Any]
    condition: Any = None
    loop: Any = None
    decorators: list[Any] = field(default_factory=list)

    @property
    def type_api(self) -> str:
        return f"{self.type}@{self.api_version}"


def unwrap(config: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    """(body, condition, loop) of a resource or module declaration."""
    condition = loop = None
    while isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config):
        if "loop_type" in config:
            loop = config["loop_type"]
        if config.get("condition") is not None:
            condition = config["condition"]
        config = config["config"]
    return config, condition, loop


def resources(path: Path) -> dict[str, Resource]:
    out = {}
    for symbol, decl in (parse(path).get("resources") or {}).items():
        body, condition, loop = unwrap(decl["config"])
        out[symbol] = Resource(path, symbol, decl["type"], decl["api_version"], bool(decl.get("existing")),
                               body, condition, loop, decl.get("decorators") or [])
    return out


def all_resources() -> list[Resource]:
    return [r for path in bicep_files() for r in resources(path).values()]


def resources_of_type(type_name: str) -> list[Resource]:
    return [r for r in all_resources() if r.type.lower() == type_name.lower()]


def one_resource(type_name: str, **match: Any) -> Resource:
    found = [r for r in resources_of_type(type_name) if all(r.body.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one {type_name} {match or ''}, found {[(rel(r.file), r.symbol) for r in found]}"
    return found[0]


@dataclass(frozen=True)
class Module:
    file: Path
    symbol: str
    target: Path
    body: dict[str, Any]
    condition: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return self.body.get("params") or {}


def modules(path: Path) -> dict[str, Module]:
    out = {}
    for symbol, decl in (parse(path).get("modules") or {}).items():
        body, condition, _ = unwrap(decl["config"])
        target = (path.parent / decl["detail"]["path"]).resolve()
        out[symbol] = Module(path, symbol, target, body, condition)
    return out


def parameters(path: Path) -> dict[str, dict[str, Any]]:
    return parse(path).get("parameters") or {}


def variables(path: Path) -> dict[str, Any]:
    return {name: decl["value"] for name, decl in (parse(path).get("variables") or {}).items()}


def outputs(path: Path) -> dict[str, dict[str, Any]]:
    return parse(path).get("outputs") or {}


def decorator_types(decl: dict[str, Any]) -> set[str]:
    return {d.get("type") for d in decl.get("decorators") or []}


def is_required(param: dict[str, Any]) -> bool:
    return param.get("default") is None


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def strings(node: Any) -> list[str]:
    return [n for n in walk(node) if isinstance(n, str)]


def functions(node: Any, name: str) -> list[dict[str, Any]]:
    """Every call of the function `name` (pycep's snake_case name, e.g. load_text_content) inside `node`."""
    found = []
    for n in walk(node):
        if isinstance(n, dict) and isinstance(n.get("function"), dict) and n["function"].get("type") == name:
            found.append(n["function"].get("parameters") or {})
    return found


def references(node: Any) -> set[str]:
    """Identifiers an expression dereferences: `x.y`, `${x.y}`, `x[...]`, plus dependsOn/parent/scope entries."""
    refs: set[str] = set()

    def visit(n: Any, key: str | None = None) -> None:
        if isinstance(n, str):
            for inner in _INTERPOLATION.findall(n):
                refs.update(_ROOT_IDENTIFIER.findall(inner))
            if key in ("dependsOn", "parent", "scope") and re.fullmatch(r"[A-Za-z_]\w*", n):
                refs.add(n)
            return
        if isinstance(n, list):
            for item in n:
                visit(item, key)
            return
        if isinstance(n, dict):
            operator = n.get("operator")
            if isinstance(operator, dict) and operator.get("type") in ("property_accessor", "index_accessor"):
                first = (operator.get("operands") or {}).get("operand_1")
                if isinstance(first, str) and re.fullmatch(r"[A-Za-z_]\w*", first):
                    refs.add(first)
            for k, v in n.items():
                visit(v, k)

    visit(node)
    return refs


def resolve(path: Path, value: Any, depth: int = 0) -> Any:
    """Follow a bare variable name to the variable's value (a few levels deep)."""
    vars_ = variables(path)
    while isinstance(value, str) and value in vars_ and depth < 10:
        value = vars_[value]
        depth += 1
    return value


def auth_settings_document() -> dict[str, Any]:
    return json.loads(AUTH_SETTINGS.read_text())


def replace_chain(path: Path, expression: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """Unwind nested replace(replace(x, a, b), c, d) into (x, [(a, b), (c, d)]), following variables."""
    pairs: list[tuple[str, Any]] = []
    expression = resolve(path, expression)
    while isinstance(expression, dict) and expression.get("function", {}).get("type") == "replace":
        params = expression["function"]["parameters"]
        pairs.append((params["old_string"], params["new_string"]))
        expression = resolve(path, params["original_string"])
    return expression, list(reversed(pairs))


_ROOT_IN_EXPRESSION = re.compile(r"(?<![\w.'$])([A-Za-z_]\w*)(?!\s*\()(?!\w)")


def root_references(node: Any) -> set[str]:
    """Symbols an expression starts from (the `a` of `a.b.c`, `a[0]`, `${a.b}`), not property names.

    Bare identifiers that pycep returns as plain strings cannot be told from string literals, so they are not
    counted: the result has no false positives, and misses those.
    """
    refs: set[str] = set()

    def visit(n: Any, tail: bool = False) -> None:
        if isinstance(n, str):
            for inner in _INTERPOLATION.findall(n):
                without_literals = re.sub(r"'[^']*'", "''", inner)
                refs.update(_ROOT_IN_EXPRESSION.findall(without_literals))
            return
        if isinstance(n, list):
            for item in n:
                visit(item)
            return
        if not isinstance(n, dict):
            return
        operator = n.get("operator")
        if isinstance(operator, dict) and operator.get("type") in ("property_accessor", "index_accessor"):
            operands = operator.get("operands") or {}
            first, second = operands.get("operand_1"), operands.get("operand_2")
            if isinstance(first, str):
                if not tail and re.fullmatch(r"[A-Za-z_]\w*", first):
                    refs.add(first)
            else:
                visit(first, tail)
            visit(second, tail=operator["type"] == "property_accessor")
            return
        for value in n.values():
            visit(value)

    visit(node)
    return refs


def local_names(node: Any) -> set[str]:
    """Loop and lambda variables declared inside `node`."""
    names: set[str] = set()
    for n in walk(node):
        if not isinstance(n, dict):
            continue
        detail = n.get("detail") if n.get("type") == "lambda_expression" else None
        if isinstance(detail, dict):
            names.update(v for k, v in detail.items() if k.startswith("var_") and isinstance(v, str))
        loop = n.get("loop_type")
        if isinstance(loop, dict):
            names.update(v for k, v in (loop.get("detail") or {}).items()
                         if k in ("item_name", "index_name") and isinstance(v, str))
    return names


def declared_symbols(path: Path) -> set[str]:
    document = parse(path)
    return (set(document.get("parameters") or {}) | set(document.get("variables") or {})
            | set(document.get("resources") or {}) | set(document.get("modules") or {}) | local_names(document))


def identifier_uses(path: Path) -> tuple[set[str], set[str]]:
    """(identifiers used as values, lambda parameters) from pycep's syntax tree, where a bare identifier (a
    STRING token) and a quoted literal are told apart. Property names after a `.` and object keys are skipped."""
    from lark import Token, Tree

    tree = _parser()._create_tree(text=path.read_text(), file_path=None)
    used: set[str] = set()
    lambda_params: set[str] = set()

    def visit(node: Any, tail: bool = False) -> None:
        if not isinstance(node, Tree):
            return
        if node.data == "key":
            return
        if node.data == "string":
            token = node.children[0]
            if isinstance(token, Token) and token.type == "STRING" and not tail:
                used.add(str(token))
            return
        if node.data == "property_accessor":
            first, second = node.children[0], node.children[-1]
            visit(first, tail)
            visit(second, tail=True)
            return
        if node.data == "lambda_expression":
            *params, body = node.children
            for param in params:
                if isinstance(param, Tree) and param.data == "string":
                    lambda_params.add(str(param.children[0]))
            visit(body)
            return
        children = node.children
        if tail and node.data == "operator":
            visit(children[0], tail=True)
            return
        if tail and children:
            visit(children[0], tail=True)
            for child in children[1:]:
                visit(child)
            return
        for child in children:
            visit(child)

    visit(tree)
    return used, lambda_params
