"""What the Static Web Apps CLI serves from staticwebapp.config.json, and the diagnostics view."""
from __future__ import annotations

import re

import pytest
import requests

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_security_headers_are_applied(local_stack, http):
    response = http.get(local_stack.app_url + "/", timeout=10)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "https://login.microsoftonline.com" in csp  # the Azure authority
    assert "require-trusted-types-for 'script'" in csp and "trusted-types 'none'" in csp
    assert "img-src 'self' blob:;" in csp  # the photo is a blob: URL; nothing uses data:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_redirect_bridge_may_be_framed_by_the_app_only(local_stack, http):
    response = http.get(local_stack.app_url + "/redirect.html", timeout=10)
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


def test_navigation_fallback_serves_the_app_but_not_for_the_api(local_stack, http):
    deep = http.get(local_stack.app_url + "/profile/settings", timeout=10)
    assert deep.status_code == 200
    assert "Get user's profile" in deep.text
    api = http.get(local_stack.app_url + "/api/get-profile", timeout=10)
    assert api.status_code == 401
    assert api.headers["Content-Type"].startswith("application/problem+json")
    for private in ("/scripts/vendor.mjs", "/README.md", "/staticwebapp.config.json"):
        assert http.get(local_stack.app_url + private, timeout=10).status_code == 404, private


def test_a_deep_link_loads_the_app(spa, local_stack):
    failed: list[str] = []
    spa.page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    spa.page.goto(local_stack.app_url + "/people/mira/report")
    # main.js ran (it enables Sign in once the settings have loaded) and the stylesheet applied.
    spa.page.wait_for_function("() => !document.querySelector('#sign-in').disabled", timeout=20_000)
    assert spa.page.evaluate("getComputedStyle(document.querySelector('.topbar')).borderBottomStyle") == "solid"
    assert spa.page.evaluate("typeof window.msal") == "object"
    assert failed == []
    spa.click_sign_in()


def test_trusted_types_block_html_sinks(spa):
    spa.open()
    with spa.page.expect_console_message(lambda message: "require-trusted-types-for" in message.text):
        blocked = spa.page.evaluate("""() => {
            try {
                document.body.insertAdjacentHTML("beforeend", "<img src=x>");
                return "inserted";
            } catch (error) {
                return error.name;
            }
        }""")
    assert blocked == "TypeError"
    # The violation this test provoked on purpose; every other browser test runs the app under the same
    # policy and fails on any violation, so the app itself never needs an HTML sink.
    assert any("require-trusted-types-for" in m for m in spa.console_errors), spa.console_errors
    spa.console_errors[:] = [m for m in spa.console_errors if "require-trusted-types-for" not in m]


def test_diagnostics_show_which_header_carried_the_token(spa):
    spa.sign_in("Mira Okafor")
    spa.button("Show diagnostics").click()
    diagnostics = spa.page.locator("#diagnostics")
    diagnostics.wait_for()
    spa.screenshot("diagnostics")
    text = diagnostics.inner_text()
    assert "X-User-Authorization" in text or "x-user-authorization" in text.lower()
    assert "user_impersonation" in text
    assert "local-api-secret" not in text
    # The header section: the function got the user's token in X-User-Authorization and, in Authorization, the
    # platform token the linked-backend emulation put there on the way (the page sent none).
    headers = diagnostics.locator(".fact").filter(has=spa.page.locator("dt", has_text="Headers"))
    authorization = headers.locator(".fact").filter(has=spa.page.locator("dt", has_text=re.compile(r"^Authorization$")))
    user_header = headers.locator(".fact").filter(has=spa.page.locator("dt", has_text="X-User-Authorization"))
    assert "static_web_apps_platform_token" in authorization.inner_text()
    assert "entra_access_token" in user_header.inner_text()


def test_keyboard_alone_reaches_sign_in(spa, local_stack):
    spa.open()
    spa.button("Sign in").wait_for()
    spa.page.wait_for_function("() => !document.querySelector('#sign-in').disabled")
    spa.page.keyboard.press("Tab")  # the skip link comes first
    assert spa.page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    spa.page.keyboard.press("Tab")
    assert spa.page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    spa.page.keyboard.press("Enter")
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url))


def test_small_screens_do_not_scroll_sideways(spa):
    spa.page.set_viewport_size({"width": 360, "height": 740})
    spa.sign_in("Priya Natarajan")
    spa.get_profile().wait_for()
    spa.screenshot("mobile-profile")
    assert spa.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for name in ("Sign out", "Get user's profile", "Build report"):
        box = spa.button(name).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, name
