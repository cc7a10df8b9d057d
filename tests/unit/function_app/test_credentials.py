"""The API app's credential: client secret, managed-identity federated assertion, certificate."""
from __future__ import annotations

import datetime
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from function_app.errors import IdentityUnavailable, Misconfigured
from function_app.credentials import ManagedIdentityClientAssertion
from function_app.settings import ManagedIdentityAssertion, load_settings
from tests.unit.function_app.support import (FakeIdentityProvider, Reply, Transport, base_env, mint, obo_client,
                                             principal, private_key, session_with)

MI_CLIENT = "0a1b2c3d-0000-0000-0000-000000000001"
MI_ENDPOINT = "http://localhost:42356/msi/token"


class ManagedIdentityEndpoint:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.expires_in = 3600
        self.status = 200

    def __call__(self, request: Any) -> Reply:
        self.calls.append(request)
        if self.status != 200:
            return Reply(self.status, {"error": "x"})
        token = jwt.encode({"aud": "api://AzureADTokenExchange", "sub": MI_CLIENT, "n": len(self.calls)},
                           private_key("mi"), algorithm="RS256")
        return Reply(200, {"access_token": token, "expires_on": str(int(self.now()) + self.expires_in),
                           "resource": "api://AzureADTokenExchange", "token_type": "Bearer"})

    now = staticmethod(lambda: __import__("time").time())


def mi_session(endpoint: ManagedIdentityEndpoint, idp: FakeIdentityProvider | None = None):
    session = session_with(idp.transport) if idp else session_with(Transport(endpoint))
    session.mount("http://", Transport(endpoint))
    return session


def test_managed_identity_assertion_is_fetched_and_cached() -> None:
    endpoint = ManagedIdentityEndpoint()
    clock = [1000.0]
    endpoint.now = lambda: clock[0]
    provider = ManagedIdentityClientAssertion(ManagedIdentityAssertion(MI_CLIENT, MI_ENDPOINT, "secret-header"),
                                              mi_session(endpoint), clock=lambda: clock[0])
    first = provider()
    assert provider() == first and len(endpoint.calls) == 1
    request = endpoint.calls[0]
    query = parse_qs(urlsplit(request.url).query)
    assert query["resource"] == ["api://AzureADTokenExchange"] and query["client_id"] == [MI_CLIENT]
    assert request.headers["X-IDENTITY-HEADER"] == "secret-header"
    clock[0] += 3600 - 200  # inside the refresh margin
    assert provider() != first and len(endpoint.calls) == 2


def test_managed_identity_failures() -> None:
    endpoint = ManagedIdentityEndpoint()
    endpoint.status = 503
    provider = ManagedIdentityClientAssertion(ManagedIdentityAssertion(MI_CLIENT, MI_ENDPOINT, "h"),
                                              mi_session(endpoint))
    with pytest.raises(IdentityUnavailable):
        provider()
    endpoint.status = 400
    with pytest.raises(Misconfigured) as caught:
        provider()
    assert caught.value.setting == "MANAGED_IDENTITY_CLIENT_ID"


def test_obo_with_a_managed_identity_federated_credential() -> None:
    idp, endpoint = FakeIdentityProvider(), ManagedIdentityEndpoint()
    settings = load_settings(base_env(CLIENT_SECRET="", MANAGED_IDENTITY_CLIENT_ID=MI_CLIENT,
                                      IDENTITY_ENDPOINT=MI_ENDPOINT, IDENTITY_HEADER="h"))
    client = obo_client(settings, mi_session(endpoint, idp))
    client.graph_token(principal(), mint())
    other = "9a8b7c6d-2222-4b4b-8d8d-ba9876543210"
    client.graph_token(principal(other), mint(oid=other))
    forms = idp.token_requests
    assert len(forms) == 2
    for form in forms:
        assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
        assert jwt.decode(form["client_assertion"][0], options={"verify_signature": False})["aud"] == \
            "api://AzureADTokenExchange"
        assert "client_secret" not in form
    assert len(endpoint.calls) == 1  # one MI token serves both exchanges


def test_obo_with_a_certificate(tmp_path) -> None:
    key = private_key("cert")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "profile-api")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "api.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    idp = FakeIdentityProvider()
    settings = load_settings(base_env(CLIENT_SECRET="", CLIENT_CERTIFICATE_PATH=str(pem),
                                      CLIENT_CERTIFICATE_THUMBPRINT=thumbprint))
    obo_client(settings, session_with(idp.transport)).graph_token(principal(), mint())
    assertion = idp.token_requests[0]["client_assertion"][0]
    claims = jwt.decode(assertion, key.public_key(), algorithms=["RS256"],
                        audience=f"https://idp.test/{settings.tenant_id}/oauth2/v2.0/token")
    assert claims["iss"] == claims["sub"] == settings.api_client_id
    assert "x5t" in jwt.get_unverified_header(assertion)


def test_client_secret_is_sent_but_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    idp = FakeIdentityProvider()
    obo_client(load_settings(base_env()), session_with(idp.transport)).graph_token(principal(), mint())
    request = [r for r in idp.transport.requests if r.url.endswith("/token")][0]
    assert "unit-test-secret" in (request.body + request.headers.get("Authorization", "")) or \
        "Basic " in request.headers.get("Authorization", "")
    assert "unit-test-secret" not in caplog.text
