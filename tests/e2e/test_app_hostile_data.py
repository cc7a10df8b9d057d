"""Hostile answers from the API and from Graph: links that are not what they claim, text that reorders
itself, mail addresses that carry headers, an untrusted identity provider, absurd times and waits.
The page renders each as inert text and keeps working."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

RLO, PDF, RLI, PDI = "\u202e", "\u202c", "\u2067", "\u2069"


def answer(spa, pattern: str, status: int, body: dict, headers: dict | None = None) -> None:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    spa.page.route(pattern, lambda route: route.fulfill(status=status, content_type=content_type,
                                                        body=json.dumps(body), headers=headers or {}))


def profile(**fields) -> dict:
    return {"id": "00000000-0000-0000-0000-000000000001", "displayName": "Eve Example",
            "userPrincipalName": "eve@larkspur.example", "businessPhones": [], **fields}


@pytest.mark.parametrize("consent_url", [
    "javascript:alert(document.domain)//adminconsent",
    "data:text/html,<script>alert(1)</script>/adminconsent",
    "https://evil.example/tenant/adminconsent?client_id=1",
    "{entra}/tenant/oauth2/v2.0/authorize?next=/adminconsent",
    "http://{entra_host}/tenant/adminconsent",
])
def test_a_consent_url_off_the_authority_gets_no_link(spa, local_stack, consent_url):
    entra = local_stack.info.entra_url.rstrip("/")
    href = consent_url.format(entra=entra, entra_host=entra.split("://", 1)[1])
    spa.sign_in("Daniel Reyes")
    answer(spa, "**/api/get-profile", 403, {"type": "about:blank", "title": "Consent required", "status": 403,
                                            "code": "consent_required", "detail": "An administrator must consent.",
                                            "consentUrl": href})
    spa.get_profile()
    error = spa.testid("error")
    error.wait_for()
    spa.screenshot("hostile-consent-url")
    assert "consent_required" in error.inner_text()
    assert error.get_by_role("link").count() == 0
    assert error.get_by_role("button", name="Retry").is_visible()


def test_bidi_controls_in_names_are_isolated_and_shown(spa):
    spa.sign_in("Mira Okafor")
    name = f"Eve {RLO}nimda{PDF}"
    answer(spa, "**/api/get-profile", 200, profile(displayName=name, jobTitle=f"{RLI}CEO{PDI} of everything",
                                                   officeLocation=f"Room {RLO}101"))
    card = spa.get_profile()
    card.wait_for()
    spa.page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Profile loaded')")
    spa.screenshot("bidi-profile")
    heading = card.locator("[data-part=name]")
    # The override is shown, not obeyed: the name reads as sent, with the control named.
    assert heading.inner_text() == "Eve [U+202E]nimda[U+202C]"
    assert card.locator("[data-part=title]").inner_text() == "[U+2067]CEO[U+2069] of everything"
    assert "Room [U+202E]101" in card.inner_text()
    # Every Graph string sits in its own isolate, so it cannot reorder the text around it either.
    isolated = spa.page.evaluate("""() => [...document.querySelectorAll('[data-testid=profile] bdi, #status bdi')]
        .map((node) => getComputedStyle(node).unicodeBidi)""")
    assert len(isolated) >= 4 and set(isolated) == {"isolate"}
    status = spa.page.locator("#status")
    assert status.inner_text() == "Profile loaded for Eve [U+202E]nimda[U+202C]."
    text = spa.page.evaluate("() => document.body.innerText")
    assert RLO not in text and RLI not in text

    # Group names come from any group owner: the report isolates and shows them the same way.
    spa.page.route("**/api/jobs/profile-report", lambda route: route.fulfill(
        status=202, content_type="application/json", body=json.dumps({"id": "job-1", "statusUrl": "/api/jobs/job-1"})))
    groups = [{"id": "g1", "displayName": f"Payroll {RLO}exe.txt{PDF}", "kind": "group"}]
    answer(spa, "**/api/jobs/job-1", 200, {"id": "job-1", "runtimeStatus": "Completed",
                                          "progress": {"completed": 4, "total": 4, "stage": "Done"},
                                          "result": {"managerChain": [], "directReports": [], "groups": groups,
                                                     "groupCount": 1}})
    spa.button("Build report").click()
    report = spa.testid("report")
    report.wait_for()
    item = report.locator("li").filter(has_text="Payroll")
    assert item.inner_text() == "Payroll [U+202E]exe.txt[U+202C]"
    assert item.locator("bdi").evaluate("node => getComputedStyle(node).unicodeBidi") == "isolate"


def test_mail_with_header_parameters_is_not_a_link(spa):
    spa.sign_in("Mira Okafor")
    hostile = "mira.okafor@larkspur.example?bcc=eve@evil.example&body=Please%20wire%20funds"
    answer(spa, "**/api/get-profile", 200, profile(mail=hostile))
    card = spa.get_profile()
    card.wait_for()
    card.get_by_text("bcc=eve@evil.example", exact=False).wait_for()
    assert card.get_by_role("link").count() == 0, "no mailto: link for something that is not one address"

    spa.page.unroute("**/api/get-profile")
    answer(spa, "**/api/get-profile", 200, profile(mail="ops+mira@larkspur.example"))
    spa.get_profile()
    link = card.get_by_role("link", name="ops+mira@larkspur.example")
    link.wait_for()
    assert link.get_attribute("href") == "mailto:ops%2Bmira@larkspur.example"


def test_an_identity_provider_the_page_does_not_trust_is_refused(spa, local_stack):
    config = spa.page.context.request.get(local_stack.app_url + "/api/config").json()
    hostile = {**config, "authority": "https://login.evil.example/tenant", "knownAuthorities": ["login.evil.example"]}
    spa.page.route("**/api/config", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                body=json.dumps(hostile)))
    spa.page.goto(local_stack.app_url + "/")
    error = spa.testid("error")
    error.wait_for()
    spa.screenshot("untrusted-authority")
    text = error.inner_text()
    assert "The app could not start" in text
    assert "does not trust (login.evil.example)" in text
    assert spa.button("Sign in").is_disabled()


def test_an_out_of_range_time_claim_does_not_take_down_diagnostics(spa):
    spa.sign_in("Mira Okafor")
    answer(spa, "**/api/diagnostics", 200, {
        "settings": {"API_CLIENT_ID": True}, "settingsValid": True,
        "token": {"valid": True, "header": "X-User-Authorization",
                  "claims": {"exp": 1e20, "iat": -8.7e15, "nbf": 1700000000, "aud": "api"}}})
    spa.button("Show diagnostics").click()
    diagnostics = spa.page.locator("#diagnostics")
    diagnostics.wait_for()
    text = diagnostics.inner_text()
    assert "100000000000000000000" in text and "-8700000000000000" in text
    assert diagnostics.locator("time").count() == 1  # nbf is a real time
    assert spa.testid("error").is_hidden()


def test_a_retry_after_date_centuries_away_is_capped(spa):
    spa.sign_in("Tomás Ruiz")
    answer(spa, "**/api/get-profile", 503, {"type": "about:blank", "title": "Graph unavailable", "status": 503,
                                            "code": "graph_unavailable", "detail": "Graph is down."},
           {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})
    spa.get_profile()
    error = spa.testid("error")
    error.wait_for()
    text = error.inner_text()
    assert "asked to wait 60 minutes" in text
    assert error.get_by_role("button", name="Retry in 60 minutes").is_disabled()
