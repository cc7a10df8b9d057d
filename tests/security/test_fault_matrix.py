"""The fault matrix: identity provider and Graph failures, each mapped to its documented response.

Every cell drives the real app in the local host (App Service authentication on) against the emulators,
with failures injected through `POST /_emulator/faults`, keys rotated through `POST /_emulator/keys/rotate`,
or (for bodies the emulator does not produce) a small HTTPS Graph stand-in. Each cell checks the status,
the problem `code`, `Retry-After` where it applies, and that the answer came inside the time budget
(Graph: 8 s of retries; MSAL: a 10 s read timeout). Cells the in-process integration tests already cover
are listed in tests/security/README.md and not repeated here.
"""
from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from aiohttp import web

from tests.fixtures.emulator import start_emulator, stop_emulator
from tests.fixtures.host import HostHandle, emulator_app_env, start_host
from tests.security.support import MIRA, OBO_GRANT, SAM, assert_problem, session, spa_headers, user_token

DANIEL = "daniel.reyes@larkspur.example"
PRIYA = "priya.natarajan@larkspur.example"
TOMAS = "tomas.ruiz@larkspur.example"
GRAPH_BUDGET_S = 8.0   # function_app.graph.DEFAULT_BUDGET_SECONDS
MSAL_READ_TIMEOUT_S = 10.0  # function_app.obo.MSAL_TIMEOUT
SLACK_S = 3.0


@pytest.fixture
def http() -> Iterator[requests.Session]:
    s = session()
    yield s
    s.close()


@pytest.fixture
def new_host(fresh_emulator: Any, tmp_path: Path) -> Iterator[Callable[..., HostHandle]]:
    """A host of its own (cold JWKS and token caches), wired to the freshly reset emulator."""
    started: list[HostHandle] = []

    def make(emulator: Any = fresh_emulator, **env: str) -> HostHandle:
        handle = start_host(env={**emulator_app_env(emulator), **env}, state_dir=tmp_path / f"durable{len(started)}")
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture(scope="module")
def warm_host(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostHandle]:
    """One host for the Graph cells (its caches stay warm between them)."""
    handle = start_host(env=emulator_app_env(emulator), state_dir=tmp_path_factory.mktemp("faults-durable"))
    yield handle
    handle.stop()


def timed_get(http: requests.Session, host: HostHandle, token: str, path: str = "get-profile",
              timeout: float = 60) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = http.get(host.api(path), headers=spa_headers(token), timeout=timeout)
    return response, time.monotonic() - started


def obo_count(emulator: Any) -> int:
    return emulator.metrics()["token"].get(OBO_GRANT, 0)


def graph_count(emulator: Any, suffix: str) -> int:
    return sum(n for path, n in emulator.metrics()["graph"].items() if path.endswith(suffix))


def ok_profile(response: requests.Response, upn: str) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["userPrincipalName"] == upn


# -- token endpoint ---------------------------------------------------------------------------------
# Each cell gets a host of its own: MSAL throttles the token endpoint per app (client id + scopes) after a
# 429/5xx for Retry-After seconds (5 s without one), process-wide, so a shared host would carry one cell's
# throttling into the next.


def faults_left(emulator: Any) -> list[dict[str, Any]]:
    return emulator.admin("GET", "/_emulator/faults")["faults"]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_token_endpoint_5xx(status: int, fresh_emulator: Any, new_host: Callable[..., HostHandle],
                            http: requests.Session) -> None:
    host = new_host()
    fresh_emulator.fault(endpoint="token", status=status, retry_after=3, count=1)
    response, elapsed = timed_get(http, host, user_token(fresh_emulator))
    assert_problem(response, {503}, "identity_unavailable")
    assert response.headers["Retry-After"] == "3"
    assert elapsed < SLACK_S
    assert faults_left(fresh_emulator) == []  # the exchange really reached the token endpoint


