"""Continuous access evaluation in the browser: the user's sessions are revoked while the page holds a working
API token; the next profile call gets Graph's claims challenge through the API, the page signs in again with
those claims, and the profile loads with the new token."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

USER = "Tomás Ruiz"
UPN = "tomas.ruiz@larkspur.example"


def test_the_page_recovers_from_a_revoked_session(spa, local_stack):
    spa.sign_in(USER)
    profile = spa.get_profile()
    profile.get_by_text(UPN).first.wait_for()

    local_stack.admin.revoke(UPN)
    spa.button("Get user's profile").click()
    # The API answers 401 interaction_required with Graph's claims: the page takes them to the identity provider,
    # which asks for the account again because the session it had was revoked.
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url))
    spa.choose_user(USER)
    spa.wait_back_on_app()

    profile = spa.testid("profile")
    profile.get_by_text(UPN).first.wait_for()
    assert spa.testid("error").is_hidden()
    spa.screenshot("recovered-after-revocation")
