"""The API app's Azure credential for real: a managed identity's token as the federated client assertion, from the
emulator's App Service managed-identity endpoint, checked against the federated credential the app registers (as
infra declares it). A mismatch is the operator's to fix: 500 `misconfigured`, never a retry or sign-in loop."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from function_app import services
from tests.integration.function_app.test_profile_api import as_user, call, obo_exchanges, problem, user_token

MANAGED_IDENTITY = "a76a0792-bc1c-4807-94ac-29755209bde7"  # the seed's function-app identity


def use_managed_identity(monkeypatch: pytest.MonkeyPatch, endpoint: str, header: str) -> None:
    monkeypatch.delenv("CLIENT_SECRET", raising=False)
    monkeypatch.setenv("MANAGED_IDENTITY_CLIENT_ID", MANAGED_IDENTITY)
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", header)
    services.reset()


def test_the_managed_identity_is_the_apps_credential(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = backend.config
    use_managed_identity(monkeypatch, config["identity_endpoint"], config["identity_header"])
    assert call("get-profile", as_user(user_token(backend))).status_code == 200
    assert obo_exchanges(backend) == 1


@pytest.fixture
def impostor_identity(backend: Any) -> Iterator[str]:
    """An identity endpoint that hands out the identity's token with another subject: no federated credential
    of the API app names it."""
    token = backend.mint(managed_identity="function-app", claims={"sub": "11111111-2222-3333-4444-555555555555"})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"access_token": token, "expires_on": str(int(time.time()) + 3600),
                               "resource": "api://AzureADTokenExchange", "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/msi/token"
    server.shutdown()


def test_a_federated_credential_that_does_not_match_is_misconfigured(backend: Any, impostor_identity: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    use_managed_identity(monkeypatch, impostor_identity, "any")
    response = call("get-profile", as_user(user_token(backend)))
    body = problem(response, 500, "misconfigured")
    assert body["setting"] == "MANAGED_IDENTITY_CLIENT_ID" and "federated credential" in body["detail"]
    assert "Retry-After" not in response.headers and "WWW-Authenticate" not in response.headers
