"""What the key cache does when the identity provider misbehaves: back-off after a failed fetch, the
last-known-good lifetime, the unknown-kid refetch floor (function_app/auth/jwks.py)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from function_app.auth import jwks as jwks_module
from function_app.auth.validate import ValidatedTokens
from function_app.errors import IdentityUnavailable, InvalidToken
from tests.unit.function_app.support import USER_OID, mint, private_key
from tests.unit.function_app.test_validate import Clock, FakeFetcher, make_validator


def discovery_calls(fetcher: FakeFetcher) -> int:
    return sum(url.endswith("openid-configuration") for url in fetcher.calls)


def test_a_cold_burst_makes_one_attempt_per_back_off_window() -> None:
    """Ten requests in the same second against a cold cache and a failing provider: one attempt, not ten."""
    fetcher, clock = FakeFetcher(), Clock()
    fetcher.down = True
    validator = make_validator(fetcher, clock)
    retry_afters = []
    for _ in range(10):
        with pytest.raises(IdentityUnavailable) as caught:
            validator.validate(mint(), "Authorization")
        retry_afters.append(int(caught.value.headers["Retry-After"]))
        clock.now += 0.1
    assert discovery_calls(fetcher) == 1
    assert all(1 <= r <= jwks_module.FIRST_BACKOFF_SECONDS for r in retry_afters)
    clock.now += jwks_module.FIRST_BACKOFF_SECONDS  # the window is over: one more attempt, which fails too
    with pytest.raises(IdentityUnavailable) as caught:
        validator.validate(mint(), "Authorization")
    assert discovery_calls(fetcher) == 2
    assert int(caught.value.headers["Retry-After"]) == 2 * jwks_module.FIRST_BACKOFF_SECONDS  # doubled


def test_back_off_doubles_up_to_five_minutes_and_resets_on_success() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    fetcher.down = True
    cache = make_validator(fetcher, clock).jwks
    waits = []
    for _ in range(12):
        with pytest.raises(IdentityUnavailable):
            cache.get_key("k1")
        waits.append(cache.status().retry_in)
        clock.now += cache.status().retry_in
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0] and waits[-1] == 300.0
    fetcher.down = False
    assert cache.get_key("k1") is not None
    assert cache.status().retry_in is None and cache.status().last_error is None


def test_concurrent_cold_requests_share_the_one_attempt() -> None:
    class SlowDown(FakeFetcher):
        def __call__(self, url: str):
            threading.Event().wait(0.05)
            return super().__call__(url)

    fetcher = SlowDown()
    fetcher.down = True
    validator = make_validator(fetcher, Clock())

    def attempt(_: int) -> str:
        try:
            validator.validate(mint(), "Authorization")
        except IdentityUnavailable as error:
            return error.code
        return "accepted"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    assert outcomes == ["identity_unavailable"] * 10
    assert discovery_calls(fetcher) == 1


def test_keys_past_their_last_known_good_lifetime_are_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    fetcher, clock = FakeFetcher(), Clock()
    validator = make_validator(fetcher, clock, results=ValidatedTokens(max_entries=0))
    validator.validate(mint(), "Authorization")
    fetcher.down = True
    clock.now += jwks_module.LAST_KNOWN_GOOD_SECONDS - 60
    assert validator.validate(mint(), "Authorization").object_id == USER_OID  # stale, still inside the lifetime
    clock.now += 120
    caplog.set_level(logging.INFO, logger="function_app")
    with pytest.raises(InvalidToken) as caught:
        validator.validate(mint(), "Authorization")
    assert caught.value.status == 401 and caught.value.code == "invalid_token"
    assert "key refresh" in caught.value.detail
    assert "event=jwks_keys_past_last_known_good" in caplog.text
    fetcher.down = False  # the provider is back: once the back-off allows, keys are fetched and trusted again
    clock.now += jwks_module.MAX_BACKOFF_SECONDS
    assert validator.validate(mint(), "Authorization").object_id == USER_OID


def test_thirty_days_after_the_last_fetch_keys_are_not_served() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    cache = make_validator(fetcher, clock).jwks
    cache.get_key("k1")
    fetcher.down = True
    clock.now += 30 * 24 * 3600
    with pytest.raises(InvalidToken):
        cache.get_key("k1")
    assert not cache.status().usable


def test_unknown_kid_refetch_stays_at_most_once_per_five_minutes_and_respects_the_back_off() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    validator = make_validator(fetcher, clock)
    validator.validate(mint(), "Authorization")
    fetcher.down = True
    clock.now += 1
    with pytest.raises(InvalidToken):
        validator.validate(mint(kid="forged", key=private_key("k1")), "Authorization")  # one refetch, fails
    calls = len(fetcher.calls)
    for _ in range(50):
        clock.now += 5
        with pytest.raises(InvalidToken):
            validator.validate(mint(kid="forged", key=private_key("k1")), "Authorization")
    assert len(fetcher.calls) == calls  # 250 s of forged kids: no further attempt
    fetcher.down = False
    clock.now += 60
    with pytest.raises(InvalidToken):
        validator.validate(mint(kid="forged", key=private_key("k1")), "Authorization")
    assert fetcher.jwks_calls() == 2  # the cold fetch and one unknown-kid refetch, 5 minutes after the first


def test_status_and_ensure_never_force_a_fetch() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    cache = make_validator(fetcher, clock).jwks
    assert cache.ensure().usable  # cold: the one fetch any request would make
    for _ in range(20):
        cache.ensure()
        cache.status()
    assert fetcher.jwks_calls() == 1
