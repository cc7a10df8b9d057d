"""MSAL.js (the msal-browser UMD bundle) in headless Chromium against the Entra ID emulator:
redirect sign-in with PKCE and consent, silent renewal, and the SPA/web redirect-URI rule."""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from playwright.sync_api import expect, sync_playwright

from tests.fixtures.emulator import Emulator
from tests.fixtures.stack import CHROMIUM_ARGS, chromium_executable

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).with_name("pages")
MSAL_LIB = REPO_ROOT / "node_modules" / "@azure" / "msal-browser" / "lib"
MSAL_UMD = MSAL_LIB / "msal-browser.min.js"
MSAL_BRIDGE = MSAL_LIB / "redirect-bridge" / "msal-redirect-bridge.min.js"

pytestmark = pytest.mark.e2e


class StaticSite:
    """The test page on http://localhost:<free port>, in a background thread with its own event loop."""

    def __init__(self, config: dict[str, object]) -> None:
        self.config = config
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _app(self) -> web.Application:
        page = (PAGES / "msal_spa.html").read_text()
        app = web.Application()

        async def index(_: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        async def config(_: web.Request) -> web.Response:
            return web.json_response(self.config)

        async def script(_: web.Request) -> web.FileResponse:
            return web.FileResponse(PAGES / "spa.js")

        async def msal_bundle(_: web.Request) -> web.FileResponse:
            return web.FileResponse(MSAL_UMD)

        async def bridge_page(_: web.Request) -> web.FileResponse:
            return web.FileResponse(PAGES / "redirect.html")

        async def bridge_script(_: web.Request) -> web.FileResponse:
            return web.FileResponse(MSAL_BRIDGE)

        app.add_routes([web.get("/", index), web.get("/web-callback", index), web.get("/config.json", config),
                        web.get("/spa.js", script), web.get("/msal-browser.min.js", msal_bundle),
                        web.get("/redirect.html", bridge_page),
                        web.get("/msal-redirect-bridge.min.js", bridge_script)])
        return app

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._runner = web.AppRunner(self._app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> "StaticSite":
        self._thread.start()
        assert self._ready.wait(10), "static site did not start"
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            if self._runner:
                await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        # `localhost`, not 127.0.0.1: the registered SPA redirect URI is http://localhost:4280/ and Entra
        # ignores the port of loopback redirect URIs only for the same host name.
        return f"http://localhost:{self.port}/"


@pytest.fixture
def site(fresh_emulator: Emulator) -> Iterator[StaticSite]:
    config = {"clientId": fresh_emulator.app("spa")["client_id"], "authority": fresh_emulator.authority,
              "knownAuthorities": [urlsplit(fresh_emulator.entra_url).netloc], "apiScope": fresh_emulator.api_scope}
    with StaticSite(config) as running:
        yield running


@pytest.fixture
def page(site: StaticSite, tmp_path: Path) -> Iterator[object]:
    with sync_playwright() as playwright:
        # A persistent (regular) profile: Playwright's default contexts are off-the-record, and Chromium
        # blocks third-party cookies there, which would hide the emulator's session from silent iframes.
        # The emulator's certificate comes from the local CA, which this throwaway profile does not trust.
        profile = tmp_path / "profile"
        (profile / "Default").mkdir(parents=True)
        (profile / "Default" / "Preferences").write_text(json.dumps(
            {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}))
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_executable(), args=CHROMIUM_ARGS, ignore_https_errors=True)
        tab = context.pages[0] if context.pages else context.new_page()
        tab.set_default_timeout(20_000)
        try:
            yield tab
        finally:
            context.close()


def claims_shown(page) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(page.get_by_test_id("claims").text_content())


def test_redirect_sign_in_with_consent_then_silent_renewal(page, site: StaticSite,  # type: ignore[no-untyped-def]
                                                           fresh_emulator: Emulator) -> None:
    page.goto(site.url)
    expect(page.get_by_test_id("status")).to_have_text("ready")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Pick an account").wait_for()
    page.get_by_role("button", name="Priya Natarajan", exact=True).click()
    page.get_by_role("heading", name="Permissions requested").wait_for()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_test_id("status")).to_have_text("signed-in")
    first = claims_shown(page)
    assert first["aud"] == fresh_emulator.app("api")["client_id"]
    assert first["scp"] == "user_impersonation" and first["azp"] == fresh_emulator.app("spa")["client_id"]
    assert first["username"] == "priya.natarajan@larkspur.example"

    page.get_by_role("button", name="Renew silently").click()
    expect(page.get_by_test_id("status")).to_have_text("renewed")
    renewed = claims_shown(page)
    assert renewed["uti"] != first["uti"] and renewed["oid"] == first["oid"]
    grants = fresh_emulator.metrics()["token"]
    assert grants == {"authorization_code": 1, "refresh_token": 1}
    assert page.get_by_test_id("error").text_content() == ""


def test_web_redirect_uri_code_cannot_be_redeemed_from_the_browser(page, site: StaticSite,  # type: ignore
                                                                    fresh_emulator: Emulator) -> None:
    page.goto(site.url)
    expect(page.get_by_test_id("status")).to_have_text("ready")
    page.get_by_role("button", name="Redeem a web code").click()
    page.get_by_role("button", name="Sam Whitfield", exact=True).click()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_test_id("status")).to_have_text("web-redemption-done")
    assert page.get_by_test_id("error").text_content() == "400 invalid_request 9002326"


def test_sso_silent_uses_the_session_cookie_in_a_hidden_iframe(page, site: StaticSite,  # type: ignore
                                                               fresh_emulator: Emulator) -> None:
    page.goto(site.url)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Mira Okafor", exact=True).click()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_test_id("status")).to_have_text("signed-in")
    page.get_by_role("button", name="Sign in silently").click()
    expect(page.get_by_test_id("status")).not_to_have_text("signed-in")
    assert page.get_by_test_id("error").text_content() == ""
    assert page.get_by_test_id("status").text_content() == "sso-silent"
    assert claims_shown(page)["username"] == "mira.okafor@larkspur.example"
    assert fresh_emulator.metrics()["authorize"] == 2  # the interactive sign-in and the prompt=none iframe
