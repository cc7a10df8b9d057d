"""Entra error codes and envelopes, as real MSAL Python sees them."""
from __future__ import annotations

import json
import re
import time

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import api_app, daemon_app, user_assertion

GRAPH = "https://graph.microsoft.com"
DESCRIPTION = re.compile(r"^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\n"
                         r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", re.S)


def assert_entra_error(result: dict, code: int, error: str) -> None:
    assert "access_token" not in result, result
    assert result["error"] == error, result
    assert result["error_codes"] == [code], result
    match = DESCRIPTION.match(result["error_description"])
    assert match and int(match.group(1)) == code, result["error_description"]
    for name in ("timestamp", "trace_id", "correlation_id", "error_uri"):
        assert result[name]


def test_obo_assertion_for_another_api_is_500131(fresh_emulator: Emulator) -> None:
    other_api = "https://management.azure.com"
    assertion = user_assertion(fresh_emulator, claims={"aud": other_api})
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"])
    assert_entra_error(result, 500131, "invalid_grant")
    assert other_api in result["error_description"]


def test_obo_assertion_for_microsoft_graph_is_50013(fresh_emulator: Emulator) -> None:
    # The SPA's own Graph token sent to the API by mistake: Entra cannot validate it as an assertion.
    assertion = user_assertion(fresh_emulator, audience=GRAPH, scopes=["User.Read"])
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"])
    assert_entra_error(result, 50013, "invalid_grant")
    assert "Microsoft Graph" in result["error_description"]


def test_obo_assertion_signed_by_an_unknown_key_is_50013(fresh_emulator: Emulator) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    claims = jwt.decode(user_assertion(fresh_emulator), options={"verify_signature": False})
    forged = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm="RS256", headers={"kid": "forged"})
    assert_entra_error(api_app(fresh_emulator).acquire_token_on_behalf_of(forged, ["User.Read"]),
                       50013, "invalid_grant")


def test_obo_assertion_with_tampered_payload_is_50013(fresh_emulator: Emulator) -> None:
    header, payload, signature = user_assertion(fresh_emulator).split(".")
    other = user_assertion(fresh_emulator, "daniel.reyes@larkspur.example").split(".")[1]
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(f"{header}.{other}.{signature}", ["User.Read"])
    assert_entra_error(result, 50013, "invalid_grant")


def test_obo_assertion_with_foreign_issuer_is_50013(fresh_emulator: Emulator) -> None:
    assertion = user_assertion(fresh_emulator, claims={"iss": "https://login.microsoftonline.com/other/v2.0"})
    assert_entra_error(api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"]),
                       50013, "invalid_grant")


def test_expired_obo_assertion_is_500133(fresh_emulator: Emulator) -> None:
    assertion = user_assertion(fresh_emulator, expires_in=-60)
    assert_entra_error(api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"]),
                       500133, "invalid_grant")


def test_app_only_assertion_is_refused(fresh_emulator: Emulator) -> None:
    api_id = fresh_emulator.app("api")["client_id"]
    app_token = daemon_app(fresh_emulator).acquire_token_for_client([f"{api_id}/.default"])["access_token"]
    assert_entra_error(api_app(fresh_emulator).acquire_token_on_behalf_of(app_token, ["User.Read"]),
                       50013, "invalid_grant")


def test_id_token_as_assertion_is_240002(fresh_emulator: Emulator) -> None:
    first = api_app(fresh_emulator).acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(first["id_token"], ["User.Read"])
    assert_entra_error(result, 240002, "invalid_grant")


def test_missing_consent_is_65001_consent_required(fresh_emulator: Emulator) -> None:
    fresh_emulator.consent(client_id="api", resource=GRAPH, scopes=["GroupMember.Read.All"], granted=False)
    app = api_app(fresh_emulator)
    result = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read", "GroupMember.Read.All"])
    assert_entra_error(result, 65001, "invalid_grant")
    assert result["suberror"] == "consent_required"
    still_consented = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in still_consented, still_consented


def test_per_user_consent(fresh_emulator: Emulator) -> None:
    fresh_emulator.consent(client_id="api", resource=GRAPH, granted=False)
    fresh_emulator.consent(client_id="api", resource=GRAPH, scopes=["User.Read"], granted=True,
                           user="sam.whitfield@larkspur.example")
    app = api_app(fresh_emulator)
    sam = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, "sam.whitfield@larkspur.example"),
                                         ["User.Read"])
    assert "access_token" in sam, sam
    mira = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert_entra_error(mira, 65001, "invalid_grant")
    default = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), [f"{GRAPH}/.default"])
    assert_entra_error(default, 65001, "invalid_grant")


