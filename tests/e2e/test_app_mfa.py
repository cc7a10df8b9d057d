"""Conditional Access: Graph needs MFA for this user, the API answers 401 with an insufficient_claims
challenge, and the page signs in again asking for those claims; after MFA the profile loads."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_claims_challenge_leads_through_mfa_to_the_profile(spa, local_stack):
    spa.sign_in("Lena Hoffmann")
    spa.get_profile()
    # The page follows the challenge to the identity provider on its own.
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url))
    approve = spa.button("Approve sign-in")
    account = spa.button("Lena Hoffmann")
    approve.or_(account).wait_for()
    if account.is_visible():
        # The identity provider may ask which account first, as Entra ID does without a session.
        account.click()
    approve.wait_for()
    spa.screenshot("mfa-prompt")
    approve.click()
    spa.wait_back_on_app()

    # Back on the app, the interrupted action resumes with the new token.
    profile = spa.testid("profile")
    profile.wait_for()
    assert profile.get_by_text("lena.hoffmann@larkspur.example").first.is_visible()
    assert spa.testid("error").is_hidden()
    # Focus is back on the button the user pressed before the detour through the identity provider.
    assert spa.page.evaluate("document.activeElement.id") == "get-profile"
