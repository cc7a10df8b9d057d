"""MSAL Python's auth code flow (a confidential web app) through the emulator's sign-in pages."""
from __future__ import annotations

import hashlib
import re
from html import unescape

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.authorize_client import Browser, Step
from tests.integration.emulator.msal_helpers import api_app

CALLBACK = "http://localhost:4280/"  # the api app's one web reply URL, as infra registers it


def posted_fields(step: Step) -> dict[str, str]:
    """The fields of the emulator's auto-submitting form_post page."""
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', step.response.text)
    return {unescape(k): unescape(v) for k, v in pairs}


def test_web_app_code_flow_with_msal(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, response_mode="form_post",
                                       login_hint="daniel.reyes@larkspur.example")
    browser = Browser(fresh_emulator)
    page = Step(browser.session.get(flow["auth_uri"], allow_redirects=False))
    assert page.heading == "Pick an account"
    done = browser.pick(page, "daniel.reyes@larkspur.example")
    # form_post: an auto-submitting form that posts code and state to the callback.
    assert f'action="{CALLBACK}"' in done.response.text
    auth_response = posted_fields(done)
    assert set(auth_response) >= {"code", "state"}
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "daniel.reyes@larkspur.example"
    # MSAL sends a hash of its nonce and has already checked the id_token carries it back.
    assert result["id_token_claims"]["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    # The account is cached: silent works without another request to the token endpoint.
    account = app.get_accounts(username="daniel.reyes@larkspur.example")[0]
    assert app.acquire_token_silent(["User.Read"], account=account)["access_token"] == result["access_token"]
    assert fresh_emulator.metrics()["token"] == {"authorization_code": 1}


def test_web_app_code_flow_needs_the_client_secret(fresh_emulator: Emulator) -> None:
    app = api_app(fresh_emulator, credential="not-the-secret")
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, response_mode="form_post")
    browser = Browser(fresh_emulator)
    done = browser.pick(Step(browser.session.get(flow["auth_uri"], allow_redirects=False)),
                        "daniel.reyes@larkspur.example")
    auth_response = posted_fields(done)
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
