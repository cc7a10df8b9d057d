"""The `claims` request parameter with real MSAL Python: client capability CP1 (xms_cc), MFA claims and
malformed claims, on the On-Behalf-Of and refresh_token grants."""
from __future__ import annotations

import json

import jwt

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import api_app, user_assertion

LENA = "lena.hoffmann@larkspur.example"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_obo_for_a_cp1_client_gives_a_cae_capable_graph_token(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator, client_capabilities=["CP1"]).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["xms_cc"] == ["CP1"]


def test_obo_without_capabilities_gives_no_xms_cc(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator).acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    assert "xms_cc" not in claims_of(result["access_token"])


def test_refresh_that_asks_for_cp1_stays_cae_capable(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator, client_capabilities=["CP1"])
    app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    renewed = app.acquire_token_silent(["User.Read"], account=app.get_accounts()[0], force_refresh=True)
    assert renewed and "access_token" in renewed, renewed
    assert claims_of(renewed["access_token"])["xms_cc"] == ["CP1"]
    assert fresh_emulator.metrics()["token"].get("refresh_token") == 1


def test_refresh_without_capabilities_is_not_cae_capable(fresh_emulator: Emulator) -> None:
    first = api_app(fresh_emulator, client_capabilities=["CP1"]).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"])
    plain = api_app(fresh_emulator).acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert "access_token" in plain, plain
    assert "xms_cc" not in claims_of(plain["access_token"])


def test_unknown_capabilities_are_not_echoed(fresh_emulator: Emulator) -> None:
    result = api_app(fresh_emulator, client_capabilities=["CP1", "llt"]).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"])
    assert claims_of(result["access_token"])["xms_cc"] == ["CP1"]


def test_nbf_challenge_merged_with_cp1_is_met_by_a_fresh_exchange(fresh_emulator: Emulator) -> None:
    # What MSAL sends after Graph's revocation challenge: the nbf claims request plus xms_cc.
    challenge = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1700000000"}}})
    result = api_app(fresh_emulator, client_capabilities=["CP1"]).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"], claims_challenge=challenge)
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["iat"] >= 1700000000 and claims["xms_cc"] == ["CP1"]


def test_mfa_claims_on_obo_need_mfa_in_the_assertion(fresh_emulator: Emulator) -> None:
    challenge = json.dumps({"access_token": {"amr": {"essential": True, "values": ["mfa"]}}})
    app = api_app(fresh_emulator, client_capabilities=["CP1"])
    refused = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"],
                                             claims_challenge=challenge)
    assert refused["error"] == "interaction_required" and refused["error_codes"] == [50076], refused
    assert json.loads(refused["claims"])["access_token"]["amr"]["values"] == ["mfa"]
    granted = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, amr=["pwd", "mfa"]), ["User.Read"],
                                             claims_challenge=challenge)
    assert "access_token" in granted, granted
    assert claims_of(granted["access_token"])["xms_cc"] == ["CP1"]


def test_capolids_claims_on_refresh_need_mfa_in_the_grant(fresh_emulator: Emulator) -> None:
    policy = fresh_emulator.config["conditional_access"][0]["id"]
    challenge = json.dumps({"access_token": {"capolids": {"essential": True, "values": [policy]}}})
    app = api_app(fresh_emulator, client_capabilities=["CP1"])
    first = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, LENA, amr=["pwd"]), ["User.Read"])
    assert first["error_codes"] == [50076]  # the policy itself refuses Lena's password-only token
    mfa = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, LENA, amr=["pwd", "mfa"]), ["User.Read"])
    renewed = app.acquire_token_by_refresh_token(mfa["refresh_token"], ["User.Read"],
                                                 data={"claims": challenge})
    assert "access_token" in renewed, renewed
    password_only = api_app(fresh_emulator).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator, amr=["pwd"]), ["User.Read"])
    refused = app.acquire_token_by_refresh_token(password_only["refresh_token"], ["User.Read"],
                                                 data={"claims": challenge})
    assert refused["error_codes"] == [50076] and refused["error"] == "interaction_required", refused


def test_malformed_claims_are_an_invalid_request_not_a_server_error(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)  # without capabilities MSAL sends the claims challenge as given
    for bad in ("{not json", "[1, 2]", '{"access_token": "x"}', '{"access_token":{"nbf":{"value":"soon"}}}'):
        result = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"], claims_challenge=bad)
        assert result.get("error") == "invalid_request" and result["error_codes"] == [90100], (bad, result)
    first = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator), ["User.Read"])
    refreshed = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"], data={"claims": "{"})
    assert refreshed.get("error") == "invalid_request" and refreshed["error_codes"] == [90100], refreshed
