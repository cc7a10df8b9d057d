"""Evaluates Bicep expressions offline, so that tests can run the templates' own `fail()` checks.

No Bicep compiler exists here, so this walks pycep-parser's syntax tree (where a bare identifier and a quoted
string are told apart) and computes parameter defaults, variables and outputs for given parameter values,
with the subset of the Bicep function library the templates use. `fail(message)` raises `DeploymentFailed`
with the message, as a deployment would stop with it. Anything outside the subset raises `Unsupported`, so a
test never passes on an expression this module cannot compute.

pycep's grammar has no operator precedence (`a == b ? x : y` parses as `a == (b ? x : y)`), so the templates
parenthesize every compound condition; with parentheses both parsers agree.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote

from lark import Token, Tree

from tests.infra.bicep_model import _parser

PUBLIC_CLOUD = {
    "name": "AzureCloud",
    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": []},
    "resourceManager": "https://management.azure.com/",
}
TEST_TENANT = "33333333-3333-4333-8333-333333333333"
TEST_SUBSCRIPTION = "44444444-4444-4444-8444-444444444444"


_DECLARATIONS = ("param", "var", "output", "resource", "module")


class DeploymentFailed(Exception):
    """A `fail()` call was reached: the deployment would stop with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unsupported(Exception):
    """The expression needs something this evaluator does not model (a resource's runtime state, a function)."""


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "equals_case_insens": lambda a, b: str(a).lower() == str(b).lower(),
    "not_equals_case_insens": lambda a, b: str(a).lower() != str(b).lower(),
    "greater_than": lambda a, b: a > b,
    "greater_than_or_equals": lambda a, b: a >= b,
    "less_than": lambda a, b: a < b,
    "less_than_or_equals": lambda a, b: a <= b,
}


