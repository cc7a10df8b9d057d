"""The Graph transport against a real HTTPS server: kept-alive connections, stale ones replaced, timeouts, the
configured trust store only, Graph's origin only, redirects handed back, and proxies from the settings."""
from __future__ import annotations

import base64
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from function_app.graph import GraphClient
from function_app.graph_http import GraphTransportError, PooledGraphTransport, RequestsGraphTransport
from function_app.settings import load_settings
from localdev.ca import ensure_certs
from tests.fixtures.connect_proxy import ConnectProxy
from tests.unit.function_app.support import base_env

TIMEOUT = (5.0, 5.0)


class GraphLikeServer:
    """HTTPS on loopback, HTTP/1.1 keep-alive; behaviour per path. Records connections and requests."""

    def __init__(self, certs_dir: Path) -> None:
        certs = ensure_certs(certs_dir)
        self.ca = str(certs.ca)
        self.connections: list[tuple[str, int]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.heads: list[str] = []  # HEAD requests (the warmup function's), apart
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                owner.connections.append(self.client_address)
                self.served = 0

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.served += 1
                path = self.path.split("?")[0]
                if path == "/v1.0/drop-second" and self.served == 2:
                    self.close_connection = True  # a kept-alive connection lost before any answer
                    return
                if path == "/v1.0/slow":
                    time.sleep(1.0)
                if path == "/v1.0/moved":
                    self._reply(302, b"", {"Location": "https://elsewhere.example/me"})
                    return
                self._reply(200, b'{"id": "1"}', {"Content-Type": "application/json"})
                if path == "/v1.0/close-after":
                    self.close_connection = True  # idle connection closed by the server, no header said so

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
                owner.heads.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.server_cert, certs.server_key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://localhost:{self.server.server_address[1]}/v1.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphLikeServer]:
    server = GraphLikeServer(tmp_path_factory.mktemp("tls"))
    yield server
    server.close()


def transport_for(server: GraphLikeServer, **env: str) -> PooledGraphTransport:
    return PooledGraphTransport(load_settings(base_env(CA_BUNDLE=server.ca, GRAPH_BASE_URL=server.base, **env)))


def test_calls_share_one_kept_alive_connection(graph_server: GraphLikeServer) -> None:
    transport = transport_for(graph_server)
    for n in range(5):
        response = transport.get(f"{graph_server.base}/me?%24select=id", {"Authorization": f"Bearer t{n}"}, TIMEOUT)
        assert response.status_code == 200 and response.json() == {"id": "1"}
        assert response.headers.get("content-type") == "application/json"
    assert len(graph_server.connections) == 1
    assert [headers["authorization"] for _, headers in graph_server.requests] == [f"Bearer t{n}" for n in range(5)]
    assert graph_server.requests[0][0] == "/v1.0/me?%24select=id"
    assert graph_server.requests[0][1]["host"] == graph_server.base.split("//")[1].split("/")[0]


def test_a_connection_the_server_closed_while_idle_is_replaced(graph_server: GraphLikeServer) -> None:
    transport = transport_for(graph_server)
    assert transport.get(f"{graph_server.base}/close-after", {}, TIMEOUT).status_code == 200
    time.sleep(0.2)  # the server's close reaches the idle socket
    assert transport.get(f"{graph_server.base}/me", {}, TIMEOUT).status_code == 200
    assert len(graph_server.connections) == 2 and len(graph_server.requests) == 2


def test_a_get_lost_on_a_reused_connection_is_sent_once_more_on_a_new_one(graph_server: GraphLikeServer) -> None:
    transport = transport_for(graph_server)
    assert transport.get(f"{graph_server.base}/drop-second", {}, TIMEOUT).status_code == 200
    assert transport.get(f"{graph_server.base}/drop-second", {}, TIMEOUT).status_code == 200
    assert len(graph_server.connections) == 2 and len(graph_server.requests) == 3


def test_a_read_timeout_is_a_transport_error(graph_server: GraphLikeServer) -> None:
    with pytest.raises(GraphTransportError) as caught:
        transport_for(graph_server).get(f"{graph_server.base}/slow", {}, (5.0, 0.2))
    assert caught.value.kind == "ReadTimeout"


def test_a_server_outside_the_configured_trust_store_is_refused(graph_server: GraphLikeServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", graph_server.ca)  # the environment trusts it; the settings don't
    monkeypatch.setenv("SSL_CERT_FILE", graph_server.ca)
    transport = PooledGraphTransport(load_settings(base_env(GRAPH_BASE_URL=graph_server.base)))
    with pytest.raises(GraphTransportError) as caught:
        transport.get(f"{graph_server.base}/me", {}, TIMEOUT)
    assert caught.value.kind == "SSLError"
    assert graph_server.requests == []


def test_only_graphs_own_origin_is_reached(graph_server: GraphLikeServer) -> None:
    transport = transport_for(graph_server)
    for url in ("https://elsewhere.example/v1.0/me", graph_server.base.replace("https://", "http://") + "/me"):
        with pytest.raises(ValueError):
            transport.get(url, {"Authorization": "Bearer t"}, TIMEOUT)
    assert graph_server.requests == []


def test_a_redirect_is_handed_back_not_followed(graph_server: GraphLikeServer) -> None:
    response = transport_for(graph_server).get(f"{graph_server.base}/moved", {"Authorization": "Bearer t"}, TIMEOUT)
    assert response.status_code == 302 and response.headers.get("Location") == "https://elsewhere.example/me"
    assert len(graph_server.requests) == 1


@pytest.fixture
def proxy(connect_proxy: ConnectProxy) -> ConnectProxy:  # the name these tests use
    return connect_proxy


def test_an_http_proxy_carries_the_tunnel_and_its_credentials(graph_server: GraphLikeServer,
                                                             proxy: ConnectProxy) -> None:
    transport = transport_for(graph_server, HTTPS_PROXY=f"http://bench%40corp:p%3Ass@127.0.0.1:{proxy.port}")
    assert transport.get(f"{graph_server.base}/me", {}, TIMEOUT).status_code == 200
    target = graph_server.base.split("//")[1].split("/")[0]
    assert proxy.requests == [(target, "Basic " + base64.b64encode(b"bench@corp:p:ss").decode())]


def test_no_proxy_hosts_are_reached_directly(graph_server: GraphLikeServer, proxy: ConnectProxy) -> None:
    transport = transport_for(graph_server, HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}", NO_PROXY="localhost")
    assert transport.get(f"{graph_server.base}/me", {}, TIMEOUT).status_code == 200
    assert proxy.tunnels == []


def test_an_https_proxy_is_left_to_requests(graph_server: GraphLikeServer) -> None:
    settings = load_settings(base_env(CA_BUNDLE=graph_server.ca, GRAPH_BASE_URL=graph_server.base,
                                      HTTPS_PROXY="https://proxy.example:8443"))
    assert isinstance(GraphClient(settings).transport, RequestsGraphTransport)
    assert isinstance(GraphClient(load_settings(base_env(GRAPH_BASE_URL=graph_server.base))).transport,
                      PooledGraphTransport)
