"""What a worker process other than the first forwards to the first one (`workers.py`).

The durable runtime (its SQLite store and dispatcher) and the timer schedules live in the host's first
process only, as one instance holds a timer's lease on Azure. Any other worker process hands its functions
the first process's `durableClient` binding JSON (the same URLs, on the shared public port) and forwards to
the first process's private loopback port every request that reaches it for the durable HTTP API (from the
SDK's client in its own functions, or from a caller polling a status URL) and for the admin endpoint that
runs a timer function now. Method, path, query, body and end-to-end headers go through unchanged; the answer
comes back as it was.
"""
from __future__ import annotations

from typing import Any, Iterable

import aiohttp
from aiohttp import web
from yarl import URL

# Hop-by-hop headers (RFC 9110 section 7.6.1) and what aiohttp sets itself.
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                            "upgrade", "host", "content-length"})


class FirstProcessProxy:
    """The first process's endpoints, as another worker process serves them: the work is done there."""

    def __init__(self, first_url: str, prefixes: tuple[str, ...], durable_binding: str | None = None) -> None:
        self.first_url = first_url.rstrip("/")
        self._prefixes = prefixes
        self._binding = durable_binding
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [web.route("*", prefix.rstrip("/") + "{tail:(/.*)?}", self._forward) for prefix in self._prefixes]

    def binding_value(self, binding_type: str) -> Any:
        if binding_type != "durableClient" or self._binding is None:
            raise RuntimeError(f"the local host has no value for {binding_type} input bindings")
        return self._binding
    async def start(self) -> None:
        # Loopback only: no proxy from the environment may stand in between.
        self._session = aiohttp.ClientSession(trust_env=False, timeout=aiohttp.ClientTimeout(total=60),
                                              auto_decompress=False)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            raise web.HTTPServiceUnavailable()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        target = URL(self.first_url + request.rel_url.raw_path_qs, encoded=True)
        try:
            async with self._session.request(request.method, target, headers=headers, data=await request.read(),
                                             allow_redirects=False) as upstream:
                body = await upstream.read()
                answer = [(k, v) for k, v in upstream.headers.items()
                          if k.lower() not in _NOT_FORWARDED and k.lower() not in ("date", "server")]
                return web.Response(status=upstream.status, body=body, headers=answer)
        except aiohttp.ClientError:
            raise web.HTTPBadGateway() from None