def test_token_endpoint_429_holds_every_caller_back_for_retry_after(fresh_emulator: Any,
                                                                    new_host: Callable[..., HostHandle],
                                                                    http: requests.Session) -> None:
    """After a 429, the next users' first calls are answered 503 + Retry-After without a token request."""
    host = new_host()
    fresh_emulator.fault(endpoint="token", status=429, retry_after=2, count=1)
    started = time.monotonic()
    response, _ = timed_get(http, host, user_token(fresh_emulator, MIRA))
    assert_problem(response, {503}, "identity_unavailable")
    assert response.headers["Retry-After"] == "2"
    exchanges = obo_count(fresh_emulator)
    response, _ = timed_get(http, host, user_token(fresh_emulator, SAM))
    if time.monotonic() - started < 1.5:
        assert_problem(response, {503}, "identity_unavailable")
        assert obo_count(fresh_emulator) == exchanges, "the throttled app still hammered the token endpoint"
    time.sleep(max(0.0, started + 2.2 - time.monotonic()))
    ok_profile(timed_get(http, host, user_token(fresh_emulator, SAM))[0], SAM)


def test_token_endpoint_5xx_without_retry_after_still_gives_one(fresh_emulator: Any, new_host: Callable[..., HostHandle],
                                                                http: requests.Session) -> None:
    host, upn = new_host(), MIRA
    fresh_emulator.fault(endpoint="token", status=503, count=1)
    response, _ = timed_get(http, host, user_token(fresh_emulator, upn))
    assert_problem(response, {503}, "identity_unavailable")
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_token_endpoint_slow_but_answering(fresh_emulator: Any, new_host: Callable[..., HostHandle],
                                           http: requests.Session) -> None:
    host, upn = new_host(), MIRA
    fresh_emulator.fault(endpoint="token", latency_ms=1500, count=1)
    response, elapsed = timed_get(http, host, user_token(fresh_emulator, upn))
    ok_profile(response, upn)
    assert 1.5 <= elapsed < 1.5 + SLACK_S


@pytest.mark.slow
def test_token_endpoint_slower_than_the_timeout(fresh_emulator: Any, new_host: Callable[..., HostHandle],
                                                http: requests.Session) -> None:
    host, upn = new_host(), MIRA
    fresh_emulator.fault(endpoint="token", latency_ms=15_000, count=1)
    response, elapsed = timed_get(http, host, user_token(fresh_emulator, upn))
    assert_problem(response, {503}, "identity_unavailable")
    assert elapsed < MSAL_READ_TIMEOUT_S + SLACK_S


def test_identity_provider_down(tmp_path: Path, http: requests.Session) -> None:
    """The Entra (and Graph) emulator process is gone after warm-up: fast, clear 503s, no hang."""
    private = start_emulator(state_dir=tmp_path / "state")
    host = None
    try:
        host = start_host(env=emulator_app_env(private), state_dir=tmp_path / "durable")
        mira_token = user_token(private, MIRA)
        ok_profile(timed_get(http, host, mira_token)[0], MIRA)
        sam_token = user_token(private, SAM)  # minted before the outage, never exchanged
        assert private.process is not None
        stop_emulator(private.process)

        response, elapsed = timed_get(http, host, sam_token)
        assert_problem(response, {503}, "identity_unavailable")
        assert elapsed < SLACK_S + 1
        # A Graph token is cached for Mira's token: the request gets as far as Graph, which is down too.
        response, elapsed = timed_get(http, host, mira_token)
        assert_problem(response, {503}, "graph_unavailable")
        assert elapsed < GRAPH_BUDGET_S + SLACK_S
    finally:
        if host is not None:
            host.stop()
        if private.process is not None:
            stop_emulator(private.process)
        private.session.close()


@pytest.mark.parametrize(("aadsts", "status", "code"), [(50076, 401, "interaction_required"),
                                                        (65001, 403, "consent_required"),
                                                        (500133, 401, "token_expired"),
                                                        (50173, 401, "interaction_required"),
                                                        (50013, 500, "misconfigured"),
                                                        (70021, 500, "misconfigured"),
                                                        (700213, 500, "misconfigured"),
                                                        (7002138, 500, "misconfigured")])
