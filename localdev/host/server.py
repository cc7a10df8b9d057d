"""The aiohttp application that stands in for the Functions host's HTTP front end.

Routing follows the host: every HTTP trigger lives under host.json's `routePrefix`, templates match
case-insensitively, an unknown route is a 404 and a known route with another method a 405. A function that
raises becomes a 500 with a generic body; the stack trace goes to the host's log only, so nothing internal
leaks to callers.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from aiohttp import web

from localdev.host.app_loader import HttpFunction
from localdev.host.invoker import FunctionTimeout, Invoker, build_http_request
from localdev.host.problems import problem_response
from localdev.host.routing import RouteMatch, Router

log = logging.getLogger("localdev.host")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


@dataclass
class FunctionRoutes:
    """Maps request paths under the route prefix to HTTP functions."""

    route_prefix: str
    functions: list[HttpFunction]
    router: Router[HttpFunction] = field(default_factory=Router)

    def __post_init__(self) -> None:
        self.route_prefix = self.route_prefix.strip("/")
        for function in self.functions:
            self.router.add(function.route, function.methods, function)

    def public_path(self, function: HttpFunction) -> str:
        parts = [p for p in (self.route_prefix, function.route.strip("/")) if p]
        return "/" + "/".join(parts)

    def resolve(self, path: str, method: str) -> RouteMatch[HttpFunction] | None | frozenset[str]:
        prefix = self.route_prefix.lower()
        if prefix:
            lowered = path.lower()
            if lowered != "/" + prefix and not lowered.startswith("/" + prefix + "/"):
                return None
            path = path[len(prefix) + 1:]
        return self.router.resolve(path, method)


class FunctionHandler:
    """The catch-all aiohttp handler that dispatches to functions."""

    def __init__(self, routes: FunctionRoutes, invoker: Invoker) -> None:
        self.routes = routes
        self.invoker = invoker

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        # Route on the raw path: segments are decoded once, after splitting, so `%2F` stays inside a segment.
        resolved = self.routes.resolve(request.rel_url.raw_path, request.method)
        if resolved is None:
            return problem_response(404, "not_found", "Not Found", "No function matches this path.")
        if isinstance(resolved, frozenset):
            return problem_response(405, "method_not_allowed", "Method Not Allowed",
                                    f"{request.method} is not allowed here.",
                                    headers={"Allow": ", ".join(sorted(resolved))})
        function = resolved.target
        body = await request.read()
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        http_request = build_http_request(request.method, str(request.url), request.headers, query,
                                          resolved.params, body)
        try:
            return await self.invoker.invoke(function, http_request)
        except FunctionTimeout as exc:
            log.error("%s", exc)
            return problem_response(500, "function_timeout", "Internal Server Error",
                                    "The function did not finish within the host's functionTimeout.")
        except Exception:
            # The caller gets a generic answer; the details are for whoever runs the host.
            log.exception("function %s failed", function.name)
            return problem_response(500, "internal_error", "Internal Server Error",
                                    "The function failed; see the host log.")


def build_application(
    routes: FunctionRoutes, invoker: Invoker, *, middlewares: Iterable[Middleware] = (),
    extra_routes: Iterable[web.AbstractRouteDef] = (),
) -> web.Application:
    """Extra routes (App Service auth endpoints, the durable HTTP API) are matched before the functions."""
    app = web.Application(middlewares=list(middlewares), client_max_size=100 * 1024 * 1024)
    app.add_routes(list(extra_routes))
    # `(?s:...)`: a decoded path may contain a newline (`%0A`); the function router decides about it too.
    app.router.add_route("*", "/{tail:(?s:.*)}", FunctionHandler(routes, invoker))
    return app
