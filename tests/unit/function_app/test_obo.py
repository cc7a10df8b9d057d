"""OBO client against an in-process identity provider (real MSAL, no sockets): per-user partitions,
silent first, single flight, error mapping."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msal
import pytest
import requests

from function_app.errors import (ConsentRequired, IdentityUnavailable, InteractionRequired, InvalidToken,
                                 Misconfigured, TokenExpired)
from function_app.obo import OboClient, map_msal_error
from function_app.settings import load_settings
from function_app.token_cache.memory import MemoryPartitionStore
from tests.unit.function_app.support import (API, OTHER_OID, TENANT, USER_OID, FakeIdentityProvider, Reply, base_env,
                                             mint, principal, session_with)


@pytest.fixture
def idp() -> FakeIdentityProvider:
    return FakeIdentityProvider()


@pytest.fixture
def store() -> MemoryPartitionStore:
    return MemoryPartitionStore()


@pytest.fixture
def client(idp: FakeIdentityProvider, store: MemoryPartitionStore) -> OboClient:
    return OboClient(load_settings(base_env()), store, session=session_with(idp.transport))


def test_no_network_until_first_use(idp: FakeIdentityProvider, client: OboClient) -> None:
    assert idp.transport.requests == []


def test_first_call_exchanges_then_cache_serves(idp: FakeIdentityProvider, client: OboClient) -> None:
    first = client.graph_token(principal(), mint(oid=USER_OID))
    assert first.startswith(f"graph-token|{USER_OID}|")
    form = idp.token_requests[0]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert form["requested_token_use"] == ["on_behalf_of"]
    assert "User.Read" in form["scope"][0].split()
    for _ in range(5):
        assert client.graph_token(principal(), mint(oid=USER_OID)) == first
    assert idp.obo_count() == 1
    discovery_after_first = idp.discovery_calls
    client.graph_token(principal(), mint(oid=USER_OID))
    assert idp.discovery_calls == discovery_after_first  # per-call apps do no discovery


def test_users_never_share_tokens(idp: FakeIdentityProvider, client: OboClient, store: MemoryPartitionStore) -> None:
    mine = client.graph_token(principal(USER_OID), mint(oid=USER_OID))
    theirs = client.graph_token(principal(OTHER_OID), mint(oid=OTHER_OID))
    assert USER_OID in mine and OTHER_OID in theirs
    assert idp.obo_count() == 2
    assert client.graph_token(principal(OTHER_OID), mint(oid=OTHER_OID)) == theirs
    assert len(store) == 2
    assert USER_OID not in (store.load(f"{TENANT}.{OTHER_OID}") or "")


def test_concurrent_misses_for_one_user_share_one_exchange(idp: FakeIdentityProvider, client: OboClient) -> None:
    idp.token_delay = 0.2
    assertion = mint(oid=USER_OID)
    with ThreadPoolExecutor(max_workers=20) as pool:
        tokens = list(pool.map(lambda _: client.graph_token(principal(), assertion), range(20)))
    assert len(set(tokens)) == 1
    assert idp.obo_count() == 1


def test_concurrent_misses_for_different_users_run_in_parallel(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.token_delay = 0.3
    oids = [f"0b6c7d3e-1111-4a4a-9c9c-0000000000{i:02d}" for i in range(8)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda oid: client.graph_token(principal(oid), mint(oid=oid)), oids))
    assert idp.obo_count() == 8
    assert time.perf_counter() - started < 8 * 0.3 * 0.6  # not serialised behind one lock


def test_expired_access_token_is_refreshed_silently(idp: FakeIdentityProvider, client: OboClient,
                                                    store: MemoryPartitionStore) -> None:
    first = client.graph_token(principal(), mint())
    key = principal().partition_key
    cache = msal.SerializableTokenCache()
    cache.deserialize(store.load(key))
    for at in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
        cache.modify(msal.TokenCache.CredentialType.ACCESS_TOKEN, at, {"expires_on": str(int(time.time()) - 10)})
    store.save(key, cache.serialize(), 3600)
    second = client.graph_token(principal(), mint())
    assert second != first
    grants = [f["grant_type"][0] for f in idp.token_requests]
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]


def test_ensure_refreshable_and_silent_only(idp: FakeIdentityProvider, client: OboClient) -> None:
    with pytest.raises(InteractionRequired):
        client.graph_token_silent(principal().partition_key, ["User.Read", "User.ReadBasic.All"])
    client.ensure_refreshable(principal(), mint(), ["User.Read", "User.ReadBasic.All"])
    client.ensure_refreshable(principal(), mint(), ["User.Read", "User.ReadBasic.All"])
    assert idp.obo_count() == 1
    token = client.graph_token_silent(principal().partition_key, ["User.ReadBasic.All", "User.Read"])
    assert token.startswith("graph-token|")
    assert idp.obo_count() == 1


def partition_with_only_a_refresh_token(client: OboClient, store: MemoryPartitionStore) -> str:
    """Fill the user's partition by OBO, then drop its access tokens so the next silent call must refresh."""
    client.ensure_refreshable(principal(), mint(), ["User.Read"])
    key = principal().partition_key
    cache = msal.SerializableTokenCache()
    cache.deserialize(store.load(key))
    for at in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        cache.remove_at(at)
    store.save(key, cache.serialize(), 3600)
    return key