def test_token_endpoint_aadsts_errors(aadsts: int, status: int, code: str, fresh_emulator: Any,
                                      new_host: Callable[..., HostHandle], http: requests.Session) -> None:
    host, upn = new_host(), MIRA
    fresh_emulator.fault(endpoint="token", aadsts=aadsts, count=1)
    response, _ = timed_get(http, host, user_token(fresh_emulator, upn))
    body = assert_problem(response, {status}, code)
    assert f"AADSTS{aadsts}" in body["detail"]
    if code == "consent_required":
        link = body["consentUrl"]
        assert f"/adminconsent?client_id={fresh_emulator.app('api')['client_id']}&redirect_uri=" in link
        # The link works: Entra (and the emulator) answer AADSTS500113 when it names no registered reply URL.
        page = http.get(link, verify=str(fresh_emulator.ca_bundle), timeout=10, allow_redirects=False)
        assert page.status_code == 200 and "AADSTS500113" not in page.text and "AADSTS50011" not in page.text
    if code == "misconfigured":
        assert body["setting"] and "retry" not in body["detail"].lower() and "sign in" not in body["detail"].lower()
        assert "WWW-Authenticate" not in response.headers and "Retry-After" not in response.headers



# -- Graph --------------------------------------------------------------------------------------------

def test_graph_429_with_retry_after_is_honoured(fresh_emulator: Any, warm_host: HostHandle,
                                                http: requests.Session) -> None:
    token = user_token(fresh_emulator, DANIEL)
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=1, count=2)
    response, elapsed = timed_get(http, warm_host, token)
    ok_profile(response, DANIEL)
    assert 2.0 <= elapsed < GRAPH_BUDGET_S
    assert graph_count(fresh_emulator, "/v1.0/me") == 3


def test_graph_429_with_retry_after_beyond_the_budget_fails_fast(fresh_emulator: Any, warm_host: HostHandle,
                                                                 http: requests.Session) -> None:
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=30, count=0)
    response, elapsed = timed_get(http, warm_host, token)
    assert_problem(response, {429}, "graph_throttled")
    assert response.headers["Retry-After"] == "30"
    assert elapsed < SLACK_S
    assert graph_count(fresh_emulator, "/v1.0/me") == 1