def test_ca_policy_user_without_mfa_gets_50076_with_claims_challenge(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator, "lena.hoffmann@larkspur.example"), ["User.Read"])
    assert_entra_error(result, 50076, "interaction_required")
    claims = json.loads(result["claims"])
    assert claims == {"access_token": {"capolids": {"essential": True,
                                                    "values": ["7d4b1c0e-5a2f-4c39-9e61-3f8a2b6d1c57"]}}}
    with_mfa = api_app(fresh_emulator).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator, "lena.hoffmann@larkspur.example", amr=["pwd", "mfa"]), ["User.Read"])
    assert "access_token" in with_mfa, with_mfa


def test_wrong_client_secret_is_7000215_401(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator, credential="wrong-secret").acquire_token_for_client([f"{GRAPH}/.default"])
    assert_entra_error(result, 7000215, "invalid_client")
    raw = fresh_emulator.session.post(fresh_emulator.token_endpoint, data={
        "grant_type": "client_credentials", "client_id": fresh_emulator.app("api")["client_id"],
        "client_secret": "wrong", "scope": f"{GRAPH}/.default"})
    assert raw.status_code == 401


def test_unknown_client_is_700016(fresh_emulator: Emulator) -> None:
    import msal
    from tests.integration.emulator.msal_helpers import http_client
    app = msal.ConfidentialClientApplication("11111111-2222-3333-4444-555555555555", client_credential="x",
                                             authority=fresh_emulator.authority, instance_discovery=False,
                                             http_client=http_client(fresh_emulator))
    result = app.acquire_token_for_client([f"{GRAPH}/.default"])
    assert_entra_error(result, 700016, "unauthorized_client")


def test_invalid_scope_is_70011(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["Made.Up"])
    assert_entra_error(result, 70011, "invalid_scope")


def test_client_credentials_without_default_is_rejected(fresh_emulator: Emulator) -> None:
    result = daemon_app(fresh_emulator).acquire_token_for_client(["User.Read.All"])
    assert result["error"] == "invalid_scope" and result["error_codes"] == [1002012]


def test_token_for_itself_by_identifier_uri_is_90009(fresh_emulator: Emulator) -> None:
    api = fresh_emulator.app("api")
    result = api_app(fresh_emulator).acquire_token_for_client([f"{api['identifier_uri']}/.default"])
    assert_entra_error(result, 90009, "invalid_request")
    by_guid = api_app(fresh_emulator).acquire_token_for_client([f"{api['client_id']}/.default"])
    assert "access_token" in by_guid, by_guid


def test_invalid_and_expired_refresh_tokens(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    assert_entra_error(app.acquire_token_by_refresh_token("r1.garbage", ["User.Read"]), 70000, "invalid_grant")
    first = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    other_client = fresh_emulator.session.post(fresh_emulator.token_endpoint, data={
        "grant_type": "refresh_token", "client_id": fresh_emulator.app("daemon")["client_id"],
        "client_secret": fresh_emulator.app("daemon")["client_secret"], "refresh_token": first["refresh_token"],
        "scope": "User.Read"})
    assert other_client.json()["error_codes"] == [70000]


def test_invalid_and_expired_authorization_codes(fresh_emulator: Emulator) -> None:
    response = fresh_emulator.session.post(fresh_emulator.token_endpoint, headers={"Origin": "http://localhost:4280"},
                                           data={"grant_type": "authorization_code", "code": "c1.nope",
                                                 "client_id": fresh_emulator.app("spa")["client_id"],
                                                 "redirect_uri": "http://localhost:4280/", "code_verifier": "v"})
    assert response.json()["error_codes"] == [70000]


def test_correlation_id_is_echoed(fresh_emulator: Emulator) -> None:
    correlation = "0d4b3f5e-1111-4a2b-9c3d-5e6f7a8b9c0d"
    response = fresh_emulator.session.post(fresh_emulator.token_endpoint, data={"grant_type": "password"},
                                           headers={"client-request-id": correlation})
    body = response.json()
    assert body["correlation_id"] == correlation and f"Correlation ID: {correlation}" in body["error_description"]


def test_unknown_tenant_is_90002(fresh_emulator: Emulator) -> None:
    response = fresh_emulator.session.get(
        f"{fresh_emulator.entra_url}/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400 and response.json()["error_codes"] == [90002]


@pytest.mark.parametrize("code,error", [(50058, "login_required"), (50079, "interaction_required"),
                                        (70008, "invalid_grant")])
def test_injected_aadsts_fault_reaches_msal(fresh_emulator: Emulator, code: int, error: str) -> None:
    fresh_emulator.fault(endpoint="token", aadsts=code)
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert_entra_error(result, code, error)


def test_expiry_is_checked_against_now(fresh_emulator: Emulator) -> None:
    assertion = user_assertion(fresh_emulator, claims={"exp": int(time.time()) + 30})
    assert "access_token" in api_app(fresh_emulator).acquire_token_on_behalf_of(assertion, ["User.Read"])
