"""How Graph requests travel: kept-alive HTTPS connections to Graph's one origin, with `http.client`.

Why not requests here: a cached get-profile spent about 1.7 ms of its 2.5 ms of CPU in requests and urllib3
(preparing the request, parsing and percent-normalising the URL twice, adapters, cookie extraction, response
wrapping); `http.client` on a kept-alive connection made the same exchange in about 0.4 ms, and `http1`'s
one-send request and small answer parser on the connection `http.client` opened (TCP, tunnel, TLS) in less
(docs/performance.md, "The function's own cost"). What stays as it was:

- TLS is verified against the process's one context per trust store (`http_sessions.client_tls_context`:
  certificate and host name checked), never against what the environment says (REQUESTS_CA_BUNDLE & co.);
- proxies come from the settings: `HTTPS_PROXY` unless `NO_PROXY` matches Graph's host, as a CONNECT tunnel
  (credentials in the proxy URL become `Proxy-Authorization`), TLS verified inside it. An `https://` proxy
  (TLS to the proxy itself) is left to requests: `GraphClient` then sends through a requests session;
- connect and read timeouts apply per call.

The pool keeps at most `max_idle` idle connections. A connection the server closed while it sat idle is
seen before reuse (an idle socket that is readable has reached EOF); a GET that fails on a reused connection
before any answer arrived is sent once more on a new one (it is idempotent), which is what a stale kept-alive
connection looks like. Redirects are never followed: a 3xx is handed back like any other status, so the
user's token only ever goes to Graph's origin.
"""
from __future__ import annotations

import base64
import http.client
import json
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

import requests
from requests.utils import should_bypass_proxies

from . import http1
from .http_sessions import client_tls_context, open_in_parallel
from .settings import Settings

Timeout = tuple[float, float]  # (connect, read) seconds


class GraphTransportError(Exception):
    """No answer from Graph: connection refused, TLS failure, timeout, connection lost. `kind` names it for logs."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class GraphResponse:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive `get`
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


def needs_requests(settings: Settings) -> bool:
    """An https:// proxy (TLS to the proxy itself) is something only requests does here."""
    proxy = settings.https_proxy
    return bool(proxy) and urlsplit(proxy).scheme == "https" and not should_bypass_proxies(
        settings.graph_base_url, no_proxy=settings.no_proxy or "")


class RequestsGraphTransport:
    """The same calls through a requests session: a caller's own session (tests fake Graph with one)."""

    def __init__(self, session: requests.Session) -> None:
        session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the trust store
        self.session = session

    def get(self, url: str, headers: Mapping[str, str], timeout: Timeout) -> GraphResponse:
        try:
            response = self.session.get(url, headers=dict(headers), timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise GraphTransportError(type(exc).__name__) from None
        return GraphResponse(response.status_code, response.headers, response.content)

    def open_idle(self, count: int, connect_timeout: float) -> int:  # noqa: ARG002 - the transports' interface
        """None ahead of traffic: this transport serves an https:// proxy (where nothing is warmed, see
        `http_sessions.open_idle_connections`) and callers' own sessions; it connects on demand."""
        return 0

    def close(self) -> None:
        self.session.close()


class PooledGraphTransport:
    """Kept-alive `http.client` connections to one origin (Graph's), shared by the process's threads."""

    def __init__(self, settings: Settings, *, max_idle: int = 32) -> None:
        base = urlsplit(settings.graph_base_url)
        self._https = base.scheme == "https"
        self._host = base.hostname or ""
        self._port = base.port or (443 if self._https else 80)
        self._origin = f"{base.scheme}://{base.netloc}"
        self._host_header = base.netloc.rpartition("@")[2]  # what http.client sends: host, and a port if given
        self._root = base.path.rstrip("/") + "/"
        self._context = client_tls_context(settings.ca_bundle) if self._https else None
        self._proxy = _tunnel_proxy(settings)
        self._max_idle = max_idle
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self, url: str, headers: Mapping[str, str], timeout: Timeout) -> GraphResponse:
        request = http1.request_bytes("GET", self._target(url), self._host_header, headers)
        connection, reused = self._checkout(timeout[0])
        try:
            return self._exchange(connection, "GET", request, timeout[1])
        except _Stale:
            if not reused:
                raise GraphTransportError("ConnectionError") from None
        connection = self._new_connection(timeout[0])
        try:
            return self._exchange(connection, "GET", request, timeout[1])
        except _Stale:
            raise GraphTransportError("ConnectionError") from None

    def open_idle(self, count: int, connect_timeout: float) -> int:
        """Open connections until `count` (at most the pool's size) are idle, ahead of traffic; how many opened.
        Each carries one `HEAD` of Graph's root, whose answer also consumes the TLS session tickets a server
        sends after the handshake (unread, they would make the idle connection look closed by the server)."""
        with self._lock:
            before = len(self._idle)
        wanted = min(count, self._max_idle) - before

        request = http1.request_bytes("HEAD", self._root, self._host_header, {})

        def warm() -> bool:
            self._exchange(self._new_connection(connect_timeout), "HEAD", request, connect_timeout)
            return True

        open_in_parallel([warm] * max(0, wanted), (GraphTransportError, _Stale))
        with self._lock:  # what is idle now (an answer saying `Connection: close` left nothing behind)
            return max(0, len(self._idle) - before)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _target(self, url: str) -> str:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self._origin:
            raise ValueError("the Graph transport only reaches Graph's own origin")
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _exchange(self, connection: http.client.HTTPConnection, method: str, request: bytes,
                  read_timeout: float) -> GraphResponse:
        try:
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout)
            answer = http1.exchange(connection.sock, method, request)
        except http1.NoAnswer as exc:
            connection.close()
            raise _Stale() from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _failed(connection, exc, timeout="ReadTimeout") from None
        if answer.reusable:
            self._checkin(connection)
        else:
            connection.close()
        return GraphResponse(answer.status, answer.headers, answer.body)

    def _checkout(self, connect_timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._new_connection(connect_timeout), False
            if connection.sock is not None and not _closed_by_peer(connection.sock):
                return connection, True
            connection.close()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _new_connection(self, connect_timeout: float) -> http.client.HTTPConnection:
        host, port = (self._proxy[0], self._proxy[1]) if self._proxy else (self._host, self._port)
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        if self._proxy:
            connection.set_tunnel(self._host, self._port, headers=self._proxy[2])
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as exc:
            raise _failed(connection, exc, timeout="ConnectTimeout") from None
        return connection


class _Stale(Exception):
    """The connection failed before any answer arrived."""


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive socket has nothing to read unless the server closed it (or misbehaves)."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _failed(connection: http.client.HTTPConnection, exc: BaseException, *, timeout: str) -> GraphTransportError:
    """Close the connection that failed and name the failure for logs (`timeout`: which wait ran out)."""
    connection.close()
    return GraphTransportError(timeout if isinstance(exc, socket.timeout) else _kind(exc))


def _kind(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return "SSLError"
    if isinstance(exc, http.client.HTTPException):
        return "ProtocolError"
    return "ConnectionError"


def _tunnel_proxy(settings: Settings) -> tuple[str, int, dict[str, str]] | None:
    """(proxy host, port, CONNECT headers) when Graph is reached through an http:// proxy, else None."""
    proxy = settings.https_proxy
    if not proxy or should_bypass_proxies(settings.graph_base_url, no_proxy=settings.no_proxy or ""):
        return None
    parts = urlsplit(proxy)
    headers: dict[str, str] = {}
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    return parts.hostname or "", parts.port or 80, headers