def test_silent_only_raises_when_the_refresh_token_is_refused(idp: FakeIdentityProvider, client: OboClient,
                                                              store: MemoryPartitionStore) -> None:
    key = partition_with_only_a_refresh_token(client, store)
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [700082],
                                     "error_description": "AADSTS700082: The refresh token has expired"}))
    with pytest.raises(InteractionRequired):
        client.graph_token_silent(key, ["User.Read"])


def test_unreadable_partition_is_replaced(idp: FakeIdentityProvider, client: OboClient,
                                          store: MemoryPartitionStore) -> None:
    store.save(principal().partition_key, "{not json", 3600)
    assert client.graph_token(principal(), mint()).startswith("graph-token|")


@pytest.mark.parametrize(("reply", "error", "status"), [
    (Reply(400, {"error": "invalid_grant", "suberror": "consent_required", "error_codes": [65001],
                 "error_description": "AADSTS65001: The user or administrator has not consented"}),
     ConsentRequired, 403),
    (Reply(400, {"error": "invalid_grant", "error_codes": [50076], "claims": '{"access_token":{"capolids":'
                 '{"essential":true,"values":["7d4b"]}}}', "error_description": "AADSTS50076: MFA required"}),
     InteractionRequired, 401),
    (Reply(400, {"error": "invalid_grant", "error_codes": [500133],
                 "error_description": "AADSTS500133: Assertion is not within its valid time range."}),
     TokenExpired, 401),
    (Reply(400, {"error": "invalid_grant", "error_codes": [50013],
                 "error_description": "AADSTS50013: Assertion failed signature validation."}), InvalidToken, 401),
    (Reply(401, {"error": "invalid_client", "error_codes": [7000215],
                 "error_description": "AADSTS7000215: Invalid client secret provided."}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_scope", "error_codes": [70011]}), Misconfigured, 500),
    (Reply(429, {"error": "temporarily_unavailable"}, {"Retry-After": "7"}), IdentityUnavailable, 503),
    (Reply(503, {"error": "server_error"}, {"Retry-After": "3"}), IdentityUnavailable, 503),
    (Reply(502, content=b"<html>bad gateway</html>"), IdentityUnavailable, 503),
])
def test_token_endpoint_errors_map_to_the_hierarchy(idp: FakeIdentityProvider, client: OboClient, reply: Reply,
                                                    error: type, status: int) -> None:
    client.warm_up()
    idp.fail_with.append(reply)
    with pytest.raises(error) as caught:
        client.graph_token(principal(), mint())
    assert caught.value.status == status
    if status == 503:
        assert int(caught.value.headers["Retry-After"]) >= 1
    if reply.headers.get("Retry-After"):
        assert caught.value.headers["Retry-After"] == reply.headers["Retry-After"]
    if isinstance(caught.value, ConsentRequired):
        assert caught.value.extra["consentUrl"] == f"https://idp.test/{TENANT}/adminconsent?client_id={API}"
    if isinstance(caught.value, InteractionRequired):
        assert "capolids" in caught.value.claims
        assert 'error="insufficient_claims"' in caught.value.challenge()
    assert "unit-test-secret" not in caught.value.detail


def test_network_failure_is_identity_unavailable(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    original = idp.handle

    def broken(request: requests.PreparedRequest) -> Any:
        if request.url.endswith("/token"):
            return requests.ConnectionError("connection refused")
        return original(request)

    idp.transport.handler = broken
    with pytest.raises(IdentityUnavailable):
        client.graph_token(principal(), mint())


def test_discovery_failure_is_identity_unavailable_and_retried(idp: FakeIdentityProvider, client: OboClient) -> None:
    original = idp.handle
    idp.transport.handler = lambda request: Reply(503, {"error": "down"})
    with pytest.raises(IdentityUnavailable):
        client.graph_token(principal(), mint())
    idp.transport.handler = original
    assert client.graph_token(principal(), mint()).startswith("graph-token|")


def test_missing_credential_is_misconfigured(idp: FakeIdentityProvider) -> None:
    client = OboClient(load_settings(base_env(CLIENT_SECRET="")), MemoryPartitionStore(),
                       session=session_with(idp.transport))
    with pytest.raises(Misconfigured) as caught:
        client.graph_token(principal(), mint())
    assert caught.value.setting == "CLIENT_SECRET"


def test_map_msal_error_defaults_to_identity_unavailable() -> None:
    settings = load_settings(base_env())
    assert isinstance(map_msal_error({"error": "something_new"}, settings), IdentityUnavailable)
    assert isinstance(map_msal_error({"error": "interaction_required"}, settings), InteractionRequired)
    assert isinstance(map_msal_error({"error": "invalid_grant", "error_description": "AADSTS65001: x"}, settings),
                      ConsentRequired)


def test_per_call_application_is_cheap(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.graph_token(principal(), mint())
    requests_before = len(idp.transport.requests)
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        client.graph_token(principal(), "unused-on-a-cache-hit")
    per_call_ms = (time.perf_counter() - started) * 1000 / rounds
    assert len(idp.transport.requests) == requests_before  # cache hits touch no network at all
    assert per_call_ms < 5, per_call_ms


def test_memory_store_is_bounded() -> None:
    store = MemoryPartitionStore(max_partitions=3)
    for i in range(5):
        store.save(f"t.{i}", "{}", 60)
    assert len(store) == 3
    assert store.load("t.0") is None and store.load("t.4") == "{}"
    store.save("t.x", "{}", 0)
    assert store.load("t.x") is None


def test_memory_store_expires_entries() -> None:
    now = [0.0]
    store = MemoryPartitionStore(clock=lambda: now[0])
    store.save("k", "{}", 10)
    now[0] = 11
    assert store.load("k") is None


def test_single_flight_shares_the_leaders_error(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.token_delay = 0.2
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [65001]}))
    barrier = threading.Barrier(5)

    def call(_: int) -> str:
        barrier.wait()
        try:
            return client.graph_token(principal(), mint())
        except ConsentRequired:
            return "consent"

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(call, range(5)))
    assert results.count("consent") >= 1
    assert idp.obo_count() <= 2


def test_concurrent_silent_refreshes_for_one_user_make_one_refresh(idp: FakeIdentityProvider, client: OboClient,
                                                                   store: MemoryPartitionStore) -> None:
    key = partition_with_only_a_refresh_token(client, store)
    idp.token_delay = 0.2
    with ThreadPoolExecutor(max_workers=10) as pool:
        tokens = list(pool.map(lambda _: client.graph_token_silent(key, ["User.Read"]), range(10)))
    assert len(set(tokens)) == 1
    assert [f["grant_type"][0] for f in idp.token_requests].count("refresh_token") == 1


def test_concurrent_scopes_for_one_user_keep_both_tokens(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.token_delay = 0.1
    scope_sets = [["User.Read"], ["User.ReadBasic.All"], ["GroupMember.Read.All"]]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda scopes: client.graph_token(principal(), mint(), scopes), scope_sets))
    exchanges = len(idp.token_requests)
    for scopes in scope_sets:  # every partition update survived: all three are cache hits now
        client.graph_token(principal(), mint(), scopes)
    assert len(idp.token_requests) == exchanges


