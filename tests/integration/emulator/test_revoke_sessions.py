"""`POST /_emulator/revoke`: a user's sessions revoked as Graph's revokeSignInSessions does, seen through real
MSAL Python, the sign-in pages and the Graph emulator."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.authorize_client import (Browser, pkce_pair, redeem, sign_in_with_consent,
                                                         spa_params)
from tests.integration.emulator.msal_helpers import api_app, user_assertion

MIRA = "mira.okafor@larkspur.example"
CAE_MESSAGE = ("Continuous access evaluation resulted in challenge with result: InteractionRequired and code: "
               "TokenIssuedBeforeRevocationTimestamp")


def revoke(emulator: Emulator, user: str = MIRA) -> int:
    answer = emulator.admin("POST", "/_emulator/revoke", {"user": user})
    assert answer["user"] == emulator.user(user)["oid"]
    return answer["revokedBefore"]


def graph_me(emulator: Emulator, token: str) -> tuple[int, dict, dict]:
    response = emulator.session.get(f"{emulator.graph_url}/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json(), dict(response.headers)


def challenge_parameters(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer"
    params: dict[str, str] = {}
    for part in rest.split(", "):
        name, _, value = part.partition("=")
        params[name] = value.strip('"')
    return params


def obo(emulator: Emulator, assertion: str, **kwargs: object) -> dict:
    return api_app(emulator, **kwargs).acquire_token_on_behalf_of(assertion, ["User.Read"])


def assert_revoked_grant(result: dict) -> None:
    assert "access_token" not in result, result
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50173], result
    assert "The provided grant has expired due to it being revoked" in result["error_description"]
    assert "TokensValidFrom" in result["error_description"]


def test_revoke_answers_the_cutoff_once_the_clock_has_passed_it(fresh_emulator: Emulator) -> None:
    before = time.time()
    answer = fresh_emulator.admin("POST", "/_emulator/revoke", {"user": fresh_emulator.user(MIRA)["oid"]})
    after = time.time()
    cutoff = answer["revokedBefore"]
    assert answer == {"user": fresh_emulator.user(MIRA)["oid"], "revokedBefore": cutoff}
    # A whole second after the call started, and the answer came only once the clock had passed it.
    assert isinstance(cutoff, int) and before < cutoff <= after
    assert cutoff - before <= 2  # floor(now) + 1 on the emulator's clock, not a longer wait
    assert fresh_emulator.metrics()["revoke"] == 1


def test_revoke_of_an_unknown_user_is_404_and_bad_input_400(fresh_emulator: Emulator) -> None:
    missing = fresh_emulator.admin_response("POST", "/_emulator/revoke", {"user": "nobody@larkspur.example"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    for body in ({}, {"user": 7}, {"user": " "}):
        bad = fresh_emulator.admin_response("POST", "/_emulator/revoke", body)
        assert bad.status_code == 400 and bad.json()["error"] == "bad_request", body


def test_refresh_token_issued_before_is_50173_and_after_works(fresh_emulator: Emulator) -> None:
    old = obo(fresh_emulator, user_assertion(fresh_emulator))
    revoke(fresh_emulator)
    assert_revoked_grant(api_app(fresh_emulator).acquire_token_by_refresh_token(old["refresh_token"], ["User.Read"]))
    fresh = obo(fresh_emulator, user_assertion(fresh_emulator))
    renewed = api_app(fresh_emulator).acquire_token_by_refresh_token(fresh["refresh_token"], ["User.Read"])
    assert "access_token" in renewed, renewed


def test_obo_assertion_issued_before_is_50173_and_a_new_one_works(fresh_emulator: Emulator) -> None:
    old_assertion = user_assertion(fresh_emulator)
    revoke(fresh_emulator)
    assert_revoked_grant(obo(fresh_emulator, old_assertion))
    result = obo(fresh_emulator, user_assertion(fresh_emulator), client_capabilities=["CP1"])
    assert "access_token" in result, result
    assert graph_me(fresh_emulator, result["access_token"])[0] == 200


def test_other_users_are_untouched(fresh_emulator: Emulator) -> None:
    assertion = user_assertion(fresh_emulator, "daniel.reyes@larkspur.example")
    revoke(fresh_emulator)
    assert "access_token" in obo(fresh_emulator, assertion)


def test_cae_capable_graph_token_issued_before_gets_graphs_claims_challenge(fresh_emulator: Emulator) -> None:
    token = obo(fresh_emulator, user_assertion(fresh_emulator), client_capabilities=["CP1"])["access_token"]
    assert graph_me(fresh_emulator, token)[0] == 200  # verified and cached before the revocation
    cutoff = revoke(fresh_emulator)
    status, body, headers = graph_me(fresh_emulator, token)
    assert status == 401
    assert body["error"]["code"] == "InvalidAuthenticationToken" and body["error"]["message"] == CAE_MESSAGE
    assert {"date", "request-id", "client-request-id"} <= set(body["error"]["innerError"])
    params = challenge_parameters(headers["WWW-Authenticate"])
    assert params["realm"] == "" and params["error"] == "insufficient_claims"
    assert params["authorization_uri"] == f"{fresh_emulator.entra_url}/common/oauth2/authorize"
    assert json.loads(base64.b64decode(params["claims"])) == {
        "access_token": {"nbf": {"essential": True, "value": str(cutoff)}}}


def test_claims_from_the_challenge_get_a_working_token(fresh_emulator: Emulator) -> None:
    token = obo(fresh_emulator, user_assertion(fresh_emulator), client_capabilities=["CP1"])["access_token"]
    revoke(fresh_emulator)
    headers = graph_me(fresh_emulator, token)[2]
    claims = base64.b64decode(challenge_parameters(headers["WWW-Authenticate"])["claims"]).decode()
    result = api_app(fresh_emulator, client_capabilities=["CP1"]).acquire_token_on_behalf_of(
        user_assertion(fresh_emulator), ["User.Read"], claims_challenge=claims)
    assert "access_token" in result, result
    assert graph_me(fresh_emulator, result["access_token"])[0] == 200


def test_graph_token_that_is_not_cae_capable_works_until_it_expires(fresh_emulator: Emulator) -> None:
    token = obo(fresh_emulator, user_assertion(fresh_emulator))["access_token"]
    minted = fresh_emulator.mint(user=MIRA, audience="https://graph.microsoft.com", claims={"xms_cc": ["CP1"]})
    revoke(fresh_emulator)
    assert graph_me(fresh_emulator, token)[0] == 200
    assert graph_me(fresh_emulator, minted)[0] == 401
    after = fresh_emulator.mint(user=MIRA, audience="https://graph.microsoft.com", claims={"xms_cc": ["CP1"]})
    assert graph_me(fresh_emulator, after)[0] == 200


def test_spa_refresh_token_and_browser_session_end(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    result, verifier = sign_in_with_consent(fresh_emulator, browser, MIRA)
    tokens = redeem(fresh_emulator, result["code"], verifier).json()
    revoke(fresh_emulator)
    refresh = fresh_emulator.session.post(fresh_emulator.token_endpoint, headers={"Origin": "http://localhost:4280"},
                                          data={"client_id": fresh_emulator.app("spa")["client_id"],
                                                "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                                "scope": f"{fresh_emulator.api_scope} offline_access"})
    assert refresh.status_code == 400 and refresh.json()["error_codes"] == [50173]
    _, challenge = pkce_pair()
    silent = browser.authorize(**spa_params(fresh_emulator, challenge, prompt="none")).redirect_params
    assert silent["error"] == "login_required"
    page = browser.authorize(**spa_params(fresh_emulator, challenge))
    assert page.is_page and page.heading == "Pick an account"
    # Signing in again starts a new session that is not revoked.
    again, verifier = sign_in_with_consent(fresh_emulator, browser, MIRA)
    assert redeem(fresh_emulator, again["code"], verifier).status_code == 200


def test_authorization_code_issued_before_is_refused(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    revoke(fresh_emulator)
    response = redeem(fresh_emulator, result["code"], verifier)
    assert response.status_code == 400 and response.json()["error_codes"] == [50173]


def test_reset_clears_revocations(fresh_emulator: Emulator) -> None:
    assertion = user_assertion(fresh_emulator)
    revoke(fresh_emulator)
    fresh_emulator.reset()
    assert "access_token" in obo(fresh_emulator, assertion)


@pytest.mark.parametrize("key", ["upn", "oid"])
def test_user_by_upn_or_object_id(fresh_emulator: Emulator, key: str) -> None:
    user = fresh_emulator.user(MIRA)
    answer = fresh_emulator.admin("POST", "/_emulator/revoke", {"user": user[key].upper()})
    assert answer["user"] == user["oid"]
    assert jwt.decode(user_assertion(fresh_emulator), options={"verify_signature": False})["iat"] >= \
        answer["revokedBefore"]
