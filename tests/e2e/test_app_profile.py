"""Sign in on the emulator's page, read the profile with its photo, sign out: the path every user takes."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_sign_in_shows_profile_and_photo_then_sign_out(spa):
    spa.open()
    spa.screenshot("signed-out")
    spa.click_sign_in()
    spa.screenshot("emulator-sign-in")
    spa.choose_user("Mira Okafor")
    accept = spa.button("Accept")
    spa.button("Sign out").or_(accept).wait_for()
    if accept.is_visible():
        spa.screenshot("consent")
        accept.click()
    spa.wait_back_on_app()

    profile = spa.get_profile()
    profile.wait_for()
    assert profile.get_by_text("Mira Okafor").first.is_visible()
    assert profile.get_by_text("mira.okafor@larkspur.example").first.is_visible()
    assert profile.get_by_text("Chief Executive Officer").is_visible()

    photo = spa.testid("profile-photo").locator("img")
    photo.wait_for()
    assert photo.get_attribute("src").startswith("blob:")
    # The bytes decoded as an image: a broken blob would leave naturalWidth at 0.
    spa.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    spa.screenshot("profile")

    spa.sign_out()
    assert spa.testid("profile").is_hidden()
    assert spa.button("Get user's profile").count() == 0 or spa.button("Get user's profile").is_hidden()
    spa.screenshot("signed-out-again")
    assert spa.csp_violations() == []


def test_user_without_photo_gets_initials(spa):
    spa.sign_in("Sam Whitfield")
    profile = spa.get_profile()
    profile.wait_for()
    assert profile.get_by_text("sam.whitfield@larkspur.example").first.is_visible()
    placeholder = spa.testid("profile-photo")
    placeholder.locator(".initials").wait_for()
    assert placeholder.get_attribute("data-state") == "initials"
    assert placeholder.inner_text().strip() == "SW"
    assert placeholder.locator("img").count() == 0
    assert spa.testid("error").is_hidden()


def test_api_receives_the_token_in_the_custom_header(spa):
    spa.sign_in("Tomás Ruiz")
    with spa.page.expect_request(re.compile(r".*/api/get-profile$")) as captured:
        spa.get_profile().wait_for()
    headers = captured.value.headers
    # Static Web Apps (here its linked-backend emulation) replaces Authorization; the custom header survives,
    # so the page sends the user's token there only.
    assert headers["x-user-authorization"].startswith("Bearer ey")
    assert "authorization" not in headers