# -- kept partition apps (one MSAL app per partition, reused while the store holds the same text) ----------------

def count_builds(monkeypatch: pytest.MonkeyPatch, client: OboClient) -> list[int]:
    builds = [0]
    real = client._build_app

    def build(*args: Any, **kwargs: Any) -> Any:
        builds[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "_build_app", build)
    return builds


def test_a_partition_app_is_built_once_and_reused(monkeypatch: pytest.MonkeyPatch, idp: FakeIdentityProvider,
                                                  client: OboClient) -> None:
    builds = count_builds(monkeypatch, client)
    first = client.graph_token(principal(), mint())
    assert builds[0] == 2  # the shared HTTP client's first app, then the partition's own
    for _ in range(10):
        assert client.graph_token(principal(), mint()) == first
    assert builds[0] == 2 and idp.obo_count() == 1


def test_the_store_stays_the_source_of_truth(monkeypatch: pytest.MonkeyPatch, idp: FakeIdentityProvider,
                                             client: OboClient, store: MemoryPartitionStore) -> None:
    builds = count_builds(monkeypatch, client)
    first = client.graph_token(principal(), mint())
    key = principal().partition_key
    # Another instance rewrote the partition (here: its access token has expired): a new app from the new text.
    cache = msal.SerializableTokenCache()
    cache.deserialize(store.load(key))
    for at in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
        cache.modify(msal.TokenCache.CredentialType.ACCESS_TOKEN, at, {"expires_on": str(int(time.time()) - 10)})
    store.save(key, cache.serialize(), 3600)
    second = client.graph_token(principal(), mint())
    assert second != first and builds[0] == 3
    assert [f["grant_type"][0] for f in idp.token_requests][-1] == "refresh_token"
    # What this process saved after the refresh is what the kept app holds: reused, no rebuild.
    assert client.graph_token(principal(), mint()) == second and builds[0] == 3
    # The partition is gone from the store (expired, deleted by another instance): no kept app answers.
    store.delete(key)
    third = client.graph_token(principal(), mint())
    assert third not in (first, second) and idp.obo_count() == 2