@dataclass
class Template:
    """One Bicep file with parameter values; `var`, `output` and `param` evaluate on demand."""

    path: Path
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: Mapping[str, Any] = field(default_factory=dict)  # stand-ins for resources and modules

    def __post_init__(self) -> None:
        tree = _parser()._create_tree(text=self.path.read_text(), file_path=None)
        self._params: dict[str, Tree] = {}
        self._vars: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}
        self.resources: dict[str, Tree] = {}
        self.modules: dict[str, Tree] = {}
        for element in tree.children:
            if not isinstance(element, Tree) or element.data not in _DECLARATIONS:
                continue
            name = _name_of(element)
            if element.data == "param":
                self._params[name] = element
            elif element.data == "var":
                self._vars[name] = element.children[-1]
            elif element.data == "output":
                self._outputs[name] = element.children[-1]
            elif element.data == "resource":
                self.resources[name] = element.children[-1]
            elif element.data == "module":
                self.modules[name] = element.children[-1]
        unknown = set(self.params) - set(self._params)
        if unknown:
            raise KeyError(f"{self.path.name} declares no parameters {sorted(unknown)}")
        self._cache: dict[str, Any] = {}

    # -- declarations -------------------------------------------------------------------------------------

    def param(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        default = self._params[name].children[-1]
        if not isinstance(default, Tree) or default.data == "data_type":
            raise KeyError(f"parameter {name} has no default and no value was given")
        return self.evaluate(default)

    def var(self, name: str) -> Any:
        key = f"var:{name}"
        if key not in self._cache:
            self._cache[key] = self.evaluate(self._vars[name])
        return self._cache[key]

    def output(self, name: str) -> Any:
        return self.evaluate(self._outputs[name])

    def resource_body(self, symbol: str) -> Tree:
        return _unwrap_condition(self.resources[symbol])[1]

    def module_body(self, symbol: str) -> Tree:
        return _unwrap_condition(self.modules[symbol])[1]

    def resource_condition(self, symbol: str) -> Any:
        condition, _ = _unwrap_condition(self.resources[symbol])
        return True if condition is None else self.evaluate(condition)

    def module_condition(self, symbol: str) -> Any:
        condition, _ = _unwrap_condition(self.modules[symbol])
        return True if condition is None else self.evaluate(condition)

    def property(self, body: Tree, *path: str) -> Any:
        """Evaluate `body.path[0].path[1]...` of an object literal without evaluating its siblings."""
        node: Any = body
        for key in path:
            if not (isinstance(node, Tree) and node.data == "object"):
                raise Unsupported(f"{'.'.join(path)}: {key} is not inside an object literal")
            pairs = {_key_text(pair.children[0]): pair.children[1] for pair in node.children
                     if isinstance(pair, Tree) and pair.data == "pair"}
            if key not in pairs:
                raise KeyError(f"no property {key} (has {sorted(pairs)})")
            node = pairs[key]
        return self.evaluate(node)

    # -- expressions --------------------------------------------------------------------------------------

    def evaluate(self, node: Any, scope: Mapping[str, Any] | None = None) -> Any:
        scope = scope or {}
        if isinstance(node, Token):
            return self._token(node, scope)
        if not isinstance(node, Tree):
            raise Unsupported(f"unexpected node {node!r}")
        kind = node.data
        if kind == "string":
            return self._token(node.children[0], scope)
        if kind == "int_type":
            return int(node.children[0])
        if kind in ("true", "false"):
            return kind == "true"
        if kind == "null":
            return None
        if kind == "array":
            return [self.evaluate(child, scope) for child in node.children if isinstance(child, Tree)]
        if kind == "object":
            return {_key_text(pair.children[0]): self.evaluate(pair.children[1], scope)
                    for pair in node.children if isinstance(pair, Tree) and pair.data == "pair"}
        if kind == "operator":
            return self._operator(node.children[0], scope)
        if kind == "function":
            return self._function(node, scope)
        if kind == "lambda_expression":
            *names, body = node.children
            variables = [str(n.children[0]) for n in names]
            return lambda *args: self.evaluate(body, {**scope, **dict(zip(variables, args))})
        raise Unsupported(f"node type {kind}")

    def _token(self, token: Any, scope: Mapping[str, Any]) -> Any:
        text = str(token)
        if token.type == "STRING":
            return self._identifier(text, scope)
        if text.startswith("'") and text.endswith("'"):
            return self._interpolate(text[1:-1], scope)
        raise Unsupported(f"token {token.type} {text!r}")

    def _identifier(self, name: str, scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        if name in self._vars:
            return self.var(name)
        if name in self._params:
            return self.param(name)
        if name in self.symbols:
            return self.symbols[name]
        raise Unsupported(f"{name} is a resource or module (pass a stand-in in symbols) or undeclared")

    def _interpolate(self, body: str, scope: Mapping[str, Any]) -> str:
        out, i = [], 0
        while i < len(body):
            char = body[i]
            if char == "\\" and i + 1 < len(body):
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(body[i + 1], body[i + 1]))
                i += 2
            elif body.startswith("${", i):
                end, depth = i + 2, 1
                while depth:
                    depth += {"{": 1, "}": -1}.get(body[end], 0)
                    end += 1
                out.append(_as_text(self._inline(body[i + 2:end - 1], scope)))
                i = end
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _inline(self, expression: str, scope: Mapping[str, Any]) -> Any:
        tree = _parser()._create_tree(text=f"var inline = {expression}\n", file_path=None)
        return self.evaluate(tree.children[0].children[-1], scope)

    def _operator(self, node: Tree, scope: Mapping[str, Any]) -> Any:
        kind, operands = node.data, node.children
        if kind == "conditional":
            condition, if_true, if_false = operands
            return self.evaluate(if_true if _truth(self.evaluate(condition, scope)) else if_false, scope)
        if kind == "and_op":
            return _truth(self.evaluate(operands[0], scope)) and _truth(self.evaluate(operands[1], scope))
        if kind == "or_op":
            return _truth(self.evaluate(operands[0], scope)) or _truth(self.evaluate(operands[1], scope))
        if kind == "not_op":
            return not _truth(self.evaluate(operands[0], scope))
        if kind in _COMPARISONS:
            return _COMPARISONS[kind](self.evaluate(operands[0], scope), self.evaluate(operands[1], scope))
        if kind == "minus":
            return -self.evaluate(operands[0], scope)
        if kind in ("add", "substract"):
            left, right = self.evaluate(operands[0], scope), self.evaluate(operands[1], scope)
            return left + right if kind == "add" else left - right
        if kind == "index_accessor":
            container, index = self.evaluate(operands[0], scope), self.evaluate(operands[1], scope)
            return _index(container, index)
        if kind == "property_accessor":
            return self._path(self.evaluate(operands[0], scope), operands[1], scope)
        raise Unsupported(f"operator {kind}")

    def _path(self, value: Any, rest: Any, scope: Mapping[str, Any]) -> Any:
        # pycep nests a.b.c as accessor(a, accessor(b, c)): walk the right-hand chain.
        if isinstance(rest, Tree) and rest.data == "operator" and rest.children[0].data == "property_accessor":
            head, tail = rest.children[0].children
            return self._path(_index(value, _property_name(head)), tail, scope)
        return _index(value, _property_name(rest))

    def _function(self, node: Tree, scope: Mapping[str, Any]) -> Any:
        name = str(node.children[0]).rstrip("(").strip()
        args = [child for child in node.children[1:] if isinstance(child, Tree)]
        if name == "fail":
            raise DeploymentFailed(str(self.evaluate(args[0], scope)))
        if name in ("loadJsonContent", "loadTextContent"):
            text = (self.path.parent / self.evaluate(args[0], scope)).read_text()
            return json.loads(text) if name == "loadJsonContent" else text
        values = [self.evaluate(arg, scope) for arg in args]
        if name not in _FUNCTIONS:
            raise Unsupported(f"function {name}()")
        return _FUNCTIONS[name](*values)


def _name_of(element: Tree) -> str:
    for child in element.children:
        if isinstance(child, Token) and child.type == "STRING":
            return str(child)
    raise Unsupported(f"unnamed {element.data}")


def _unwrap_condition(value: Any) -> tuple[Any, Any]:
    if isinstance(value, Tree) and value.data == "deploy_condition":
        parts = [child for child in value.children if isinstance(child, Tree)]
        return parts[0], parts[-1]
    return None, value


def _key_text(key: Any) -> str:
    text = str(key.children[0] if isinstance(key, Tree) else key)
    return text[1:-1] if text.startswith("'") else text


def _property_name(node: Any) -> str:
    if isinstance(node, Tree) and node.data == "string":
        return str(node.children[0])
    raise Unsupported(f"property access by {node!r}")


def _index(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        if key not in container:
            raise DeploymentFailed(f"The language expression property '{key}' does not exist")
        return container[key]
    if isinstance(container, list):
        return container[key]
    raise Unsupported(f"indexing {type(container).__name__}")


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Unsupported(f"a condition evaluated to {value!r}, not a bool")
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or len(value) == 0


def _union(*values: Any) -> Any:
    if all(isinstance(v, list) for v in values):
        merged: list[Any] = []
        for value in values:
            merged.extend(item for item in value if item not in merged)
        return merged
    if all(isinstance(v, Mapping) for v in values):
        out: dict[str, Any] = {}
        for value in values:
            out.update(value)
        return out
    raise Unsupported("union() of mixed types")


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item) in container
    return item in container


def _unique_string(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:13]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "split": lambda text, delimiter: str(text).split(delimiter),
    "filter": lambda items, predicate: [item for item in items if _truth(predicate(item))],
    "map": lambda items, mapping: [mapping(item) for item in items],
    "empty": _empty,
    "contains": _contains,
    "length": len,
    "join": lambda items, delimiter: delimiter.join(_as_text(item) for item in items),
    "union": _union,
    "concat": lambda *values: ("".join(map(_as_text, values)) if all(isinstance(v, str) for v in values)
                               else [item for value in values for item in value]),
    "toLower": lambda text: str(text).lower(),
    "toUpper": lambda text: str(text).upper(),
    "trim": lambda text: str(text).strip(),
    "startsWith": lambda text, prefix: str(text).lower().startswith(str(prefix).lower()),
    "endsWith": lambda text, suffix: str(text).lower().endswith(str(suffix).lower()),
    "replace": lambda text, old, new: str(text).replace(old, new),
    "substring": lambda text, start, length=None: str(text)[start:None if length is None else start + length],
    "first": lambda items: items[0] if len(items) else None,
    "last": lambda items: items[-1] if len(items) else None,
    "take": lambda items, count: items[:count],
    "skip": lambda items, count: items[count:],
    "objectKeys": lambda value: list(value),
    "uriComponent": lambda text: quote(str(text), safe="-_.!~*'()"),
    "int": lambda value: int(value),
    "string": _as_text,
    "json": json.loads,
    "min": min,
    "max": max,
    "environment": lambda: PUBLIC_CLOUD,
    "tenant": lambda: {"tenantId": TEST_TENANT},
    "subscription": lambda: {"id": f"/subscriptions/{TEST_SUBSCRIPTION}", "subscriptionId": TEST_SUBSCRIPTION},
    "uniqueString": _unique_string,
    "guid": lambda *parts: str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(map(str, parts)))),
}
