"""`/{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent` refuse what Entra refuses: no reply URL to
return to (AADSTS500113) and a reply URL the app did not register (AADSTS50011). The seed registers the
API app's reply URLs as infra does: one web redirect URI, the SPA's origin."""
from __future__ import annotations

import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.authorize_client import Browser, Step

PATHS = ["adminconsent", "v2.0/adminconsent"]


def admin_consent(emulator: Emulator, path: str, **params: str) -> Step:
    browser = Browser(emulator)
    return Step(browser.session.get(f"{emulator.authority}/{path}", params=params, allow_redirects=False))


def assert_error_page(step: Step, code: int) -> None:
    assert step.response.status_code == 400, step.response.text[:300]
    assert "text/html" in step.response.headers["Content-Type"]
    assert f"AADSTS{code}" in step.response.text
    assert "Location" not in step.response.headers


@pytest.mark.parametrize("path", PATHS)
def test_no_redirect_uri_and_no_reply_url_is_500113(fresh_emulator: Emulator, path: str) -> None:
    step = admin_consent(fresh_emulator, path, client_id=fresh_emulator.app("daemon")["client_id"], state="s")
    assert_error_page(step, 500113)
    assert "No reply address is registered for the application" in step.response.text


@pytest.mark.parametrize("path", PATHS)
def test_unregistered_redirect_uri_is_50011(fresh_emulator: Emulator, path: str) -> None:
    # The App Service callback was never registered on the API app in infra.
    step = admin_consent(fresh_emulator, path, client_id=fresh_emulator.app("api")["client_id"],
                         redirect_uri="http://localhost:7071/.auth/login/aad/callback")
    assert_error_page(step, 50011)


def test_api_app_registers_exactly_the_spa_origin_as_web_reply_url(fresh_emulator: Emulator) -> None:
    assert fresh_emulator.app("api")["redirect_uris"] == {"spa": [], "web": ["http://localhost:4280/"]}


@pytest.mark.parametrize("path", PATHS)
def test_without_redirect_uri_the_registered_reply_url_is_used(fresh_emulator: Emulator, path: str) -> None:
    fresh_emulator.consent(client_id="api", resource="https://graph.microsoft.com", granted=False)
    browser = Browser(fresh_emulator)
    page = Step(browser.session.get(f"{fresh_emulator.authority}/{path}", allow_redirects=False,
                                    params={"client_id": fresh_emulator.app("api")["client_id"], "state": "s2"}))
    assert page.heading == "Permissions requested"
    done = browser.submit(page, action="accept")
    assert done.response.headers["Location"].startswith("http://localhost:4280/?")
    assert done.redirect_params == {"admin_consent": "True", "tenant": fresh_emulator.tenant_id, "state": "s2"}


def test_loopback_reply_url_matches_on_any_port(fresh_emulator: Emulator) -> None:
    step = admin_consent(fresh_emulator, "adminconsent", client_id=fresh_emulator.app("api")["client_id"],
                         redirect_uri="http://localhost:38123/")
    assert step.heading == "Permissions requested"
