"""Outbound sessions: the configured trust store wins over REQUESTS_CA_BUNDLE, and every connection of a
process shares one TLS context per trust store (building one loads every trusted certificate)."""
from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from function_app.graph import GraphClient
from function_app.http_sessions import SharedContextAdapter, client_tls_context, tls_session
from function_app.obo.msal_http import msal_session
from function_app.settings import load_settings
from localdev.ca import ensure_certs
from tests.unit.function_app.support import base_env


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real HTTPS server on loopback with a certificate from a CA of its own; yields (url, CA file)."""
    certs = ensure_certs(tmp_path_factory.mktemp("tls"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("Connection", "close")  # every request opens a new connection
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}/", str(certs.ca)
    server.shutdown()


def settings_for(ca: str) -> Any:
    return load_settings(base_env(CA_BUNDLE=ca))


def test_the_configured_ca_is_trusted_whatever_requests_ca_bundle_says(
        https_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    for session in (tls_session(settings_for(ca)), msal_session(settings_for(ca))):
        assert session.get(url, timeout=5).text == "ok"
    graph = GraphClient(load_settings(base_env(CA_BUNDLE=ca, GRAPH_BASE_URL=url.rstrip("/"))))
    assert graph.transport.get(url, {}, (5, 5)).content == b"ok"


def test_a_server_outside_the_trust_store_is_refused(https_server: tuple[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # the environment trusts it; the app's settings don't
    with pytest.raises(requests.exceptions.SSLError):
        tls_session(load_settings(base_env())).get(url, timeout=5)


def test_new_connections_reuse_one_context_and_load_no_certificate(https_server: tuple[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = https_server
    session = tls_session(settings_for(ca))
    session.get(url, timeout=5)
    loads: list[Any] = []
    created: list[Any] = []
    real_load = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations",
                        lambda self, *a, **k: (loads.append(a), real_load(self, *a, **k))[1])
    real_new = ssl.SSLContext.__new__
    monkeypatch.setattr(ssl.SSLContext, "__new__", lambda cls, *a, **k: (created.append(a), real_new(cls, *a, **k))[1])
    for _ in range(5):  # the server closes each connection: five new TLS connections
        assert session.get(url, timeout=5).text == "ok"
    assert loads == [] and created == []
    other = tls_session(settings_for(ca))
    assert other.get(url, timeout=5).text == "ok" and loads == [] and created == []


def test_one_context_per_trust_store(tmp_path: Path) -> None:
    certs = ensure_certs(tmp_path)
    adapter = tls_session(settings_for(str(certs.ca))).get_adapter("https://example.test/")
    assert isinstance(adapter, SharedContextAdapter)
    assert client_tls_context(str(Path(certs.ca).resolve())) is client_tls_context(str(Path(certs.ca).resolve()))
    assert client_tls_context(None) is not client_tls_context(str(Path(certs.ca).resolve()))
    context = client_tls_context(None)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
