"""Warm connections: the warmup function opens `WARM_CONNECTIONS` kept-alive connections to the token endpoint's
origin and to Graph ahead of traffic, in the pools requests use later, and gives up quickly on an origin that is
down. Against a real HTTPS server that records its connections."""
from __future__ import annotations

import logging
import socket
import time

import pytest

from function_app import http_sessions
from function_app.errors import Misconfigured
from function_app.graph import GraphClient
from function_app.graph_http import PooledGraphTransport
from function_app.http_sessions import open_idle_connections, tls_session
from function_app.obo.msal_apps import MsalApps
from function_app.services import Services
from function_app.settings import MAX_WARM_CONNECTIONS, load_settings
from tests.fixtures.waiting import wait_until
from tests.unit.function_app.support import base_env
from tests.unit.function_app.test_graph_http import TIMEOUT, GraphLikeServer, graph_server  # noqa: F401 - fixture


def settings_for(server: GraphLikeServer, **env: str):
    return load_settings(base_env(CA_BUNDLE=server.ca, GRAPH_BASE_URL=server.base, **env))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("raw", "expected"), [(None, 0), ("0", 0), ("16", 16), (str(MAX_WARM_CONNECTIONS), 32)])
def test_warm_connections_is_a_whole_number_up_to_the_pool_size(raw: str | None, expected: int) -> None:
    env = base_env() if raw is None else base_env(WARM_CONNECTIONS=raw)
    assert load_settings(env).warm_connections == expected


@pytest.mark.parametrize("raw", ["33", "-1", "1.5", "eight", "\u0663", "1e1"])
def test_other_warm_connection_counts_are_misconfigured(raw: str) -> None:
    with pytest.raises(Misconfigured) as caught:
        load_settings(base_env(WARM_CONNECTIONS=raw))
    assert caught.value.setting == "WARM_CONNECTIONS" and raw not in caught.value.detail


def test_a_session_gets_its_connections_before_any_request_and_requests_reuse_them(
        graph_server: GraphLikeServer) -> None:  # noqa: F811 - the fixture
    session = tls_session(settings_for(graph_server))
    assert open_idle_connections(session, graph_server.base, 4, 5.0) == 4
    assert wait_until(lambda: len(graph_server.connections) == 4)  # recorded by the server's handler thread
    assert graph_server.requests == [] and graph_server.heads == ["/v1.0"] * 4  # one HEAD each, no GET
    for _ in range(3):
        assert session.get(f"{graph_server.base}/me", timeout=TIMEOUT).status_code == 200
    assert len(graph_server.connections) == 4  # every request found a connection ready
    assert len(graph_server.requests) == 3


def test_nothing_is_warmed_through_a_proxy(graph_server: GraphLikeServer) -> None:  # noqa: F811
    session = tls_session(settings_for(graph_server, HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}"))
    assert open_idle_connections(session, graph_server.base, 4, 5.0) == 0
    assert graph_server.connections == []


def test_an_origin_that_is_down_costs_one_round_of_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3.util.connection

    attempts: list[tuple] = []
    real = urllib3.util.connection.create_connection

    def counted(address, *args, **kwargs):
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    session = tls_session(load_settings(base_env()))
    url = f"https://127.0.0.1:{closed_port()}/tenant"
    started = time.monotonic()
    assert open_idle_connections(session, url, 32, 1.0) == 0
    assert time.monotonic() - started < 5
    assert 1 <= len(attempts) <= http_sessions.WARM_UP_THREADS  # none starts after the first failure
    # The pool is left as it was: a later request connects on demand.
    pools = session.get_adapter(url).poolmanager.pools
    assert all(c is None or c.sock is None for key in pools.keys() for c in list(pools[key].pool.queue))


def test_the_graph_transport_keeps_its_warm_connections_idle_up_to_its_size(
        graph_server: GraphLikeServer) -> None:  # noqa: F811
    transport = PooledGraphTransport(settings_for(graph_server), max_idle=3)
    assert transport.open_idle(5, 5.0) == 3  # capped at what the pool keeps
    assert wait_until(lambda: len(graph_server.connections) == 3)
    assert transport.open_idle(5, 5.0) == 0  # already warm
    assert graph_server.heads == ["/v1.0/"] * 3
    assert transport.get(f"{graph_server.base}/me", {}, TIMEOUT).status_code == 200
    assert len(graph_server.connections) == 3


def test_the_graph_transport_gives_up_on_a_graph_that_is_down() -> None:
    settings = load_settings(base_env(GRAPH_BASE_URL=f"https://127.0.0.1:{closed_port()}/v1.0"))
    started = time.monotonic()
    assert GraphClient(settings).open_connections(16) == 0
    assert time.monotonic() - started < 5


def test_warmup_opens_the_connections_the_setting_asks_for_and_logs_it(
        graph_server: GraphLikeServer, caplog: pytest.LogCaptureFixture,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The graph server stands in for both origins: what matters is that each pool is filled.
    origin = graph_server.base.rsplit("/", 1)[0]
    settings = settings_for(graph_server, WARM_CONNECTIONS="3", AUTHORITY_HOST=origin)
    # No OpenID discovery here: the exchanger's session is the one MSAL would get.
    monkeypatch.setattr(MsalApps, "_shared_client", lambda self: setattr(self, "_http", tls_session(settings)))
    monkeypatch.setattr(MsalApps, "warm_up", lambda self: None)
    monkeypatch.setattr("function_app.auth.jwks.JwksCache.warm", lambda self: None)
    services = Services.build(settings)
    with caplog.at_level(logging.INFO, logger="function_app"):
        services.warm_up()
    lines = [r.getMessage() for r in caplog.records if "warmup_connections" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert "wanted=3" in lines[0] and "identity=3" in lines[0] and "graph=3" in lines[0], lines[0]
    # 3 for the token endpoint, 3 for Graph
    assert wait_until(lambda: len(graph_server.connections) == 6, seconds=10), graph_server.connections


def test_without_the_setting_warmup_opens_nothing(graph_server: GraphLikeServer,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(graph_server)
    monkeypatch.setattr(MsalApps, "warm_up", lambda self: None)
    monkeypatch.setattr("function_app.auth.jwks.JwksCache.warm", lambda self: None)
    Services.build(settings).warm_up()
    time.sleep(0.2)
    assert graph_server.connections == []
