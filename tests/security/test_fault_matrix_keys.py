"""The fault matrix, signing keys: the identity provider's discovery and JWKS failing, keys rotating, and keys
past their last-known-good lifetime (docs/architecture.md, "Signing keys when the identity provider fails").

Cells drive the real app in the local host against the emulators (faults through `POST /_emulator/faults`,
rotation through `POST /_emulator/keys/rotate`), except the last-known-good cell: 25 hours cannot pass in a
test, so it runs the app's functions in-process with real HTTPS key fetches from the emulator and a clock of
its own for the key cache.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import azure.functions as func
import pytest
import requests

import function_app
from function_app import services
from function_app.auth.jwks import LAST_KNOWN_GOOD_SECONDS, JwksCache, discovery_urls, requests_fetcher
from function_app.auth.validate import TokenValidator, ValidatedTokens
from function_app.http_sessions import tls_session
from function_app.settings import load_settings
from tests.fixtures.host import HostHandle, emulator_app_env, start_host
from tests.security.support import MIRA, SAM, USER_HEADER, assert_problem, decode_part, session, spa_headers, user_token
from tests.security.test_fault_matrix import (DANIEL, PRIYA, SLACK_S, TOMAS, http, new_host,  # noqa: F401 (fixtures)
                                              ok_profile, timed_get)
from tests.unit.function_app.support import registered_functions

def test_jwks_down_with_warm_cache_keeps_working(fresh_emulator: Any, new_host: Callable[..., HostHandle],
                                                 http: requests.Session) -> None:
    host = new_host()
    ok_profile(timed_get(http, host, user_token(fresh_emulator, MIRA))[0], MIRA)
    for endpoint in ("jwks", "discovery"):
        fresh_emulator.fault(endpoint=endpoint, status=503, count=0)  # until cleared
    for upn in (MIRA, SAM, DANIEL):  # fresh tokens, and users whose first exchange happens during the outage
        ok_profile(timed_get(http, host, user_token(fresh_emulator, upn))[0], upn)


@pytest.mark.parametrize(("endpoint", "auth"), [("jwks", False), ("discovery", False), ("jwks", True)],
                         ids=["jwks-direct", "discovery-direct", "jwks-behind-app-service-auth"])
def test_jwks_down_with_cold_cache(endpoint: str, auth: bool, fresh_emulator: Any, tmp_path: Path,
                                   http: requests.Session) -> None:
    fresh_emulator.fault(endpoint=endpoint, status=503, count=0)
    host = start_host(env=emulator_app_env(fresh_emulator), auth=auth, state_dir=tmp_path / "durable")
    try:
        token = user_token(fresh_emulator)
        response, elapsed = timed_get(http, host, token)
        assert_problem(response, {503}, "identity_unavailable")
        assert elapsed < SLACK_S + 1
        if not auth:  # once the keys are back, the first request after the back-off window fetches them
            fresh_emulator.admin("DELETE", "/_emulator/faults")
            time.sleep(int(response.headers["Retry-After"]))
            ok_profile(timed_get(http, host, token)[0], MIRA)
    finally:
        host.stop()


@pytest.fixture
def rotation_host(fresh_emulator: Any, tmp_path: Path) -> Iterator[HostHandle]:
    handle = start_host(env=emulator_app_env(fresh_emulator), state_dir=tmp_path / "durable")
    yield handle
    handle.stop()


def test_key_rotation_in_the_middle_of_traffic(fresh_emulator: Any, rotation_host: HostHandle,
                                               http: requests.Session) -> None:
    host = rotation_host
    users = (MIRA, SAM, DANIEL, PRIYA)
    old_tokens = {upn: user_token(fresh_emulator, upn) for upn in users}
    old_kid = decode_part(old_tokens[MIRA], 0)["kid"]
    for upn, token in old_tokens.items():
        response = http.get(host.api("get-profile"), headers=spa_headers(token), timeout=30)
        assert response.status_code == 200, response.text
    time.sleep(2.1)  # past the App Service auth emulation's 2 s key refetch floor

    rotated = threading.Event()
    stop = threading.Event()
    results: list[tuple[str, str, int, str]] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        own = session()
        upn = users[index % len(users)]
        while not stop.is_set():
            fresh = index % 2 == 0 and rotated.is_set()
            token = user_token(fresh_emulator, upn) if fresh else old_tokens[upn]
            response = own.get(host.api("get-profile"), headers=spa_headers(token), timeout=30)
            name = response.json().get("userPrincipalName") if response.status_code == 200 else response.text
            with lock:
                results.append((upn, decode_part(token, 0)["kid"], response.status_code, str(name)))
        own.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(worker, i) for i in range(8)]
        time.sleep(1.0)
        rotation = fresh_emulator.rotate_keys()
        rotated.set()
        time.sleep(3.0)
        stop.set()
        for future in futures:
            future.result()

    assert rotation["kid"] != old_kid and old_kid in rotation["published"]
    failures = [r for r in results if r[2] != 200]
    assert not failures, failures[:5]
    assert all(r[3] == r[0] for r in results)  # each answer is the caller's own profile
    assert len([r for r in results if r[1] == rotation["kid"]]) >= 8, "too little traffic with the rotated key"


def test_first_requests_signed_with_a_rotated_key_arrive_together(fresh_emulator: Any, rotation_host: HostHandle,
                                                                  http: requests.Session) -> None:
    """Several valid tokens with a kid the API has not fetched yet, at the same moment: all must pass."""
    host = rotation_host
    response = http.get(host.api("get-profile"), headers=spa_headers(user_token(fresh_emulator)), timeout=30)
    assert response.status_code == 200, response.text
    time.sleep(2.1)  # past the App Service auth emulation's 2 s key refetch floor
    fresh_emulator.rotate_keys()
    tokens = [user_token(fresh_emulator, upn) for upn in (MIRA, SAM, DANIEL, PRIYA) * 4]
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> tuple[int, str]:
        own = session()
        barrier.wait()
        response = own.get(host.api("get-profile"), headers=spa_headers(token), timeout=30)
        own.close()
        return response.status_code, response.text[:200]

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        outcomes = list(pool.map(one, tokens))
    assert [status for status, _ in outcomes] == [200] * len(tokens), [o for o in outcomes if o[0] != 200][:3]


# -- the identity provider down with a cold key cache -----------------------------------------------------

def discovery_requests(emulator: Any) -> int:
    return emulator.metrics()["discovery"]


def burst(host: HostHandle, tokens: list[str]) -> list[requests.Response]:
    """All tokens at once, each on its own connection."""
    def one(token: str) -> requests.Response:
        own = session()
        try:
            return own.get(host.api("get-profile"), headers=spa_headers(token), timeout=30)
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, tokens))


def test_identity_provider_down_with_a_cold_key_cache_makes_one_fetch_per_back_off_window(
        fresh_emulator: Any, tmp_path: Path) -> None:
    """Ten callers in the same second: one discovery attempt, not ten; then one more per back-off window."""
    fresh_emulator.fault(endpoint="discovery", status=503, count=0)
    host = start_host(env=emulator_app_env(fresh_emulator), auth=False, state_dir=tmp_path / "durable")
    try:
        tokens = [user_token(fresh_emulator, upn) for upn in (MIRA, SAM, DANIEL, PRIYA, TOMAS)] * 2
        before = discovery_requests(fresh_emulator)  # the host's warm-up already tried (and failed) once
        started = time.monotonic()
        responses = burst(host, tokens)
        assert time.monotonic() - started < SLACK_S
        for response in responses:
            assert_problem(response, {503}, "identity_unavailable")
        assert discovery_requests(fresh_emulator) - before <= 1

        time.sleep(max(int(r.headers["Retry-After"]) for r in responses))
        before = discovery_requests(fresh_emulator)
        responses = burst(host, tokens)
        for response in responses:
            assert_problem(response, {503}, "identity_unavailable")
        assert discovery_requests(fresh_emulator) - before == 1  # the window was over: exactly one attempt

        fresh_emulator.admin("DELETE", "/_emulator/faults")
        time.sleep(max(int(r.headers["Retry-After"]) for r in responses))
        ok_profile(timed_get(session(), host, tokens[0])[0], MIRA)
    finally:
        host.stop()


# -- keys past their last-known-good lifetime ----------------------------------------------------------

@dataclasses.dataclass
class Answer:
    """A function's `HttpResponse` in the shape `assert_problem` reads."""
    status_code: int
    headers: dict[str, str]
    text: str


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def in_process_app(fresh_emulator: Any) -> Iterator[tuple[Clock, Callable[[str], Answer]]]:
    """The app's services over real HTTPS to the emulator, with the key cache on a clock the test moves."""
    settings = load_settings(emulator_app_env(fresh_emulator))
    clock = Clock()
    jwks = JwksCache(discovery_urls(settings.authority_host, settings.tenant_id),
                     requests_fetcher(tls_session(settings)), clock=clock)
    built = services.Services.build(settings)
    services.install(dataclasses.replace(built, validator=TokenValidator(settings, jwks,
                                                                         cache=ValidatedTokens(max_entries=0))))
    handler = next(fn.get_user_function() for fn in registered_functions(function_app.app)
                   if getattr(fn.get_trigger(), "route", None) == "get-profile")

    def get_profile(token: str) -> Answer:
        response = handler(func.HttpRequest("GET", "http://localhost/api/get-profile",
                                            headers={USER_HEADER: f"Bearer {token}"}, body=b""))
        headers = dict(response.headers)
        headers.setdefault("Content-Type", response.mimetype)
        return Answer(response.status_code, headers, response.get_body().decode())

    yield clock, get_profile
    services.reset()


def test_keys_past_their_last_known_good_lifetime_are_refused(fresh_emulator: Any, in_process_app: Any,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    clock, get_profile = in_process_app
    assert get_profile(user_token(fresh_emulator, MIRA)).status_code == 200  # keys fetched over HTTPS
    for endpoint in ("discovery", "jwks"):
        fresh_emulator.fault(endpoint=endpoint, status=503, count=0)

    clock.now += LAST_KNOWN_GOOD_SECONDS - 600  # refresh overdue and failing: the keys still work
    assert get_profile(user_token(fresh_emulator, SAM)).status_code == 200

    clock.now += 1200  # past the last-known-good lifetime
    caplog.set_level(logging.INFO, logger="function_app")
    response = get_profile(user_token(fresh_emulator, DANIEL))
    body = assert_problem(response, {401}, "invalid_token")
    assert "key refresh" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "event=jwks_keys_past_last_known_good" in caplog.text
    assert "age_h=25." in caplog.text

    fresh_emulator.admin("DELETE", "/_emulator/faults")  # back: the next attempt after the back-off restores them
    clock.now += math.ceil(services.current().validator.jwks.status().retry_in or 0)
    assert get_profile(user_token(fresh_emulator, DANIEL)).status_code == 200
