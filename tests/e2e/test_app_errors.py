"""Failures the user can act on: each error panel says what happened and offers the next step."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.e2e


def test_graph_throttling_shows_retry_after_and_retry_recovers(spa, local_stack):
    admin = local_stack.admin
    spa.sign_in("Tomás Ruiz")
    admin.fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=3, count=50)
    try:
        spa.get_profile()
        error = spa.testid("error")
        error.wait_for()
        spa.screenshot("throttled")
        text = error.inner_text()
        assert "graph_throttled" in text
        assert "3 seconds" in text
        retry = error.get_by_role("button", name="Retry")
        # Held back for the time the service asked for, then offered.
        assert retry.is_disabled()
    finally:
        admin.clear_faults()
    spa.page.wait_for_function("b => !b.disabled", arg=retry.element_handle(), timeout=10_000)
    retry.click()
    profile = spa.testid("profile")
    profile.wait_for()
    assert profile.get_by_text("tomas.ruiz@larkspur.example").first.is_visible()
    assert spa.testid("error").is_hidden()


def test_identity_provider_outage_is_reported_as_retry_later(spa, local_stack):
    admin = local_stack.admin
    spa.sign_in("Sam Whitfield")
    # The report needs Graph permissions beyond the profile's, so starting it always takes an On-Behalf-Of
    # exchange with Entra ID (a profile read may be served from the API's token cache instead).
    admin.fault(endpoint="token", status=503, retry_after=5, count=50)
    try:
        spa.button("Build report").click()
        error = spa.testid("error")
        error.wait_for()
        text = error.inner_text()
    finally:
        admin.clear_faults()
    spa.screenshot("identity-unavailable")
    assert "identity_unavailable" in text
    assert "Sign-in service is unavailable" in text
    assert spa.testid("report").is_hidden()
    # Once the wait the service asked for is over, Retry builds the report.
    retry = error.get_by_role("button", name="Retry")
    spa.page.wait_for_function("b => !b.disabled", arg=retry.element_handle(), timeout=15_000)
    retry.click()
    spa.testid("report").wait_for(timeout=60_000)
    assert spa.testid("error").is_hidden()


def test_failed_report_job_shows_why(spa, local_stack):
    admin = local_stack.admin
    spa.sign_in("Mira Okafor")
    admin.fault(endpoint="graph", path="/directReports", status=403, count=20)
    try:
        spa.button("Build report").click()
        error = spa.testid("error")
        error.wait_for(timeout=60_000)
        text = error.inner_text()
    finally:
        admin.clear_faults()
    spa.screenshot("report-failed")
    assert "consent_required" in text
    assert "An administrator must approve this app" in text
    link = error.get_by_role("link", name="Grant admin consent")
    assert "/adminconsent?client_id=" in (link.get_attribute("href") or "")
    assert spa.testid("report").is_hidden()
    # The job's last state stays visible next to the explanation.
    assert "Failed" in spa.page.locator("#job-status").inner_text()


def test_expired_token_offers_sign_in_again_with_the_same_account(spa, local_stack):
    spa.sign_in("Mira Okafor")
    # The API's answer when a token outlived its lifetime (clock skew between the browser and the API).
    problem = {"type": "about:blank", "title": "Token expired", "status": 401, "code": "token_expired",
               "detail": "The access token has expired."}
    spa.page.route("**/api/get-profile", lambda route: route.fulfill(
        status=401, content_type="application/problem+json", body=json.dumps(problem),
        headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'}))
    spa.get_profile()
    error = spa.testid("error")
    error.wait_for()
    assert "Your session expired" in error.inner_text()
    spa.page.unroute("**/api/get-profile")
    error.get_by_role("button", name="Sign in again").click()
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url))
    query = parse_qs(urlparse(spa.page.url).query)
    # The account is named (MSAL.js sends the ID token's opaque login_hint claim, as Entra ID issues it).
    assert query["login_hint"][0]
    assert query["state"][0]  # carries the interrupted action so the page can resume it


def test_api_down_at_start_says_so_and_keeps_sign_in_off(spa, local_stack):
    spa.page.route("**/api/config", lambda route: route.fulfill(status=503, body="unavailable"))
    spa.page.goto(local_stack.app_url + "/")
    error = spa.testid("error")
    error.wait_for()
    assert "The app could not start" in error.inner_text()
    assert error.get_by_role("button", name="Reload").is_visible()
    assert spa.button("Sign in").is_disabled()
