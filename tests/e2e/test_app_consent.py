"""Consent: a user who has not consented sees the emulator's consent page; when the API lacks admin consent
for Graph, the error panel carries the admin-consent link."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.e2e

GRAPH = "https://graph.microsoft.com"


def test_user_consents_on_first_sign_in(spa, local_stack):
    admin = local_stack.admin
    admin.consent("spa", "api", ["user_impersonation"], granted=False, user="priya.natarajan@larkspur.example")

    spa.open()
    spa.click_sign_in()
    spa.choose_user("Priya Natarajan")
    accept = spa.button("Accept")
    accept.wait_for()
    spa.screenshot("consent-page")
    accept.click()
    spa.wait_back_on_app()

    profile = spa.get_profile()
    profile.wait_for()
    assert profile.get_by_text("priya.natarajan@larkspur.example").first.is_visible()


def test_missing_admin_consent_shows_the_admin_consent_link(spa, local_stack):
    admin = local_stack.admin
    user = "daniel.reyes@larkspur.example"
    scopes = ["User.Read"]
    spa.sign_in("Daniel Reyes")
    # Take back the API's Graph permission, tenant-wide and the grant Daniel gave when he signed in.
    admin.consent("api", GRAPH, scopes, granted=False)
    admin.consent("api", GRAPH, scopes, granted=False, user=user)
    try:
        spa.get_profile()
        error = spa.testid("error")
        error.wait_for()
        spa.screenshot("consent-required")
        assert error.get_attribute("role") == "alert"
        assert "consent_required" in error.inner_text()
        link = error.get_by_role("link", name="Grant admin consent")
        href = link.get_attribute("href")
        url = urlparse(href)
        assert href.startswith(local_stack.info.entra_url)
        assert url.path.endswith("/adminconsent")
        assert parse_qs(url.query)["client_id"] == [admin.client_id("api")]
        assert spa.testid("profile").is_hidden()
    finally:
        admin.consent("api", GRAPH, scopes, granted=True)
        admin.consent("api", GRAPH, scopes, granted=True, user=user)


def test_declining_consent_explains_and_offers_to_sign_in_again(spa, local_stack):
    admin = local_stack.admin
    user = "tomas.ruiz@larkspur.example"
    admin.consent("spa", "api", ["user_impersonation"], granted=False, user=user)
    try:
        spa.open()
        spa.click_sign_in()
        spa.choose_user("Tomás Ruiz")
        spa.button("Cancel").click()
        spa.page.wait_for_url(lambda url: url.startswith(local_stack.app_url))
        error = spa.testid("error")
        error.wait_for()
        spa.screenshot("consent-declined")
        text = error.inner_text()
        assert "Consent was declined" in text
        assert "null" not in text and "undefined" not in text
        assert error.get_by_role("button", name="Sign in again").is_visible()
        assert spa.button("Sign out").count() == 0 or spa.button("Sign out").is_hidden()
    finally:
        admin.consent("spa", "api", ["user_impersonation"], granted=True, user=user)
