"""RedisTokenStore against a real redis-server: encryption at rest, integrity (name, expiry, generation),
rotation, TTL policy, L1, lock, outages."""
from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from function_app.token_cache.outage import CircuitBreaker
from function_app.token_cache.redis_store import MAX_ENTRY_TTL_SECONDS, RedisTokenStore
from tests.fixtures.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]
KEY_A = ("key-a", os.urandom(32))
KEY_B = ("key-b", os.urandom(32))
ALICE = "51699e8e-eeb2-486e-94da-600eb1357656.0f6c1a5e-2b7d-4d44-9a57-1f1f4b0a2c11"
BOB = "51699e8e-eeb2-486e-94da-600eb1357656.7d1e3c55-88a1-4f7a-b0a4-5e0d4c1f9e22"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJl"
REFRESH_TOKEN = "1.AQcA-local-refresh-token-7c9e6679-7425-40de"


def msal_like_cache(user: str) -> str:
    return json.dumps({
        "AccessToken": {f"{user}-at": {"secret": ACCESS_TOKEN + user[-4:], "credential_type": "AccessToken"}},
        "RefreshToken": {f"{user}-rt": {"secret": REFRESH_TOKEN + user[-4:], "credential_type": "RefreshToken"}},
    })


def make_store(url: str, keys: list[tuple[str, bytes]] | None = None, **options: object) -> RedisTokenStore:
    return RedisTokenStore(url, keys or [KEY_A], **options)  # type: ignore[arg-type]


def raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def test_an_entry_written_by_one_instance_is_read_by_another(redis_url: str) -> None:
    writer, reader = make_store(redis_url), make_store(redis_url)
    assert reader.load(ALICE) is None
    writer.save(ALICE, msal_like_cache(ALICE), 3600)
    assert reader.load(ALICE) == msal_like_cache(ALICE)
    assert reader.load(BOB) is None


def test_redis_holds_no_token_text_and_no_user_ids(redis_url: str) -> None:
    store = make_store(redis_url)
    for user in (ALICE, BOB):
        store.save(user, msal_like_cache(user), 3600)
        with store.exchange_lock(user):
            r = raw(redis_url)
            keys = list(r.scan_iter("*"))
            assert any(b"lock" in key for key in keys)
    r = raw(redis_url)
    keys = list(r.scan_iter("*"))
    assert len(keys) == 2
    for key in keys:
        value = r.get(key)
        assert value is not None
        for needle in (b"eyJ", ACCESS_TOKEN.encode(), REFRESH_TOKEN.encode(), b"secret", b"AccessToken"):
            assert needle not in value
            assert needle not in key
        for user in (ALICE, BOB):
            for part in user.split("."):
                assert part.encode() not in key and part.encode() not in value


