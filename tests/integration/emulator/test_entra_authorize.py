"""The authorize endpoint: sign-in page, consent, MFA, prompt handling, PKCE and redemption rules."""
from __future__ import annotations

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.authorize_client import (Browser, Step, pkce_pair, redeem, sign_in_with_consent,
                                                         spa_params)

LENA = "lena.hoffmann@larkspur.example"
MIRA = "mira.okafor@larkspur.example"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_sign_in_page_is_accessible_and_lists_every_user(fresh_emulator: Emulator) -> None:
    _, challenge = pkce_pair()
    page = Browser(fresh_emulator).authorize(**spa_params(fresh_emulator, challenge))
    html = page.response.text
    assert '<html lang="en">' in html and "<h1>Pick an account</h1>" in html
    for user in fresh_emulator.config["users"]:
        assert f'>{user["displayName"]}</button>' in html.replace("&#x27;", "'")
    assert fresh_emulator.metrics()["authorize"] == 1


def test_code_flow_with_consent_pkce_and_spa_redemption(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    verifier, challenge = pkce_pair()
    params = spa_params(fresh_emulator, challenge)
    consent = browser.pick(browser.authorize(**params), MIRA)
    assert consent.heading == "Permissions requested"
    assert "user_impersonation" in consent.response.text and '>Accept</button>' in consent.response.text
    # knownClientApplications: the API's Graph permissions are part of the same consent.
    assert "GroupMember.Read.All" in consent.response.text
    done = browser.submit(consent, action="accept")
    result = done.redirect_params
    assert "code" in result and result["state"] == params["state"]
    response = redeem(fresh_emulator, result["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"
    body = response.json()
    claims = claims_of(body["access_token"])
    assert claims["aud"] == fresh_emulator.app("api")["client_id"] and claims["scp"] == "user_impersonation"
    assert claims["azp"] == fresh_emulator.app("spa")["client_id"] and claims["azpacr"] == "0"
    assert claims["amr"] == ["pwd"]
    assert body["scope"] == fresh_emulator.api_scope
    assert body["refresh_token_expires_in"] <= 86400
    assert claims_of(body["id_token"])["nonce"] == params["nonce"]
    assert body["client_info"]


def test_consent_is_remembered_and_session_allows_prompt_none(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    sign_in_with_consent(fresh_emulator, browser, MIRA)
    verifier, challenge = pkce_pair()
    silent = browser.authorize(**spa_params(fresh_emulator, challenge, prompt="none"))
    assert silent.response.status_code == 302
    assert "code" in silent.redirect_params
    assert redeem(fresh_emulator, silent.redirect_params["code"], verifier).status_code == 200


def test_prompt_none_without_session_is_login_required(fresh_emulator: Emulator) -> None:
    _, challenge = pkce_pair()
    step = Browser(fresh_emulator).authorize(**spa_params(fresh_emulator, challenge, prompt="none",
                                                          response_mode="fragment"))
    location = step.response.headers["Location"]
    assert location.startswith("http://localhost:4280/#")
    params = step.redirect_params
    assert params["error"] == "login_required" and params["error_description"].startswith("AADSTS50058:")


def test_prompt_none_without_consent_is_consent_required(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    sign_in_with_consent(fresh_emulator, browser, MIRA, scope="openid profile")
    _, challenge = pkce_pair()
    step = browser.authorize(**spa_params(fresh_emulator, challenge, prompt="none"))
    assert step.redirect_params["error"] == "consent_required"
    assert "AADSTS65001" in step.redirect_params["error_description"]


def test_prompt_login_and_login_hint_show_the_picker(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    sign_in_with_consent(fresh_emulator, browser, MIRA)
    _, challenge = pkce_pair()
    assert browser.authorize(**spa_params(fresh_emulator, challenge, prompt="login")).heading == "Pick an account"
    other = browser.authorize(**spa_params(fresh_emulator, challenge, login_hint="sam.whitfield@larkspur.example"))
    assert other.heading == "Pick an account"
    mismatch = browser.authorize(**spa_params(fresh_emulator, challenge, prompt="none",
                                              login_hint="sam.whitfield@larkspur.example"))
    assert mismatch.redirect_params["error"] == "login_required"


def test_prompt_consent_always_asks(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    sign_in_with_consent(fresh_emulator, browser, MIRA)
    _, challenge = pkce_pair()
    assert browser.authorize(**spa_params(fresh_emulator, challenge, prompt="consent")).heading == \
        "Permissions requested"


def test_declining_consent_redirects_access_denied(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    _, challenge = pkce_pair()
    consent = browser.pick(browser.authorize(**spa_params(fresh_emulator, challenge)), MIRA)
    declined = browser.submit(consent, action="cancel").redirect_params
    assert declined["error"] == "access_denied" and "AADSTS65004" in declined["error_description"]


def test_unregistered_redirect_uri_shows_an_error_page_not_a_redirect(fresh_emulator: Emulator) -> None:
    _, challenge = pkce_pair()
    step = Browser(fresh_emulator).authorize(**spa_params(fresh_emulator, challenge,
                                                          redirect_uri="https://evil.example/cb"))
    assert step.response.status_code == 400 and "Location" not in step.response.headers
    assert "AADSTS50011" in step.response.text


def test_localhost_redirect_uri_port_is_ignored(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    verifier, challenge = pkce_pair()
    params = spa_params(fresh_emulator, challenge, redirect_uri="http://localhost:51234/")
    result = browser.submit(browser.pick(browser.authorize(**params), MIRA), action="accept").redirect_params
    response = redeem(fresh_emulator, result["code"], verifier, redirect_uri="http://localhost:51234/",
                      origin="http://localhost:51234")
    assert response.status_code == 200, response.text


def test_spa_requires_pkce(fresh_emulator: Emulator) -> None:
    params = spa_params(fresh_emulator, "x")
    del params["code_challenge"], params["code_challenge_method"]
    step = Browser(fresh_emulator).authorize(**params)
    assert step.redirect_params["error"] == "invalid_request"
    assert step.redirect_params["error_description"].startswith("AADSTS9002325:")


def test_wrong_code_verifier_is_refused(fresh_emulator: Emulator) -> None:
    result, _ = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    response = redeem(fresh_emulator, result["code"], "not-the-verifier")
    assert response.status_code == 400 and response.json()["error_codes"] == [501481]


def test_code_is_single_use(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    assert redeem(fresh_emulator, result["code"], verifier).status_code == 200
    again = redeem(fresh_emulator, result["code"], verifier)
    assert again.status_code == 400 and again.json()["error_codes"] == [54005]


def test_spa_code_without_origin_is_9002327(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    response = redeem(fresh_emulator, result["code"], verifier, origin=None)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_request"
    assert body["error_codes"] == [9002327]


def test_web_redirect_code_redeemed_cross_origin_is_9002326(fresh_emulator: Emulator) -> None:
    verifier, challenge = pkce_pair()
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA,
                                            redirect_uri="http://localhost:4280/web-callback",
                                            code_challenge=challenge)
    response = redeem(fresh_emulator, result["code"], verifier, redirect_uri="http://localhost:4280/web-callback")
    body = response.json()
    assert response.status_code == 400 and body["error_codes"] == [9002326]
    assert "Request origin: 'http://localhost:4280'" in body["error_description"]
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"  # readable by the page


def test_spa_refresh_token_requires_origin_and_rotates(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    first = redeem(fresh_emulator, result["code"], verifier).json()
    form = {"client_id": fresh_emulator.app("spa")["client_id"], "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"], "scope": f"{fresh_emulator.api_scope} openid offline_access"}
    no_origin = fresh_emulator.session.post(fresh_emulator.token_endpoint, data=form)
    assert no_origin.json()["error_codes"] == [9002327]
    refreshed = fresh_emulator.session.post(fresh_emulator.token_endpoint, data=form,
                                            headers={"Origin": "http://localhost:4280"}).json()
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert refreshed["refresh_token_expires_in"] <= first["refresh_token_expires_in"]  # fixed 24 h window


def test_ca_policy_user_gets_an_mfa_step_when_claims_ask(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    verifier, challenge = pkce_pair()
    claims = '{"access_token":{"capolids":{"essential":true,"values":["7d4b1c0e-5a2f-4c39-9e61-3f8a2b6d1c57"]}}}'
    params = spa_params(fresh_emulator, challenge, claims=claims)
    mfa = browser.pick(browser.authorize(**params), LENA)
    assert mfa.heading == "Approve sign-in request" and ">Approve sign-in</button>" in mfa.response.text
    consent = browser.submit(mfa, action="approve")
    result = browser.submit(consent, action="accept").redirect_params
    token = redeem(fresh_emulator, result["code"], verifier).json()["access_token"]
    assert claims_of(token)["amr"] == ["mfa", "pwd"]


def test_ca_policy_user_without_claims_signs_in_with_password_only(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), LENA)
    assert claims_of(redeem(fresh_emulator, result["code"], verifier).json()["access_token"])["amr"] == ["pwd"]


def test_ca_policy_user_requesting_graph_directly_gets_mfa(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    _, challenge = pkce_pair()
    step = browser.pick(browser.authorize(**spa_params(fresh_emulator, challenge, scope="User.Read openid")), LENA)
    assert step.heading == "Approve sign-in request"


@pytest.mark.parametrize("response_mode", ["query", "fragment"])
def test_response_modes(fresh_emulator: Emulator, response_mode: str) -> None:
    result, _ = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA, response_mode=response_mode)
    assert "code" in result


def test_logout_clears_the_session(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    sign_in_with_consent(fresh_emulator, browser, MIRA)
    out = browser.session.get(f"{fresh_emulator.authority}/oauth2/v2.0/logout",
                              params={"post_logout_redirect_uri": "http://localhost:4280/"}, allow_redirects=False)
    assert out.status_code == 302 and out.headers["Location"] == "http://localhost:4280/"
    _, challenge = pkce_pair()
    assert browser.authorize(**spa_params(fresh_emulator, challenge, prompt="none")).redirect_params["error"] == \
        "login_required"


def test_admin_consent_grants_tenant_wide(fresh_emulator: Emulator) -> None:
    fresh_emulator.consent(client_id="api", resource="https://graph.microsoft.com", granted=False)
    browser = Browser(fresh_emulator)
    page = browser.session.get(f"{fresh_emulator.authority}/adminconsent", params={
        "client_id": fresh_emulator.app("api")["client_id"],
        "redirect_uri": "http://localhost:4280/", "state": "s1"}, allow_redirects=False)
    step = Step(page)
    assert step.heading == "Permissions requested"
    done = browser.submit(step, action="accept").redirect_params
    assert done == {"admin_consent": "True", "tenant": fresh_emulator.tenant_id, "state": "s1"}
    granted = fresh_emulator.consent(client_id="api", resource="https://graph.microsoft.com", scopes=[])
    assert "User.Read" in granted["scopes"]


def test_form_post_response_mode_posts_the_code(fresh_emulator: Emulator) -> None:
    browser = Browser(fresh_emulator)
    _, challenge = pkce_pair()
    consent = browser.pick(browser.authorize(**spa_params(fresh_emulator, challenge, response_mode="form_post")),
                           MIRA)
    page = browser.submit(consent, action="accept").response
    assert page.status_code == 200
    assert '<form method="post" action="http://localhost:4280/"' in page.text and 'name="code"' in page.text


def test_token_endpoint_answers_cors_preflight(fresh_emulator: Emulator) -> None:
    response = fresh_emulator.session.options(fresh_emulator.token_endpoint, headers={
        "Origin": "http://localhost:4280", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_no_hsts_that_would_pin_localhost_to_https(fresh_emulator: Emulator) -> None:
    _, challenge = pkce_pair()
    step = Browser(fresh_emulator).authorize(**spa_params(fresh_emulator, challenge))
    assert "Strict-Transport-Security" not in step.response.headers


def test_loopback_rule_keeps_the_host_name(fresh_emulator: Emulator) -> None:
    _, challenge = pkce_pair()
    step = Browser(fresh_emulator).authorize(**spa_params(fresh_emulator, challenge,
                                                          redirect_uri="http://127.0.0.1:4280/"))
    assert step.response.status_code == 400 and "AADSTS50011" in step.response.text


def test_refresh_with_an_mfa_claims_challenge_needs_interaction(fresh_emulator: Emulator) -> None:
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), LENA)
    first = redeem(fresh_emulator, result["code"], verifier).json()
    claims = '{"access_token":{"capolids":{"essential":true,"values":["7d4b1c0e-5a2f-4c39-9e61-3f8a2b6d1c57"]}}}'
    response = fresh_emulator.session.post(fresh_emulator.token_endpoint, headers={"Origin": "http://localhost:4280"},
                                           data={"client_id": fresh_emulator.app("spa")["client_id"],
                                                 "grant_type": "refresh_token", "claims": claims,
                                                 "refresh_token": first["refresh_token"],
                                                 "scope": fresh_emulator.api_scope})
    body = response.json()
    assert body["error"] == "interaction_required" and body["error_codes"] == [50076]


def test_combined_consent_lets_the_api_do_obo_for_that_user(fresh_emulator: Emulator) -> None:
    from tests.integration.emulator.msal_helpers import api_app, user_assertion
    fresh_emulator.consent(client_id="api", resource="https://graph.microsoft.com", granted=False)
    app = api_app(fresh_emulator)
    before = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, MIRA), ["User.Read"])
    assert before.get("suberror") == "consent_required"
    result, verifier = sign_in_with_consent(fresh_emulator, Browser(fresh_emulator), MIRA)
    api_token = redeem(fresh_emulator, result["code"], verifier).json()["access_token"]
    after = app.acquire_token_on_behalf_of(api_token, ["User.Read", "GroupMember.Read.All"])
    assert "access_token" in after, after
    other = app.acquire_token_on_behalf_of(user_assertion(fresh_emulator, "sam.whitfield@larkspur.example"),
                                           ["User.Read"])
    assert other.get("suberror") == "consent_required"  # the grant is Mira's only
