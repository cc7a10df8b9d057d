"""CORS as Core Tools applies it from the `Host.CORS` / `Host.CORSCredentials` of local.settings.json.

On Azure, CORS is handled by the platform in front of App Service authentication, so a browser's preflight
(which never carries credentials) is answered before authentication runs; this middleware therefore sits
outside the authentication middleware. Without configured origins it does nothing.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Cors:
    def __init__(self, origins: tuple[str, ...], *, credentials: bool = False) -> None:
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/").lower() for o in origins if o != "*")
        self.credentials = credentials

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    def _allow_origin(self, origin: str) -> str:
        # With credentials the origin must be echoed; `*` is not allowed by browsers then.
        return "*" if self.any_origin and not self.credentials else origin

    def _decorate(self, response: web.StreamResponse, origin: str) -> None:
        response.headers["Access-Control-Allow-Origin"] = self._allow_origin(origin)
        response.headers.add("Vary", "Origin")
        if self.credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origin:
            return await handler(request)
        requested_method = request.headers.get("Access-Control-Request-Method")
        if request.method == "OPTIONS" and requested_method:
            response = web.Response(status=204)
            if self.allows(origin):
                self._decorate(response, origin)
                response.headers["Access-Control-Allow-Methods"] = requested_method
                requested_headers = request.headers.get("Access-Control-Request-Headers")
                if requested_headers:
                    response.headers["Access-Control-Allow-Headers"] = requested_headers
            return response
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
            if self.allows(origin):
                self._decorate(response, origin)
            raise
        if self.allows(origin):
            self._decorate(response, origin)
        return response
