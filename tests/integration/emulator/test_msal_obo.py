"""On-Behalf-Of with real MSAL Python against the emulator over HTTPS."""
from __future__ import annotations

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import api_app, certificate_credential, user_assertion

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_obo_returns_a_v1_graph_token_for_the_signed_in_user(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    result = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    mira = fresh_emulator.user("mira.okafor@larkspur.example")
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{fresh_emulator.tenant_id}/"
    assert claims["ver"] == "1.0"
    assert claims["appid"] == fresh_emulator.app("api")["client_id"]
    assert claims["appidacr"] == "1"
    assert claims["upn"] == claims["unique_name"] == mira["upn"]
    assert claims["oid"] == mira["oid"]
    assert "User.Read" in claims["scp"].split()
    assert 3600 <= result["expires_in"] <= 5400
    # MSAL adds openid profile offline_access, so Entra answers with all of these too.
    assert result["refresh_token"] and result["id_token_claims"]["oid"] == mira["oid"]
    assert result["token_type"] == "Bearer"


def test_silent_after_obo_serves_the_cached_token(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    first = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in first, first
    accounts = app.get_accounts(username="mira.okafor@larkspur.example")
    assert len(accounts) == 1
    before = fresh_emulator.metrics()["token"]
    silent = app.acquire_token_silent(["User.Read"], account=accounts[0])
    assert silent and silent["access_token"] == first["access_token"]
    assert fresh_emulator.metrics()["token"] == before  # no network call


def test_refresh_with_the_obo_refresh_token(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    first = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    refreshed = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert "access_token" in refreshed, refreshed
    assert refreshed["refresh_token"] != first["refresh_token"]  # rotated
    assert claims_of(refreshed["access_token"])["oid"] == claims_of(first["access_token"])["oid"]
    metrics = fresh_emulator.metrics()["token"]
    assert metrics == {"urn:ietf:params:oauth:grant-type:jwt-bearer": 1, "refresh_token": 1}


def test_silent_with_force_refresh_uses_the_refresh_token(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    account = app.get_accounts()[0]
    renewed = app.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert renewed and "access_token" in renewed
    assert fresh_emulator.metrics()["token"].get("refresh_token") == 1


def test_obo_with_default_scope_carries_every_consented_permission(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    scp = set(claims_of(result["access_token"])["scp"].split())
    assert {"User.Read", "User.ReadBasic.All", "GroupMember.Read.All"} <= scp


def test_obo_with_a_certificate_client_assertion(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator, credential=certificate_credential(fresh_emulator))
    result = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appidacr"] == "2"


def test_client_assertion_with_sha256_thumbprint_from_public_certificate(fresh_emulator: Emulator) -> None:
    cert = fresh_emulator.app("api")["certificate"]
    credential = {"private_key": open(cert["key_path"]).read(), "public_certificate": open(cert["cert_path"]).read()}
    result = api_app(fresh_emulator, credential=credential).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in result, result


@pytest.mark.parametrize("user", ["daniel.reyes@larkspur.example", "tomas.ruiz@larkspur.example"])
def test_obo_partitions_by_user(fresh_emulator: Emulator, user: str) -> None:
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator, user), ["User.Read"])
    assert claims_of(result["access_token"])["upn"] == user
    assert claims_of(result["access_token"])["sub"] != fresh_emulator.user(user)["oid"]  # pairwise, not the oid
