"""Silent renewal under the app's Content-Security-Policy: MSAL.js loads the authority in a hidden iframe
(frame-src), the response lands on /redirect.html (frame-ancestors 'self') and the MSAL.js v5 redirect
bridge hands it back to the page."""
from __future__ import annotations

import json

import pytest

from tests.fixtures.stack import CHROMIUM_ARGS, SpaDriver, chromium_executable

pytestmark = pytest.mark.e2e

SSO_SILENT = """
async ({ username }) => {
  const config = await (await fetch("/api/config")).json();
  const app = new msal.PublicClientApplication({
    auth: { clientId: config.clientId, authority: config.authority, knownAuthorities: config.knownAuthorities,
            redirectUri: location.origin + "/" },
    cache: { cacheLocation: "memoryStorage" },
  });
  await app.initialize();
  try {
    const result = await app.ssoSilent({ scopes: [config.apiScope], loginHint: username,
                                        redirectUri: location.origin + "/redirect.html" });
    return { username: result.account.username, token: result.accessToken.length > 100 };
  } catch (error) {
    return { error: error.errorCode, interactionRequired: error instanceof msal.InteractionRequiredAuthError };
  }
}
"""


@pytest.fixture
def regular_profile_spa(chromium, local_stack, tmp_path, request):
    """A regular (persistent) browser profile: Playwright's default contexts are off-the-record, where
    Chromium blocks third-party cookies and so hides the identity provider's session from hidden iframes."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}))
    context = chromium.browser_type.launch_persistent_context(
        str(profile), executable_path=chromium_executable(), args=CHROMIUM_ARGS, ignore_https_errors=True)
    page = context.pages[0] if context.pages else context.new_page()
    driver = SpaDriver(page, local_stack, request.node.name)
    try:
        yield driver
    finally:
        try:
            driver.screenshot("final")
        finally:
            context.close()


def test_hidden_iframe_renewal_returns_through_the_redirect_bridge(regular_profile_spa):
    spa = regular_profile_spa
    spa.sign_in("Mira Okafor")
    result = spa.page.evaluate(SSO_SILENT, {"username": "mira.okafor@larkspur.example"})
    assert result == {"username": "mira.okafor@larkspur.example", "token": True}
    assert spa.csp_violations() == []


def test_without_the_session_cookie_the_bridge_reports_interaction_required(spa):
    # Third-party cookies blocked: the iframe reaches the identity provider without its session, and the
    # answer (login_required) still comes back through the bridge instead of timing out.
    spa.sign_in("Mira Okafor")
    result = spa.page.evaluate(SSO_SILENT, {"username": "mira.okafor@larkspur.example"})
    assert result == {"error": "login_required", "interactionRequired": True}
    assert spa.csp_violations() == []
