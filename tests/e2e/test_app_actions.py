"""Actions running side by side: each keeps its own redirect state, focus stays where the user is, and a
double click starts one sign-in."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlparse

import pytest

pytestmark = pytest.mark.e2e

FORGET_TOKENS = """() => {
    // MSAL.js's cached access and refresh tokens: without them the next request needs the identity provider,
    // and in this browser profile (third-party cookies blocked) only an interactive sign-in will do.
    for (const key of Object.keys(sessionStorage)) {
        if (key.includes("|accesstoken|") || key.includes("|refreshtoken|")) sessionStorage.removeItem(key);
    }
}"""


def redirect_state(url: str) -> str:
    """The application part of MSAL.js's `state` ("<library state>|<application state>")."""
    state = unquote(parse_qs(urlparse(url).query)["state"][0])
    return state.split("|", 1)[1] if "|" in state else ""


def test_a_profile_click_during_report_polling_keeps_the_reports_redirect_state(spa, local_stack):
    spa.sign_in("Mira Okafor")
    polls: list[str] = []
    starts: list[str] = []
    finished = {"value": False}
    running = {"id": "job-7", "runtimeStatus": "Running", "progress": {"completed": 1, "total": 4, "stage": "Reading"}}
    completed = {"id": "job-7", "runtimeStatus": "Completed", "progress": {"completed": 4, "total": 4, "stage": "Done"},
                 "result": {"managerChain": [], "directReports": [], "groups": [{"id": "g", "displayName": "Leadership"}],
                            "groupCount": 1}}

    def start(route) -> None:
        starts.append(route.request.url)
        route.fulfill(status=202, content_type="application/json",
                      body=json.dumps({"id": "job-7", "statusUrl": "/api/jobs/job-7"}))

    def status(route) -> None:
        polls.append(route.request.url)
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps(completed if finished["value"] else running))

    spa.page.context.route("**/api/jobs/profile-report", start)
    spa.page.context.route("**/api/jobs/job-7", status)
    spa.button("Build report").click()
    while not polls:
        spa.page.wait_for_timeout(100)
    # While the report polls, the profile runs to the end (its own `finally` included).
    spa.get_profile().wait_for()
    spa.page.wait_for_function("() => !document.querySelector('#get-profile').hasAttribute('aria-busy')")
    spa.page.evaluate(FORGET_TOKENS)
    # The report's next poll needs a sign-in: the redirect carries the report, not an empty state.
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url), timeout=30_000)
    assert redirect_state(spa.page.url) == "report"

    finished["value"] = True
    polls_before = len(polls)
    spa.choose_user("Mira Okafor")
    spa.wait_back_on_app()
    report = spa.testid("report")
    report.wait_for()
    assert "Leadership" in report.inner_text()
    assert len(starts) == 1, "the same job resumed after the sign-in"
    assert len(polls) > polls_before and all(url.endswith("/api/jobs/job-7") for url in polls)
    assert spa.page.evaluate("document.activeElement.id") == "build-report"


def test_focus_stays_on_the_button_while_its_action_runs_and_after(spa, local_stack):
    spa.sign_in("Sam Whitfield")
    # Back from the sign-in redirect, focus is on the first thing to do, not lost on the page.
    assert spa.page.evaluate("document.activeElement.id") == "get-profile"
    button = spa.button("Get user's profile")
    button.focus()
    local_stack.admin.fault(endpoint="graph", path="/v1.0/me", latency_ms=1500, count=2)  # the profile and its photo
    try:
        spa.page.keyboard.press("Enter")
        spa.page.wait_for_function("() => document.querySelector('#get-profile').getAttribute('aria-busy') === 'true'")
        # Busy is announced with aria-disabled; the button keeps focus (a disabled one would drop it).
        assert spa.page.evaluate("""() => [document.activeElement.id,
            document.querySelector('#get-profile').getAttribute('aria-disabled')]""") == ["get-profile", "true"]
        spa.testid("profile").wait_for()
    finally:
        local_stack.admin.clear_faults()
    spa.page.wait_for_function("() => !document.querySelector('#get-profile').hasAttribute('aria-busy')")
    assert spa.page.evaluate("document.activeElement.id") == "get-profile"
    # A second press while it runs does not start a second request.
    profile_requests: list[str] = []
    spa.page.on("request", lambda request: request.url.endswith("/api/get-profile") and profile_requests.append(request.url))
    spa.page.keyboard.press("Enter")
    spa.page.keyboard.press("Enter")
    spa.page.wait_for_function("() => !document.querySelector('#get-profile').hasAttribute('aria-busy')")
    spa.page.wait_for_timeout(300)
    assert len(profile_requests) == 1


def test_a_double_click_on_sign_in_starts_one_sign_in(spa, local_stack):
    spa.page.add_init_script("""
        addEventListener("DOMContentLoaded", () => {
            const panel = document.querySelector("[data-testid=error]");
            if (!panel) return;
            new MutationObserver(() => { if (!panel.hidden) console.error("error panel: " + panel.textContent); })
                .observe(panel, { attributes: true, childList: true, subtree: true });
        });
    """)
    spa.open()
    spa.page.wait_for_function("() => !document.querySelector('#sign-in').disabled")
    spa.button("Sign in").dblclick()
    spa.page.wait_for_url(lambda url: url.startswith(local_stack.info.entra_url))
    spa.choose_user("Tomás Ruiz")
    accept = spa.button("Accept")
    spa.button("Sign out").or_(accept).wait_for()
    if accept.is_visible():
        accept.click()
    spa.wait_back_on_app()
    assert [m for m in spa.console_errors if "error panel" in m or "interaction_in_progress" in m] == []
    assert spa.testid("error").is_hidden()