def test_graph_503_persistent_stays_inside_the_budget(fresh_emulator: Any, warm_host: HostHandle,
                                                      http: requests.Session) -> None:
    token = user_token(fresh_emulator, TOMAS)
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", status=503, retry_after=1, count=0)
    response, elapsed = timed_get(http, warm_host, token)
    assert_problem(response, {503}, "graph_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < GRAPH_BUDGET_S + SLACK_S
    assert 2 <= graph_count(fresh_emulator, "/v1.0/me") <= 4


def test_graph_photo_503(fresh_emulator: Any, warm_host: HostHandle, http: requests.Session) -> None:
    token = user_token(fresh_emulator, MIRA)
    fresh_emulator.fault(endpoint="graph", path="/photo/", status=503, count=0)
    response, elapsed = timed_get(http, warm_host, token, "get-profile/photo")
    assert_problem(response, {503}, "graph_unavailable")
    assert elapsed < GRAPH_BUDGET_S + SLACK_S


def test_graph_slow_but_answering(fresh_emulator: Any, warm_host: HostHandle, http: requests.Session) -> None:
    token = user_token(fresh_emulator, MIRA)
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", latency_ms=1500, count=1)
    response, elapsed = timed_get(http, warm_host, token)
    ok_profile(response, MIRA)
    assert 1.5 <= elapsed < 1.5 + SLACK_S


@pytest.mark.slow
def test_graph_timeout(fresh_emulator: Any, warm_host: HostHandle, http: requests.Session) -> None:
    token = user_token(fresh_emulator, SAM)
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", latency_ms=20_000, count=0)
    response, elapsed = timed_get(http, warm_host, token)
    assert_problem(response, {503}, "graph_unavailable")
    assert elapsed < GRAPH_BUDGET_S + SLACK_S


# -- Graph bodies the emulator does not produce: a small HTTPS stand-in --------------------------------

class GraphStandIn:
    """Answers /v1.0/me and /v1.0/me/photo/$value with whatever `mode` says, over HTTPS with the local CA."""

    def __init__(self, cert_dir: Path) -> None:
        self.mode = "ok"
        self.requests = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert_dir / "server.pem", cert_dir / "server-key.pem")
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "GraphStandIn":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1.0/me", self._me)
        app.router.add_get("/v1.0/me/photo/$value", self._photo)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}/v1.0"

    async def _me(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        mode = self.mode
        json_type = "application/json"
        if mode == "ok":
            return web.json_response({"id": "x", "displayName": "Stand In", "userPrincipalName": "stand.in@example"})
        if mode == "truncated":
            return web.Response(body=b'{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#us',
                                content_type=json_type)
        if mode == "array":
            return web.Response(text="[1, 2, 3]", content_type=json_type)
        if mode == "html":
            return web.Response(text="<html><body>Service Unavailable</body></html>", content_type="text/html")
        if mode == "empty":
            return web.Response(body=b"", content_type=json_type)
        if mode == "html-500":
            return web.Response(status=500, text="<html>oops</html>", content_type="text/html")
        if mode == "429-http-date":
            return web.Response(status=429, text="{}", content_type=json_type,
                                headers={"Retry-After": "Wed, 21 Oct 2065 07:28:00 GMT"})
        if mode == "429-huge-retry-after":
            return web.Response(status=429, text="{}", content_type=json_type, headers={"Retry-After": "99999999"})
        if mode == "503-bad-retry-after":
            return web.Response(status=503, text="{}", content_type=json_type, headers={"Retry-After": "soon"})
        if mode == "401":
            return web.Response(status=401, text='{"error":{"code":"InvalidAuthenticationToken"}}',
                                content_type=json_type)
        if mode == "403":
            return web.Response(status=403, text='{"error":{"code":"Authorization_RequestDenied"}}',
                                content_type=json_type)
        raise AssertionError(mode)

    async def _photo(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.mode == "photo-html":
            return web.Response(text="<html>not an image</html>", content_type="text/html")
        if self.mode == "photo-oversized":
            return web.Response(body=b"\xff\xd8" + b"\0" * (5 * 1024 * 1024), content_type="image/jpeg")
        return web.Response(body=b"\xff\xd8\xff\xe0fake-jpeg", content_type="image/jpeg")


@pytest.fixture(scope="module")
def stand_in_host(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStandIn, HostHandle]]:
    emulator.reset()
    stand_in = GraphStandIn(Path(emulator.ca_bundle).parent).start()
    env = {**emulator_app_env(emulator), "GRAPH_BASE_URL": stand_in.base_url}
    host = start_host(env=env, state_dir=tmp_path_factory.mktemp("standin-durable"))
    yield stand_in, host
    host.stop()
    stand_in.stop()


@pytest.mark.parametrize(("mode", "path", "status", "code"), [
    ("truncated", "get-profile", 503, "graph_unavailable"),
    ("array", "get-profile", 503, "graph_unavailable"),
    ("html", "get-profile", 503, "graph_unavailable"),
    ("empty", "get-profile", 503, "graph_unavailable"),
    ("html-500", "get-profile", 503, "graph_unavailable"),
    ("429-http-date", "get-profile", 429, "graph_throttled"),
    ("429-huge-retry-after", "get-profile", 429, "graph_throttled"),
    ("503-bad-retry-after", "get-profile", 503, "graph_unavailable"),
    ("401", "get-profile", 503, "graph_unavailable"),
    ("403", "get-profile", 403, "consent_required"),
    ("photo-html", "get-profile/photo", 503, "graph_unavailable"),
    ("photo-oversized", "get-profile/photo", 503, "graph_unavailable"),
])
def test_graph_malformed_answers(mode: str, path: str, status: int, code: str, emulator: Any,
                                 stand_in_host: tuple[GraphStandIn, HostHandle], http: requests.Session) -> None:
    stand_in, host = stand_in_host
    stand_in.mode = "ok"
    ok = timed_get(http, host, user_token(emulator, MIRA))[0]
    assert ok.status_code == 200 and ok.json()["displayName"] == "Stand In", ok.text
    stand_in.mode = mode
    response, elapsed = timed_get(http, host, user_token(emulator, MIRA), path)
    body = assert_problem(response, {status}, code)
    assert "Stand In" not in response.text and "<html" not in response.text
    assert elapsed < GRAPH_BUDGET_S + SLACK_S
    if status in (429, 503):
        assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert body["correlationId"]
