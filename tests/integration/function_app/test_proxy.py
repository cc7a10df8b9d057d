"""Outbound calls honour HTTPS_PROXY / NO_PROXY (as a CONNECT tunnel, the TLS inside still verified against
CA_BUNDLE), although sessions ignore the environment for everything else (REQUESTS_CA_BUNDLE included)."""
from __future__ import annotations

import socket
from typing import Any

import pytest

from function_app import services
from tests.fixtures.connect_proxy import ConnectProxy
from tests.integration.function_app.test_profile_api import as_user, call, problem, user_token


@pytest.fixture
def proxy(connect_proxy: ConnectProxy) -> ConnectProxy:  # the name these tests use
    return connect_proxy


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