def test_rotation_old_values_readable_new_values_use_new_key_retired_key_is_a_miss(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_store(redis_url, [KEY_A]).save(ALICE, msal_like_cache(ALICE), 3600)

    rotated = make_store(redis_url, [KEY_B, KEY_A])
    assert rotated.load(ALICE) == msal_like_cache(ALICE)
    rotated.save(BOB, msal_like_cache(BOB), 3600)
    r = raw(redis_url)
    assert r.get(rotated.redis_key(BOB)).startswith(b"T2\x05key-b")
    assert r.get(rotated.redis_key(ALICE)).startswith(b"T2\x05key-a")

    retired = make_store(redis_url, [KEY_B])
    with caplog.at_level(logging.WARNING):
        assert retired.load(ALICE) is None  # a miss: the caller exchanges and rewrites under key-b
    assert "cannot be opened" in caplog.text and "key-a" in caplog.text
    assert ACCESS_TOKEN not in caplog.text
    assert retired.load(BOB) == msal_like_cache(BOB)
    retired.save(ALICE, msal_like_cache(ALICE), 3600)
    assert make_store(redis_url, [KEY_B]).load(ALICE) == msal_like_cache(ALICE)


def test_value_copied_under_another_users_key_is_not_served(redis_url: str) -> None:
    store = make_store(redis_url)
    store.save(ALICE, msal_like_cache(ALICE), 3600)
    r = raw(redis_url)
    r.set(store.redis_key(BOB), r.get(store.redis_key(ALICE)))
    assert make_store(redis_url).load(BOB) is None


def test_a_blob_replayed_after_delete_is_refused(redis_url: str) -> None:
    store = make_store(redis_url)
    store.save(ALICE, msal_like_cache(ALICE), 600)
    r = raw(redis_url)
    old_blob = r.get(store.redis_key(ALICE))
    store.delete(ALICE)
    r.set(store.redis_key(ALICE), old_blob, ex=600)  # someone with write access to Redis puts it back
    assert make_store(redis_url).load(ALICE) is None
    store.save(ALICE, "after", 600)  # a new value under the new generation works
    assert make_store(redis_url).load(ALICE) == "after"


def test_an_expired_blob_is_refused_even_if_redis_still_holds_it(redis_url: str) -> None:
    store = make_store(redis_url)
    store.save(ALICE, "short-lived", 1)
    r = raw(redis_url)
    blob = r.get(store.redis_key(ALICE))
    time.sleep(2.1)
    r.set(store.redis_key(ALICE), blob, ex=600)  # kept past its TTL (or put back)
    assert make_store(redis_url).load(ALICE) is None


def test_an_l1_copy_never_outlives_the_entry(redis_url: str) -> None:
    writer = make_store(redis_url)
    writer.save(ALICE, "v", 1)
    reader = make_store(redis_url, l1_ttl_seconds=30)
    assert reader.load(ALICE) == "v"
    time.sleep(1.2)
    assert reader.load(ALICE) is None


def test_ttl_follows_request_capped_at_24h_and_slides_on_write(redis_url: str) -> None:
    store = make_store(redis_url)
    r = raw(redis_url)
    store.save(ALICE, msal_like_cache(ALICE), 600)
    assert 595 <= r.ttl(store.redis_key(ALICE)) <= 600
    store.save(ALICE, msal_like_cache(ALICE), 90 * 24 * 3600)  # a refresh token's inactivity lifetime
    assert MAX_ENTRY_TTL_SECONDS - 5 <= r.ttl(store.redis_key(ALICE)) <= MAX_ENTRY_TTL_SECONDS
    r.expire(store.redis_key(ALICE), 100)
    store.save(ALICE, msal_like_cache(ALICE), 90 * 24 * 3600)
    assert r.ttl(store.redis_key(ALICE)) > 100


def test_non_positive_ttl_deletes(redis_url: str) -> None:
    store = make_store(redis_url)
    store.save(ALICE, msal_like_cache(ALICE), 600)
    store.save(ALICE, msal_like_cache(ALICE), 0)
    assert store.load(ALICE) is None
    assert raw(redis_url).exists(store.redis_key(ALICE)) == 0


def test_delete_removes_both_levels(redis_url: str) -> None:
    store = make_store(redis_url)
    store.save(ALICE, msal_like_cache(ALICE), 600)
    store.delete(ALICE)
    assert store.load(ALICE) is None
    assert make_store(redis_url).load(ALICE) is None


def test_l1_serves_hot_reads_and_exchange_lock_forces_a_fresh_read(redis_url: str) -> None:
    store = make_store(redis_url)
    other = make_store(redis_url)
    store.save(ALICE, "v1", 600)
    assert store.load(ALICE) == "v1"
    other.save(ALICE, "v2", 600)  # another instance replaced the entry
    assert store.load(ALICE) == "v1"  # within the L1 TTL this instance keeps its copy
    with store.exchange_lock(ALICE):
        assert store.load(ALICE) == "v2"
    stats = store.stats()
    assert stats["l1_hits"] >= 1 and stats["l2_hits"] >= 1


def test_l1_copy_expires_after_its_ttl(redis_url: str) -> None:
    store = make_store(redis_url, l1_ttl_seconds=0.2)
    store.save(ALICE, "v1", 600)
    make_store(redis_url).save(ALICE, "v2", 600)
    assert store.load(ALICE) == "v1"
    time.sleep(0.25)
    assert store.load(ALICE) == "v2"


def test_misses_are_not_cached(redis_url: str) -> None:
    store = make_store(redis_url)
    assert store.load(ALICE) is None
    make_store(redis_url).save(ALICE, "v1", 600)
    assert store.load(ALICE) == "v1"


def test_lock_is_released_and_only_by_its_holder(redis_url: str) -> None:
    store = make_store(redis_url, lock_ttl_ms=150)
    r = raw(redis_url)
    with store.exchange_lock(ALICE):
        assert r.exists(store.lock_key(ALICE))
    assert not r.exists(store.lock_key(ALICE))

    with store.exchange_lock(ALICE):
        time.sleep(0.2)  # our lock expired...
        r.set(store.lock_key(ALICE), "someone-else", px=5000)  # ...and another instance took it
    assert r.get(store.lock_key(ALICE)) == b"someone-else"


def test_abandoned_lock_expires_and_the_waiter_proceeds(redis_url: str) -> None:
    store = make_store(redis_url)
    raw(redis_url).set(store.lock_key(ALICE), "crashed-holder", px=300)
    started = time.monotonic()
    with store.exchange_lock(ALICE):
        waited = time.monotonic() - started
    assert 0.2 <= waited < 1.0


def test_lock_wait_is_bounded(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = make_store(redis_url, lock_wait_seconds=0.3)
    raw(redis_url).set(store.lock_key(ALICE), "slow-holder", px=60_000)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), store.exchange_lock(ALICE):
        waited = time.monotonic() - started
    assert 0.3 <= waited < 0.8
    assert "exchanging here too" in caplog.text


def test_waiter_leaves_as_soon_as_the_holder_stores_the_entry(redis_url: str) -> None:
    holder, waiter = make_store(redis_url), make_store(redis_url)
    entered = threading.Event()

    def hold() -> None:
        with holder.exchange_lock(ALICE):
            entered.set()
            time.sleep(0.2)
            holder.save(ALICE, "fresh", 600)
            time.sleep(2)  # still holding: the waiter must not need the lock itself

    thread = threading.Thread(target=hold)
    thread.start()
    entered.wait(5)
    started = time.monotonic()
    with waiter.exchange_lock(ALICE):
        waited = time.monotonic() - started
        assert waiter.load(ALICE) == "fresh"
    thread.join()
    assert 0.1 <= waited < 1.0


def test_two_processes_with_cold_caches_make_one_exchange(redis_url: str) -> None:
    keys = ",".join(f"{kid}:{base64.b64encode(secret).decode()}" for kid, secret in [KEY_A])
    worker = Path(__file__).with_name("lock_worker.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([sys.executable, str(worker), redis_url, keys, ALICE, "50", "0.12"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    r = raw(redis_url)
    time.sleep(1.0)  # both workers import and park their 50 threads
    r.set("test:go", "1")
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert int(r.get("test:exchanges")) == 1
    assert sum(o["exchanged"] for o in outcomes) == 1
    assert sum(sum(o.values()) for o in outcomes) == 100


def test_dead_redis_degrades_to_local_cache_quickly_and_quietly(
    redis_server_factory: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_server_factory()
    store = make_store(server.url, breaker=CircuitBreaker(failure_threshold=2, reset_after=0.5))
    store.save(ALICE, "before-outage", 600)
    server.stop()

    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        for _ in range(200):
            assert store.load(ALICE) == "before-outage"  # L1
            assert store.load(BOB) is None  # a miss: the caller exchanges
            store.save(BOB, "during-outage", 600)
            store.forget_local(BOB)
            with store.exchange_lock(BOB):
                pass
            store.delete("nobody")
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"1,000 store calls with Redis down took {elapsed:.2f} s"
    assert not store.backend_available
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 2
    assert "Redis" in warnings[0].getMessage()

    server.start()  # same port
    time.sleep(0.6)  # breaker cooldown
    store.save(BOB, "after-outage", 600)
    assert store.backend_available
    assert make_store(server.url).load(BOB) == "after-outage"


def test_unreachable_redis_at_startup_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    from tests.fixtures.redis_server import free_port

    store = make_store(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING):
        assert store.load(ALICE) is None
        store.save(ALICE, "v", 600)
        assert store.load(ALICE) == "v"
        with store.exchange_lock(ALICE):
            pass
        assert store.ping() is False
    assert "serving from the in-process cache" in caplog.text


def test_an_entry_its_generation_and_its_lock_share_a_cluster_slot() -> None:
    from redis.crc import key_slot

    store = make_store("redis://127.0.0.1:1/0")
    slot = key_slot(store.redis_key(ALICE).encode())
    assert key_slot(store.lock_key(ALICE).encode()) == slot == key_slot(store.generation_key(ALICE).encode())
    assert store.redis_key(ALICE) != store.redis_key(BOB)


def test_unresponsive_redis_costs_a_bounded_time_then_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A Redis that accepts connections but never answers (a hung server, a black-holed network path)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes handshakes; nobody ever reads or answers
        store = make_store(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        store.save(ALICE, "cached", 600)

        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            for _ in range(3):  # the breaker's threshold: each of these waits for a socket timeout
                assert store.load(BOB) is None
            first = time.monotonic() - started
            started = time.monotonic()
            for _ in range(100):
                assert store.load(BOB) is None
                assert store.load(ALICE) == "cached"
                with store.exchange_lock(BOB):
                    pass
            after = time.monotonic() - started
    assert first < 2.0, f"three calls against a hung Redis took {first:.2f} s"
    assert after < 0.5, f"300 calls with the breaker open took {after:.2f} s"
    assert "TimeoutError" in caplog.text
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.parametrize(
    "url, keys, message",
    [
        ("http://127.0.0.1:6379/0", [KEY_A], "redis://"),
        ("redis://127.0.0.1:1/0", [], "TOKEN_CACHE_KEYS"),
        ("redis://127.0.0.1:1/0", [("a", b"short")], "16, 24 or 32 bytes"),
    ],
)
def test_misconfiguration_fails_at_construction_without_connecting(
    url: str, keys: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RedisTokenStore(url, keys)
