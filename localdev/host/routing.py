"""Route templates as the Functions host understands them.

The Functions host routes HTTP triggers with ASP.NET Core route templates: literal segments match
case-insensitively, `{name}` captures one segment, `{name?}` is optional, `{name=default}` has a default,
`{name:constraint}` restricts the value (int, long, bool, guid, alpha, minlength(n), ... ), and `{*name}`
captures the rest of the path. When several templates match, the most specific wins (literal segments before
constrained parameters before plain parameters before catch-alls), which is what lets `jobs/profile-report`
and `jobs/{id}` live side by side.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Generic, Iterable, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

_PARAM = re.compile(r"^\{(?P<star>\*{1,2})?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>.*)\}$")


class RouteTemplateError(ValueError):
    """A route template the host would refuse to index."""


def _is_int(value: str, bits: int) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value):
        return False
    number = int(value)
    return -(2 ** (bits - 1)) <= number < 2 ** (bits - 1)


def _is_float(value: str) -> bool:
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value):
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_arg(args: list[str], index: int) -> int:
    try:
        return int(args[index])
    except (IndexError, ValueError) as exc:
        raise RouteTemplateError(f"constraint needs an integer argument: {args}") from exc


def _constraint(text: str) -> Callable[[str], bool]:
    """Build the predicate for one `:constraint` of a parameter."""
    match = re.fullmatch(r"(?P<kind>[a-zA-Z]+)(?:\((?P<args>.*)\))?", text)
    if not match:
        raise RouteTemplateError(f"unsupported route constraint {text!r}")
    kind = match.group("kind").lower()
    raw_args = match.group("args")
    args = [a.strip() for a in raw_args.split(",")] if raw_args is not None else []
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: _is_int(v, 32),
        "long": lambda v: _is_int(v, 64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
        "decimal": _is_float,
        "double": _is_float,
        "float": _is_float,
        "datetime": _is_datetime,
    }
    if kind in simple:
        return simple[kind]
    if kind == "minlength":
        n = _int_arg(args, 0)
        return lambda v: len(v) >= n
    if kind == "maxlength":
        n = _int_arg(args, 0)
        return lambda v: len(v) <= n
    if kind == "length":
        if len(args) == 2:
            lo, hi = _int_arg(args, 0), _int_arg(args, 1)
            return lambda v: lo <= len(v) <= hi
        n = _int_arg(args, 0)
        return lambda v: len(v) == n
    if kind == "min":
        n = _int_arg(args, 0)
        return lambda v: _is_int(v, 64) and int(v) >= n
    if kind == "max":
        n = _int_arg(args, 0)
        return lambda v: _is_int(v, 64) and int(v) <= n
    if kind == "range":
        lo, hi = _int_arg(args, 0), _int_arg(args, 1)
        return lambda v: _is_int(v, 64) and lo <= int(v) <= hi
    if kind == "regex":
        # ASP.NET regex constraints are case-insensitive and not anchored unless the pattern anchors itself;
        # braces inside a template are escaped by doubling them.
        source = (raw_args or "").replace("{{", "{").replace("}}", "}")
        pattern = re.compile(source, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    raise RouteTemplateError(f"unsupported route constraint {text!r}")


def _split_constraints(rest: str) -> list[str]:
    """Split `:int:min(1)` into ["int", "min(1)"], keeping colons inside parentheses (regex)."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in rest:
        if char == ":" and depth == 0:
            if current:
                parts.append(current)
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    if current:
        parts.append(current)
    return parts


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    name: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[Callable[[str], bool], ...] = ()

    @property
    def rank(self) -> int:
        """Lower is more specific (ASP.NET route precedence)."""
        if self.literal is not None:
            return 1
        if self.catch_all:
            return 5
        return 3 if self.constraints else 4

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


def _parse_segment(text: str) -> Segment:
    if "{" not in text and "}" not in text:
        if not text:
            raise RouteTemplateError("empty segment in route template")
        return Segment(literal=text.lower())
    match = _PARAM.match(text)
    if not match:
        # Complex segments like `{a}.{b}` exist in ASP.NET but not in any function of this project.
        raise RouteTemplateError(f"unsupported route segment {text!r}")
    rest = match.group("rest")
    default: str | None = None
    optional = False
    if "=" in rest and "(" not in rest.split("=", 1)[0]:
        rest, default = rest.split("=", 1)
    if rest.endswith("?"):
        optional, rest = True, rest[:-1]
    return Segment(
        name=match.group("name"),
        optional=optional,
        default=default,
        catch_all=bool(match.group("star")),
        constraints=tuple(_constraint(c) for c in _split_constraints(rest)),
    )


@dataclass(frozen=True)
class RouteTemplate:
    """One parsed template; `match()` returns route params or None."""

    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> "RouteTemplate":
        stripped = text.strip("/")
        segments = tuple(_parse_segment(s) for s in stripped.split("/")) if stripped else ()
        for index, segment in enumerate(segments):
            if segment.catch_all and index != len(segments) - 1:
                raise RouteTemplateError(f"catch-all parameter must be last in {text!r}")
        names = [s.name for s in segments if s.name]
        if len(names) != len(set(n.lower() for n in names)):
            raise RouteTemplateError(f"duplicate parameter name in {text!r}")
        return cls(text=text, segments=segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.rank for s in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                value = "/".join(parts[index:])
                if value:
                    if not segment.accepts(value):
                        return None
                    params[segment.name or ""] = value
                elif segment.default is not None:
                    params[segment.name or ""] = segment.default
                return params
            if index >= len(parts):
                # Only trailing optional/defaulted parameters may be missing.
                if segment.literal is None and (segment.optional or segment.default is not None):
                    if segment.default is not None:
                        params[segment.name or ""] = segment.default
                    continue
                return None
            value = parts[index]
            if segment.literal is not None:
                if value.lower() != segment.literal:
                    return None
                continue
            if not value or not segment.accepts(value):
                return None
            params[segment.name or ""] = value
        if len(parts) > len(self.segments):
            return None
        return params


def split_path(path: str) -> list[str]:
    """Split a request path into decoded segments (an empty path has no segments)."""
    stripped = path.strip("/")
    return [unquote(p) for p in stripped.split("/")] if stripped else []


@dataclass
class _Entry(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None
    target: T
    order: int


@dataclass
class RouteMatch(Generic[T]):
    target: T
    params: dict[str, str]


@dataclass
class Router(Generic[T]):
    """Finds the function for a path and method; tells 404 (no route) from 405 (route, other method)."""

    entries: list[_Entry[T]] = field(default_factory=list)

    def add(self, template: str, methods: Iterable[str] | None, target: T) -> None:
        method_set = frozenset(m.upper() for m in methods) if methods else None
        self.entries.append(_Entry(RouteTemplate.parse(template), method_set, target, len(self.entries)))
        self.entries.sort(key=lambda e: (e.template.precedence, e.order))

    def resolve(self, path: str, method: str) -> RouteMatch[T] | None | frozenset[str]:
        """A RouteMatch, None when no template matches, or the allowed methods when only the method is wrong."""
        parts = split_path(path)
        allowed: set[str] = set()
        method = method.upper()
        for entry in self.entries:
            params = entry.template.match(parts)
            if params is None:
                continue
            if entry.methods is None or method in entry.methods:
                return RouteMatch(entry.target, params)
            allowed |= entry.methods
        return frozenset(allowed) if allowed else None
