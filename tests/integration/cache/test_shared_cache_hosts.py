"""Two Functions hosts sharing one Redis token cache, driven over HTTP against the emulators.

What a deployment with several instances relies on: a burst of first requests with one caller token makes
exactly one On-Behalf-Of exchange across instances; Redis never holds token text, nor a refresh token
for interactive requests, nor anything under a name derived from the user; key rotation keeps cached
entries usable; and a Redis outage mid-run does not fail requests.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from function_app.obo.cache_policy import assertion_key
from function_app.token_cache.crypto import EnvelopeError, KeyRing
from function_app.token_cache.redis_store import RedisTokenStore
from tests.fixtures.emulator import Emulator
from tests.fixtures.host import HostHandle, emulator_app_env
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.slow

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SEED = Path(__file__).resolve().parents[3] / "localdev" / "emulator" / "seed" / "tenant.json"
KEY_A = ("key-a", os.urandom(32))
KEY_B = ("key-b", os.urandom(32))


def keys_setting(keys: list[tuple[str, bytes]]) -> str:
    return ",".join(f"{kid}:{base64.b64encode(secret).decode()}" for kid, secret in keys)


def plain_users(config: dict[str, Any]) -> list[str]:
    """Seeded users no Conditional Access policy applies to (an MFA challenge is another test's subject)."""
    covered = {u for policy in json.loads(SEED.read_text())["conditionalAccessPolicies"] for u in policy["users"]}
    return [u["upn"] for u in config["users"] if u["upn"] not in covered]


def api_token(emulator: Emulator, upn: str) -> str:
    return emulator.mint(user=upn, client_id=emulator.app("spa")["client_id"],
                         audience=emulator.app("api")["client_id"], scopes=["user_impersonation"])


def obo_count(emulator: Emulator) -> int:
    return int(emulator.metrics()["token"].get(OBO_GRANT, 0))


def start_pair(host_factory: Callable[..., HostHandle], emulator: Emulator, redis_url: str,
               keys: list[tuple[str, bytes]], state_root: Path, count: int = 2) -> list[HostHandle]:
    """`count` instances of the app sharing one Redis, each with its own durable state (not under test)."""
    env = {**emulator_app_env(emulator), "TOKEN_CACHE": "redis", "REDIS_URL": redis_url,
           "TOKEN_CACHE_KEYS": keys_setting(keys), "PYTHON_SCRIPT_FILE_NAME": "main.py"}
    existing = len(list(state_root.glob("durable-*")))
    return [host_factory(env=env, state_dir=state_root / f"durable-{existing + n}") for n in range(count)]


async def _fetch_all(calls: list[tuple[str, str]]) -> list[tuple[int, str]]:
    connector = aiohttp.TCPConnector(limit=len(calls))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(url: str, token: str) -> tuple[int, str]:
            headers = {"Authorization": f"Bearer {token}", "X-User-Authorization": f"Bearer {token}"}
            async with session.get(url, headers=headers) as response:
                return response.status, await response.text()

        return list(await asyncio.gather(*(one(url, token) for url, token in calls)))


def fetch_all(calls: list[tuple[str, str]]) -> list[tuple[int, str]]:
    return asyncio.run(_fetch_all(calls))


def profile_calls(hosts: list[HostHandle], token: str, n: int) -> list[tuple[str, str]]:
    return [(hosts[i % len(hosts)].api("get-profile"), token) for i in range(n)]


def assert_profiles(results: list[tuple[int, str]], upn: str) -> None:
    for status, body in results:
        assert status == 200, body[:500]
        assert json.loads(body)["userPrincipalName"] == upn


def redis_dump(url: str) -> list[tuple[bytes, bytes]]:
    client = redis.Redis.from_url(url)
    return [(key, client.dump(key) or b"") for key in client.scan_iter("*")]


GRAPH_SCOPES = ("User.Read",)


def cached_entries(url: str, keys: list[tuple[str, bytes]], caller_tokens: list[str]) -> list[dict[str, Any]]:
    """What the shared cache holds for these caller tokens, decrypted with the test's keys.

    An entry's name (a hash of the caller's token and scopes) is bound into its envelope, so opening one
    needs that name: the test computes it from the tokens it sent.
    """
    client, ring, found = redis.Redis.from_url(url), KeyRing(keys), []
    names = [assertion_key(token, GRAPH_SCOPES) for token in caller_tokens]
    for key in client.scan_iter("*:e:*"):
        envelope = client.get(key)
        generation = int(client.get(key.replace(b":e:", b":g:")) or 0)
        for name in names:
            try:
                found.append(json.loads(ring.open(name, envelope, generation=generation)))
            except EnvelopeError:
                continue
    return found


def user_derived_names(emulator: Emulator, config: dict[str, Any], upn: str) -> list[str]:
    user = next(u for u in config["users"] if u["upn"] == upn)
    return [f"{emulator.tenant_id}.{user['oid']}", user["oid"], upn, f"{user['oid']}.{emulator.tenant_id}"]


def test_burst_of_first_requests_across_two_hosts_makes_one_exchange_and_stores_no_token_text(
    fresh_emulator: Emulator, redis_url: str, host_factory: Callable[..., HostHandle], tmp_path: Path
) -> None:
    emulator = fresh_emulator
    config = emulator.config
    upn = plain_users(config)[0]
    token = api_token(emulator, upn)
    hosts = start_pair(host_factory, emulator, redis_url, [KEY_A], tmp_path)
    # A slow token endpoint widens the window in which every request finds the cache cold.
    emulator.fault(endpoint="token", latency_ms=300, count=1_000_000)
    before = obo_count(emulator)

    results = fetch_all(profile_calls(hosts, token, 100))

    assert_profiles(results, upn)
    assert obo_count(emulator) - before == 1

    entries = cached_entries(redis_url, [KEY_A], [token])
    assert len(entries) == 1 and set(entries[0]) == {"access_token", "expires_on"}, "one Graph token, no refresh token"
    secrets_held = [entries[0]["access_token"]]
    for key, value in redis_dump(redis_url):
        for needle in [b"eyJ", token.encode(), upn.encode(), *(s.encode() for s in secrets_held)]:
            assert needle not in key and needle not in value
    store = RedisTokenStore(redis_url, [KEY_A])
    client = redis.Redis.from_url(redis_url)
    for name in user_derived_names(emulator, config, upn):
        assert not client.exists(store.redis_key(name)), f"an entry under a name derived from the user: {name}"


def test_key_rotation_keeps_cached_entries_and_retired_key_means_a_new_exchange(
    fresh_emulator: Emulator, redis_url: str, host_factory: Callable[..., HostHandle], tmp_path: Path
) -> None:
    emulator = fresh_emulator
    config = emulator.config
    first, second = plain_users(config)[:2]
    token_1, token_2 = api_token(emulator, first), api_token(emulator, second)
    client = redis.Redis.from_url(redis_url)

    old = start_pair(host_factory, emulator, redis_url, [KEY_A], tmp_path, count=1)
    assert_profiles(fetch_all(profile_calls(old, token_1, 1)), first)
    old[0].stop()

    before = obo_count(emulator)
    rotated = start_pair(host_factory, emulator, redis_url, [KEY_B, KEY_A], tmp_path, count=1)
    assert_profiles(fetch_all(profile_calls(rotated, token_1, 3)), first)
    assert obo_count(emulator) == before  # the key-a entry still opens
    assert_profiles(fetch_all(profile_calls(rotated, token_2, 1)), second)
    envelopes = [client.get(k) for k in client.scan_iter("*:e:*")]
    assert sorted(KeyRing.key_id_of(e) for e in envelopes) == ["key-a", "key-b"]
    rotated[0].stop()

    before = obo_count(emulator)
    retired = start_pair(host_factory, emulator, redis_url, [KEY_B], tmp_path, count=1)
    assert_profiles(fetch_all(profile_calls(retired, token_1, 1)), first)  # unreadable -> miss, not an error
    assert_profiles(fetch_all(profile_calls(retired, token_2, 1)), second)
    assert obo_count(emulator) - before == 1
    envelopes = [client.get(k) for k in client.scan_iter("*:e:*")]
    assert [KeyRing.key_id_of(e) for e in envelopes] == ["key-b", "key-b"]


def test_redis_stopped_mid_run_requests_still_succeed(
    fresh_emulator: Emulator, redis_server_factory: Callable[[], RedisServer],
    host_factory: Callable[..., HostHandle], tmp_path: Path
) -> None:
    emulator = fresh_emulator
    config = emulator.config
    warm, cold = plain_users(config)[:2]
    warm_token, cold_token = api_token(emulator, warm), api_token(emulator, cold)
    server = redis_server_factory()
    hosts = start_pair(host_factory, emulator, server.url, [KEY_A], tmp_path)
    assert_profiles(fetch_all(profile_calls(hosts, warm_token, 4)), warm)

    server.stop()
    started = time.monotonic()
    assert_profiles(fetch_all(profile_calls(hosts, warm_token, 20)), warm)
    assert_profiles(fetch_all(profile_calls(hosts, cold_token, 20)), cold)
    assert_profiles(fetch_all(profile_calls(hosts, warm_token, 20)), warm)
    assert time.monotonic() - started < 10

    server.start()
    time.sleep(6)  # the circuit breaker's cooldown
    assert_profiles(fetch_all(profile_calls(hosts, cold_token, 4)), cold)
    for host in hosts:
        logs = host.logs()
        assert "Traceback" not in logs
        assert 1 <= logs.count("Token cache: Redis") <= 4, logs[-3000:]
