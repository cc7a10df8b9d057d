"""Discovery documents, JWKS, instance discovery and signing-key rotation."""
from __future__ import annotations

import base64
import hashlib

import jwt
import msal
import pytest
from cryptography import x509

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import daemon_app, http_client

GRAPH = "https://graph.microsoft.com"


@pytest.mark.parametrize("tenant", ["51699e8e-eeb2-486e-94da-600eb1357656", "common", "organizations",
                                    "larkspur.example"])
def test_v2_openid_configuration(emulator: Emulator, tenant: str) -> None:
    doc = emulator.session.get(f"{emulator.entra_url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    base = f"{emulator.entra_url}/{tenant}"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert doc["end_session_endpoint"] == f"{base}/oauth2/v2.0/logout"
    expected_tid = "{tenantid}" if tenant in ("common", "organizations") else emulator.tenant_id
    assert doc["issuer"] == f"{emulator.entra_url}/{expected_tid}/v2.0"


def test_v1_openid_configuration_uses_sts_issuer(emulator: Emulator) -> None:
    doc = emulator.session.get(f"{emulator.authority}/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"https://sts.windows.net/{emulator.tenant_id}/"
    assert doc["jwks_uri"] == f"{emulator.authority}/discovery/keys"


def test_jwks_entries_carry_x5c_matching_x5t_and_modulus(emulator: Emulator) -> None:
    keys = emulator.session.get(f"{emulator.authority}/discovery/v2.0/keys").json()["keys"]
    for key in keys:
        cert = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
        thumb = base64.urlsafe_b64encode(hashlib.sha1(base64.b64decode(key["x5c"][0])).digest()).rstrip(b"=")
        assert key["kid"] == key["x5t"] == thumb.decode()
        assert cert.public_key().public_numbers().n == jwt.PyJWK(key).key.public_numbers().n
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["e"] == "AQAB"
        assert key["issuer"] == f"{emulator.authority}/v2.0"


def test_msal_with_a_custom_instance_discovery_url(fresh_emulator: Emulator) -> None:
    daemon = fresh_emulator.app("daemon")
    app = msal.ConfidentialClientApplication(
        daemon["client_id"], client_credential=daemon["client_secret"], authority=fresh_emulator.authority,
        instance_discovery=f"{fresh_emulator.entra_url}/common/discovery/instance",
        http_client=http_client(fresh_emulator))
    assert "access_token" in app.acquire_token_for_client([f"{GRAPH}/.default"])
    assert fresh_emulator.metrics()["discovery"] == 2  # instance discovery + openid configuration


def test_instance_discovery_document_shape(emulator: Emulator) -> None:
    response = emulator.session.get(f"{emulator.entra_url}/common/discovery/instance", params={
        "api-version": "1.1", "authorization_endpoint": f"{emulator.authority}/oauth2/v2.0/authorize"}).json()
    host = emulator.entra_url.split("//")[1]
    assert response["tenant_discovery_endpoint"] == f"{emulator.authority}/v2.0/.well-known/openid-configuration"
    assert response["metadata"][0]["preferred_network"] == host and host in response["metadata"][0]["aliases"]
    foreign = emulator.session.get(f"{emulator.entra_url}/common/discovery/instance", params={
        "authorization_endpoint": "https://login.example.org/x/oauth2/v2.0/authorize"})
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_instance"


def test_msal_refuses_an_unknown_instance(emulator: Emulator) -> None:
    daemon = emulator.app("daemon")
    with pytest.raises(ValueError, match="invalid_instance"):
        msal.ConfidentialClientApplication(
            daemon["client_id"], client_credential=daemon["client_secret"],
            authority="https://login.example.org/" + emulator.tenant_id,
            instance_discovery=f"{emulator.entra_url}/common/discovery/instance", http_client=http_client(emulator))


def test_key_rotation_keeps_the_previous_key_published(fresh_emulator: Emulator) -> None:
    jwks_url = f"{fresh_emulator.authority}/discovery/v2.0/keys"
    old_token = daemon_app(fresh_emulator).acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    rotated = fresh_emulator.rotate_keys()
    assert rotated["previous_kid"] == jwt.get_unverified_header(old_token)["kid"]
    new_token = fresh_emulator.mint(user="mira.okafor@larkspur.example", audience=GRAPH,
                                    client_id=fresh_emulator.app("api")["client_id"])
    assert jwt.get_unverified_header(new_token)["kid"] == rotated["kid"]
    keys = {k["kid"]: k for k in fresh_emulator.session.get(jwks_url).json()["keys"]}
    assert set(keys) == {rotated["kid"], rotated["previous_kid"]}
    for token in (old_token, new_token):
        key = jwt.PyJWK(keys[jwt.get_unverified_header(token)["kid"]]).key
        assert jwt.decode(token, key, algorithms=["RS256"], audience=GRAPH)["tid"] == fresh_emulator.tenant_id
    # A second rotation drops the oldest key, as an Entra roll-over eventually does.
    second = fresh_emulator.rotate_keys()
    published = {k["kid"] for k in fresh_emulator.session.get(jwks_url).json()["keys"]}
    assert published == {second["kid"], rotated["kid"]}


def test_obo_accepts_an_assertion_signed_by_the_previous_key(fresh_emulator: Emulator) -> None:
    from tests.integration.emulator.msal_helpers import api_app, user_assertion
    assertion = user_assertion(fresh_emulator)
    fresh_emulator.rotate_keys()
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"])
    assert "access_token" in result, result
