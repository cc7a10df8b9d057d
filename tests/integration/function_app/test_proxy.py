"""Outbound calls honour HTTPS_PROXY / NO_PROXY (as a CONNECT tunnel, the TLS inside still verified against
CA_BUNDLE), although sessions ignore the environment for everything else (REQUESTS_CA_BUNDLE included)."""
from __future__ import annotations

import select
import socket
import threading
from typing import Any, Iterator

import pytest

from function_app import services
from tests.integration.function_app.test_profile_api import as_user, call, problem, user_token


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that records the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            method, target = request.split(b" ", 2)[:2]
            if method != b"CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.decode().rsplit(":", 1)
            self.tunnels.append(target.decode())
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                sockets = [client, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 10)
                    if not readable:
                        return
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is client else client).sendall(data)

    def close(self) -> None:
        self._running = False
        self._server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


def hostport(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0]


def test_calls_go_through_the_configured_proxy(backend: Any, proxy: ConnectProxy,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    services.reset()
    assert call("get-profile", as_user(user_token(backend))).status_code == 200
    assert hostport(backend.entra_url) in proxy.tunnels  # discovery, JWKS and the exchange
    assert hostport(backend.graph_url) in proxy.tunnels


def test_no_proxy_hosts_are_reached_directly(backend: Any, proxy: ConnectProxy,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    services.reset()
    assert call("get-profile", as_user(user_token(backend))).status_code == 200
    assert proxy.tunnels == []


def test_an_unreachable_proxy_is_a_clear_503(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    services.reset()
    problem(call("get-profile", as_user(user_token(backend))), 503, "identity_unavailable")


def test_the_environment_alone_sends_nothing_through_a_proxy(backend: Any, proxy: ConnectProxy,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Lower-case variables are read too; ALL_PROXY and the like (which requests would pick up) are not."""
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    services.reset()
    assert call("get-profile", as_user(user_token(backend))).status_code == 200
    assert proxy.tunnels == []
