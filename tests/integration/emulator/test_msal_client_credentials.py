"""Client credentials (secret and certificate) with real MSAL Python."""
from __future__ import annotations

import jwt

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import api_app, certificate_credential, daemon_app


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_daemon_gets_an_app_only_graph_token_with_roles(fresh_emulator: Emulator) -> None:
    result = daemon_app(fresh_emulator).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["idtyp"] == "app"
    assert claims["roles"] == ["User.Read.All"]
    assert "scp" not in claims and "upn" not in claims
    assert claims["appid"] == fresh_emulator.app("daemon")["client_id"]
    assert claims["aud"] == "https://graph.microsoft.com"
    assert fresh_emulator.metrics()["token"] == {"client_credentials": 1}


def test_second_call_is_served_from_msal_cache(fresh_emulator: Emulator) -> None:
    app = daemon_app(fresh_emulator)
    first = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    second = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert second["access_token"] == first["access_token"]
    assert second.get("token_source") == "cache"


def test_daemon_token_for_the_api_is_v2_without_roles(fresh_emulator: Emulator) -> None:
    api_id = fresh_emulator.app("api")["client_id"]
    result = daemon_app(fresh_emulator).acquire_token_for_client([f"api://{api_id}/.default"])
    claims = claims_of(result["access_token"])
    assert claims["aud"] == api_id and claims["ver"] == "2.0" and claims["idtyp"] == "app"
    assert claims["iss"] == f"{fresh_emulator.authority}/v2.0"
    assert claims["azp"] == fresh_emulator.app("daemon")["client_id"] and claims["azpacr"] == "1"
    assert "roles" not in claims and "scp" not in claims


def test_certificate_credential_for_client_credentials(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator, credential=certificate_credential(fresh_emulator)).acquire_token_for_client(
        ["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appidacr"] == "2"


def test_tokens_verify_against_the_published_jwks(fresh_emulator: Emulator) -> None:
    token = daemon_app(fresh_emulator).acquire_token_for_client(
        ["https://graph.microsoft.com/.default"])["access_token"]
    jwks = fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/v2.0/keys").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="https://graph.microsoft.com",
                        issuer=f"https://sts.windows.net/{fresh_emulator.tenant_id}/")
    assert claims["tid"] == fresh_emulator.tenant_id
