"""What ships: MSAL.js runs only if its bytes match the integrity hash in the page, and the deployable
dist/ (static_frontend/scripts/build.mjs) is served with the production Content-Security-Policy, which names
no localhost, so a page from it cannot reach the local emulators at all."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests

from localdev.stack import free_port, spawn, wait_http
from tests.fixtures.stack import REPO_ROOT, SpaDriver

pytestmark = pytest.mark.e2e

SWA_BIN = REPO_ROOT / "node_modules" / ".bin" / "swa"


def test_a_bundle_that_does_not_match_its_integrity_hash_does_not_run(spa, local_stack):
    def tampered(route) -> None:
        original = route.fetch()
        route.fulfill(response=original, body=original.body() + b"\n;window.tampered = true;\n")

    spa.page.route("**/vendor/msal-browser.min.js", tampered)
    spa.page.goto(local_stack.app_url + "/")
    error = spa.testid("error")
    error.wait_for()
    spa.screenshot("sri-mismatch")
    assert "The app could not start" in error.inner_text()
    assert "MSAL.js did not load" in error.inner_text()
    assert spa.page.evaluate("[typeof window.msal, typeof window.tampered]") == ["undefined", "undefined"]
    assert spa.button("Sign in").is_disabled()
    assert any("integrity" in message for message in spa.console_errors), spa.console_errors


@pytest.fixture(scope="module")
def production_site(local_stack, tmp_path_factory) -> Iterator[str]:
    """dist/ built into a temporary folder and served by the SWA CLI with its own (production) config."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["node", str(REPO_ROOT / "static_frontend" / "scripts" / "build.mjs"), "--out", str(out)],
                   cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    logs = tmp_path_factory.mktemp("swa-dist-logs")
    (logs / "swa-cli.none.json").write_text('{"configurations": {}}')
    port = free_port()
    env = dict(os.environ, NO_UPDATE_NOTIFIER="1", SWA_CLI_OPEN_BROWSER="false")
    child = spawn("swa-dist", [str(SWA_BIN), "start", str(out), "--api-devserver-url", local_stack.info.api_url,
                               "--swa-config-location", str(out), "--port", str(port), "--host", "127.0.0.1",
                               "--config", str(logs / "swa-cli.none.json")],
                  env=env, log_dir=logs, guarded=True)
    try:
        wait_http(child, f"http://127.0.0.1:{port}/", 90, ok=lambda status: status == 200)
        yield f"http://localhost:{port}"
    finally:
        child.stop()


def test_dist_is_served_with_the_production_policy_and_runtime_files_only(production_site, local_stack):
    session = requests.Session()
    session.trust_env = False
    page = session.get(production_site + "/", timeout=10)
    assert page.status_code == 200 and "Get user's profile" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "localhost" not in csp and "127.0.0.1" not in csp
    sign_in = "https://login.microsoftonline.com https://login.microsoftonline.us https://login.partner.microsoftonline.cn"
    assert f"connect-src 'self' {sign_in};" in csp and f"frame-src 'self' {sign_in};" in csp
    assert "require-trusted-types-for 'script'" in csp
    bridge = session.get(production_site + "/redirect.html", timeout=10)
    assert "frame-ancestors 'self'" in bridge.headers["Content-Security-Policy"]
    for absent in ("/README.md", "/scripts/vendor.mjs", "/scripts/build.mjs", "/staticwebapp.config.json"):
        assert session.get(production_site + absent, timeout=10).status_code == 404, absent


def test_a_page_from_dist_cannot_reach_the_local_emulators(production_site, local_stack, chromium, request):
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    driver = SpaDriver(page, local_stack, request.node.name)
    try:
        page.goto(production_site + "/people/deep/link")
        page.wait_for_function("() => !document.querySelector('#sign-in').disabled")
        with page.expect_console_message(lambda message: "Content Security Policy violation: connect-src" in message.text):
            driver.button("Sign in").click()
        driver.testid("error").wait_for()
        driver.screenshot("production-csp")
        entra = local_stack.info.entra_url.rstrip("/")
        blocked = [m for m in driver.csp_violations() if "connect-src" in m]
        assert blocked and all(entra in m for m in blocked), driver.console_errors
        shown = driver.testid("error").inner_text()
        assert "could not be reached" in shown and "Content Security Policy" in shown, shown
        assert "sign_in_blocked_by_policy" in shown and "trust-ca" not in shown, shown
        assert page.url.startswith(production_site)
    finally:
        context.close()
