"""The linked-backend hop: what a Static Web App does to a request for `/api/*` before its linked backend sees it.

The SWA CLI forwards API requests with their headers unchanged; a Static Web App in Azure does not. This proxy
sits between the two (`swa start --api-devserver-url` points at it) and, for `/api/*`:

- replaces `Authorization` with a platform token of its own (platform_token.py), whatever the caller sent;
- keeps every other header, `X-User-Authorization` and `X-MS-CLIENT-PRINCIPAL` included;
- adds the forwarding headers a reverse proxy adds (`X-Forwarded-For`, `-Host`, `-Proto`, and
  `X-MS-Original-URL` when the SWA CLI did not set it) and sends `Host` for the backend it calls.

Other paths pass through unchanged (the SWA CLI only sends `/api/*` here). Hop-by-hop headers are dropped in
both directions. A backend that does not answer gets 502 problem+json `backend_unavailable` ("Backend call
failure" is what a Static Web App shows then).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from localdev.host.problems import problem_response
from localdev.linked_backend import platform_token
from localdev.linked_backend.keys import PlatformKey

log = logging.getLogger("localdev.linked_backend")

API_PREFIX = "/api/"
# RFC 9110 section 7.6.1; `Host` and the body framing are set for the next hop.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade"})
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
MAX_BODY_BYTES = 100 * 1024 * 1024  # the local host's own limit


def _connection_tokens(headers: Mapping[str, str]) -> set[str]:
    """Header names a `Connection` header marks as hop-by-hop."""
    getall = getattr(headers, "getall", None)
    values = getall("Connection", []) if getall is not None else [headers.get("Connection", "")]
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}


def is_api_path(path: str) -> bool:
    return path.lower().startswith(API_PREFIX)


def site_principal(headers: Mapping[str, str]) -> str:
    """The principal for the token's `prn`: what the SWA CLI's own sign-in put in X-MS-CLIENT-PRINCIPAL, if it
    is base64 JSON, else an anonymous one (this app signs users in with MSAL.js, not with the site)."""
    value = headers.get("X-MS-CLIENT-PRINCIPAL", "").strip()
    if value:
        try:
            if isinstance(json.loads(base64.b64decode(value, validate=True)), dict):
                return value
        except (binascii.Error, ValueError):
            pass
    return platform_token.anonymous_principal()


def forwarded_headers(incoming: CIMultiDict[str], *, remote: str | None, scheme: str, path_qs: str,
                      backend_netloc: str, platform_authorization: str | None) -> CIMultiDict[str]:
    """The headers the backend receives. `platform_authorization` (a whole `Bearer ...` value) replaces every
    `Authorization` the caller sent; None forwards them unchanged."""
    dropped = NOT_FORWARDED | _connection_tokens(incoming)
    if platform_authorization is not None:
        dropped = dropped | {"authorization"}
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in incoming.items() if name.lower() not in dropped)
    original_host = incoming.get("Host", "")
    headers["Host"] = backend_netloc
    if platform_authorization is not None:
        headers["Authorization"] = platform_authorization
    if remote:
        previous = incoming.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {remote}" if previous else remote
    headers.setdefault("X-Forwarded-Host", original_host)
    headers.setdefault("X-Forwarded-Proto", scheme)
    headers.setdefault("X-MS-Original-URL", f"{headers['X-Forwarded-Proto']}://{headers['X-Forwarded-Host']}{path_qs}")
    return headers


def response_headers(backend: Mapping[str, str]) -> CIMultiDict[str]:
    dropped = HOP_BY_HOP | {"content-length"} | _connection_tokens(backend)
    return CIMultiDict((name, value) for name, value in backend.items() if name.lower() not in dropped)


class LinkedBackendProxy:
    def __init__(self, backend_url: str, site_host: str, key: PlatformKey) -> None:
        parts = urlsplit(backend_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the backend must be an http(s) URL, not {backend_url!r}")
        self.backend = f"{parts.scheme}://{parts.netloc}"
        self.backend_netloc = parts.netloc
        self.site_host = site_host
        self.key = key
        # The audience is the backend's own URL, as the tokens seen in Azure name the function app's URL.
        self.audience = self.backend
        self._session: aiohttp.ClientSession | None = None

    @property
    def issuer(self) -> str:
        return platform_token.issuer_for(self.site_host)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Bytes pass through as they are: no decompression, no automatic headers, no redirects followed.
            self._session = aiohttp.ClientSession(
                auto_decompress=False, trust_env=False, skip_auto_headers=("User-Agent", "Accept-Encoding"),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    def platform_authorization(self, headers: Mapping[str, str]) -> str:
        claims = platform_token.claims_for(self.site_host, self.audience, site_principal(headers))
        return f"Bearer {platform_token.mint(self.key, claims)}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = is_api_path(request.path)
        headers = forwarded_headers(
            CIMultiDict(request.headers), remote=request.remote, scheme=request.scheme, path_qs=request.raw_path,
            backend_netloc=self.backend_netloc,
            platform_authorization=self.platform_authorization(request.headers) if api else None)
        body = await request.read()
        target = URL(self.backend + request.raw_path, encoded=True)
        try:
            async with self._client().request(request.method, target, headers=headers, data=body or None,
                                              allow_redirects=False) as answer:
                payload = await answer.read()
                return web.Response(status=answer.status, body=payload, headers=response_headers(answer.headers))
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("backend %s did not answer %s %s: %s", self.backend, request.method, request.path,
                        type(exc).__name__)
            return problem_response(502, "backend_unavailable", "Backend call failure",
                                    f"The linked backend ({self.backend}) did not answer; is the Functions app "
                                    f"running?")