def test_forget_drops_the_kept_app(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.graph_token(principal(), mint())
    client.forget(principal().partition_key)
    assert client._apps.get(principal().partition_key) is None
    client.graph_token(principal(), mint())
    assert idp.obo_count() == 2


def test_kept_apps_are_bounded(monkeypatch: pytest.MonkeyPatch, idp: FakeIdentityProvider,
                               store: MemoryPartitionStore) -> None:
    client = OboClient(load_settings(base_env()), store, session=session_with(idp.transport), app_cache_size=2)
    builds = count_builds(monkeypatch, client)
    oids = [f"0b6c7d3e-2222-4a4a-9c9c-0000000000{i:02d}" for i in range(3)]
    for oid in oids:
        client.graph_token(principal(oid), mint(oid=oid))
    assert len(client._apps) == 2 and builds[0] == 4
    assert client._apps.get(principal(oids[0]).partition_key) is None  # least recently used went first
    assert client.graph_token(principal(oids[0]), mint(oid=oids[0])).startswith(f"graph-token|{oids[0]}|")
    assert builds[0] == 5 and idp.obo_count() == 3  # rebuilt from the store: silent, no new exchange
    assert len(client._apps) == 2


def test_kept_apps_never_cross_users(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.graph_token(principal(USER_OID), mint(oid=USER_OID))
    client.graph_token(principal(OTHER_OID), mint(oid=OTHER_OID))
    for oid, other in ((USER_OID, OTHER_OID), (OTHER_OID, USER_OID)):
        entry = client._apps.get(principal(oid).partition_key)
        assert entry is not None and entry.key == principal(oid).partition_key
        homes = {a["home_account_id"] for a in entry.app.get_accounts()}
        assert homes == {f"{oid}.{TENANT}"}
        assert other not in entry.cache.serialize()
    assert client.graph_token(principal(USER_OID), mint(oid=USER_OID)).startswith(f"graph-token|{USER_OID}|")
    assert client.graph_token(principal(OTHER_OID), mint(oid=OTHER_OID)).startswith(f"graph-token|{OTHER_OID}|")


def test_a_failed_exchange_keeps_no_app(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [50013],
                                     "error_description": "AADSTS50013: Assertion failed signature validation."}))
    with pytest.raises(InvalidToken):
        client.graph_token(principal(), mint())
    assert len(client._apps) == 0
    # A new assertion (MSAL replays an identical request's 400 for 60 s).
    assert client.graph_token(principal(), mint(name="Ana again")).startswith("graph-token|")
    assert len(client._apps) == 1


def test_a_failed_refresh_drops_the_kept_app(idp: FakeIdentityProvider, client: OboClient,
                                             store: MemoryPartitionStore) -> None:
    client.graph_token(principal(), mint())
    key = principal().partition_key
    cache = msal.SerializableTokenCache()
    cache.deserialize(store.load(key))
    for at in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
        cache.modify(msal.TokenCache.CredentialType.ACCESS_TOKEN, at, {"expires_on": str(int(time.time()) - 10)})
    store.save(key, cache.serialize(), 3600)
    original = idp.handle

    def broken(request: requests.PreparedRequest) -> Any:
        if request.url.endswith("/token"):
            return requests.ConnectionError("connection refused")
        return original(request)

    idp.transport.handler = broken
    with pytest.raises(IdentityUnavailable):
        client.graph_token_silent(key)
    assert client._apps.get(key) is None
    idp.transport.handler = original
    assert client.graph_token_silent(key).startswith("graph-token|")


def test_kept_apps_under_concurrent_users(idp: FakeIdentityProvider, store: MemoryPartitionStore) -> None:
    client = OboClient(load_settings(base_env()), store, session=session_with(idp.transport), app_cache_size=4)
    oids = [f"0b6c7d3e-3333-4a4a-9c9c-0000000000{i:02d}" for i in range(12)]

    def call(i: int) -> bool:
        oid = oids[i % len(oids)]
        return client.graph_token(principal(oid), mint(oid=oid)).startswith(f"graph-token|{oid}|")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(call, range(300)))
    assert idp.obo_count() == len(oids)
    assert len(client._apps) <= 4
