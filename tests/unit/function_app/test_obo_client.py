"""`OboClient` against an in-process identity provider (real MSAL, no sockets): one exchange per caller token,
never per user; single flight; what the cache keeps and for how long; error mapping."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from function_app.errors import (ConsentRequired, IdentityUnavailable, InteractionRequired, InvalidToken,
                                 Misconfigured, TokenExpired)
from function_app.obo import OboClient, map_msal_error
from function_app.obo.cache_policy import GRAPH_TOKEN_MARGIN_SECONDS, assertion_key
from function_app.settings import load_settings
from function_app.token_cache.memory import MemoryTokenStore
from tests.unit.function_app.support import (API, OTHER_OID, TENANT, USER_OID, FakeIdentityProvider, Reply, base_env,
                                             mint, obo_client, principal, session_with)

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(idp: FakeIdentityProvider, store: MemoryTokenStore) -> OboClient:
    return obo_client(load_settings(base_env()), session_with(idp.transport), store)


def test_no_network_until_first_use(idp: FakeIdentityProvider, client: OboClient) -> None:
    assert idp.transport.requests == []


def test_the_same_token_costs_one_exchange(idp: FakeIdentityProvider, client: OboClient) -> None:
    token = mint()
    first = client.graph_token(principal(), token)
    assert first.startswith(f"graph-token|{USER_OID}|")
    for _ in range(5):
        assert client.graph_token(principal(), token) == first
    assert idp.obo_count() == 1
    form = idp.token_requests[0]
    assert form["grant_type"] == [OBO_GRANT] and form["requested_token_use"] == ["on_behalf_of"]
    assert form["assertion"] == [token]


def test_two_tokens_of_one_user_cost_two_exchanges(idp: FakeIdentityProvider, client: OboClient) -> None:
    strong, weak = mint(amr=["pwd", "mfa"]), mint(amr=["pwd"])
    first = client.graph_token(principal(), strong)
    second = client.graph_token(principal(), weak)
    assert idp.obo_count() == 2 and first != second
    assert [f["assertion"][0] for f in idp.token_requests] == [strong, weak]


def test_a_weaker_token_never_gets_what_a_stronger_one_earned(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.graph_token(principal(), mint(amr=["pwd", "mfa"]))
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [50076], "suberror": "basic_action",
                                     "claims": '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}',
                                     "error_description": "AADSTS50076: you must use multi-factor authentication"}))
    with pytest.raises(InteractionRequired) as caught:
        client.graph_token(principal(), mint(amr=["pwd"]))
    assert "capolids" in caught.value.claims
    assert idp.obo_count() == 2


def test_interactive_exchanges_ask_for_no_refresh_token_and_declare_cp1(idp: FakeIdentityProvider,
                                                                       client: OboClient,
                                                                       store: MemoryTokenStore) -> None:
    client.graph_token(principal(), mint())
    form = idp.token_requests[0]
    assert "offline_access" not in form["scope"][0].split()
    assert json.loads(form["claims"][0]) == {"access_token": {"xms_cc": {"values": ["CP1"]}}}
    kept = [store.load(name) or "" for name in store.names()]
    assert len(kept) == 1 and "rt|" not in kept[0] and "refresh" not in kept[0]


def test_the_cache_key_is_the_callers_token_and_scopes_not_the_user(client: OboClient,
                                                                    store: MemoryTokenStore) -> None:
    token = mint()
    client.graph_token(principal(), token)
    assert store.names() == [assertion_key(token, ("User.Read",))]
    assert USER_OID not in store.names()[0] and TENANT not in store.names()[0]


def test_users_never_share_tokens(idp: FakeIdentityProvider, client: OboClient) -> None:
    mine = client.graph_token(principal(USER_OID), mint(oid=USER_OID))
    theirs = client.graph_token(principal(OTHER_OID), mint(oid=OTHER_OID))
    assert USER_OID in mine and OTHER_OID in theirs and idp.obo_count() == 2


def test_scopes_are_part_of_the_key(idp: FakeIdentityProvider, client: OboClient) -> None:
    token = mint()
    client.graph_token(principal(), token, ["User.Read"])
    client.graph_token(principal(), token, ["User.ReadBasic.All", "User.Read"])
    client.graph_token(principal(), token, ["User.Read", "User.ReadBasic.All"])
    assert idp.obo_count() == 2


def test_concurrent_misses_for_one_token_share_one_exchange(idp: FakeIdentityProvider, client: OboClient) -> None:
    idp.token_delay = 0.2
    token = mint()
    with ThreadPoolExecutor(max_workers=20) as pool:
        tokens = list(pool.map(lambda _: client.graph_token(principal(), token), range(20)))
    assert len(set(tokens)) == 1 and idp.obo_count() == 1


def test_concurrent_misses_for_different_tokens_run_in_parallel(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.token_delay = 0.3
    tokens = [mint(name=f"token {i}") for i in range(8)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda token: client.graph_token(principal(), token), tokens))
    assert idp.obo_count() == 8
    assert time.perf_counter() - started < 8 * 0.3 * 0.6  # not serialised behind one lock


def test_single_flight_shares_the_leaders_error(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.token_delay = 0.2
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [65001]}))
    barrier = threading.Barrier(5)
    token = mint()

    def call(_: int) -> str:
        barrier.wait()
        try:
            return client.graph_token(principal(), token)
        except ConsentRequired:
            return "consent"

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(call, range(5)))
    assert results.count("consent") >= 1 and idp.obo_count() <= 2


def test_an_entry_lives_until_the_callers_token_expires(idp: FakeIdentityProvider) -> None:
    clock = Clock()
    store = MemoryTokenStore(clock=clock)
    client = obo_client(load_settings(base_env()), session_with(idp.transport), store)
    token = mint()
    caller = principal(expires_in=600)  # the Graph token lives 3600 s: the caller's token decides
    client.graph_token(caller, token)
    clock.now += 590
    client.graph_token(caller, token)
    assert idp.obo_count() == 1
    clock.now += 20
    assert store.load(assertion_key(token, ("User.Read",))) is None


def test_an_entry_lives_until_shortly_before_the_graph_token_expires(idp: FakeIdentityProvider) -> None:
    clock = Clock()
    store = MemoryTokenStore(clock=clock)
    client = obo_client(load_settings(base_env()), session_with(idp.transport), store)
    idp.expires_in = 900
    token = mint()
    client.graph_token(principal(), token)
    clock.now += 900 - GRAPH_TOKEN_MARGIN_SECONDS + 5
    assert store.load(assertion_key(token, ("User.Read",))) is None


def test_nothing_is_cached_for_a_token_at_its_end(idp: FakeIdentityProvider, client: OboClient,
                                                  store: MemoryTokenStore) -> None:
    token = mint()
    client.graph_token(principal(expires_in=-5), token)  # accepted within the validator's leeway
    assert len(store) == 0


def test_a_graph_token_about_to_expire_is_not_served(idp: FakeIdentityProvider, client: OboClient,
                                                     store: MemoryTokenStore) -> None:
    idp.expires_in = GRAPH_TOKEN_MARGIN_SECONDS - 10
    token = mint()
    client.graph_token(principal(), token)
    client.graph_token(principal(), token)
    assert idp.obo_count() == 2 and len(store) == 0


def test_forget_drops_only_that_tokens_entry(idp: FakeIdentityProvider, client: OboClient) -> None:
    mine, other = mint(), mint(name="another session")
    first = client.graph_token(principal(), mine)
    client.graph_token(principal(), other)
    client.forget(mine)
    assert client.graph_token(principal(), mine) != first
    client.graph_token(principal(), other)
    assert idp.obo_count() == 3


def test_a_failed_exchange_is_not_cached(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.warm_up()
    idp.fail_with.append(Reply(503, {"error": "server_error"}, {"Retry-After": "1"}))
    token = mint()
    with pytest.raises(IdentityUnavailable):
        client.graph_token(principal(), token)
    # MSAL itself holds every exchange of the app back for the Retry-After (it throttles per app and scope)...
    with pytest.raises(IdentityUnavailable):
        client.graph_token(principal(), mint(name="another caller"))
    assert idp.obo_count() == 1
    time.sleep(1.1)
    # ...and after it, the same caller token is exchanged again: nothing of the failure was kept.
    assert client.graph_token(principal(), token).startswith("graph-token|")
    assert idp.obo_count() == 2


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
                 "error_description": "AADSTS50013: Assertion failed signature validation."}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_request", "error_codes": [70021],
                 "error_description": "AADSTS70021: No matching federated identity record found for presented "
                                      "assertion."}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_client", "error_codes": [700213],
                 "error_description": "AADSTS700213: No matching federated identity record found for presented "
                                      "assertion subject."}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_grant", "error_codes": [50173],
                 "error_description": "AADSTS50173: The provided grant has expired due to it being revoked"}),
     InteractionRequired, 401),
    (Reply(401, {"error": "invalid_client", "error_codes": [7000215],
                 "error_description": "AADSTS7000215: Invalid client secret provided."}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_scope", "error_codes": [70011]}), Misconfigured, 500),
    (Reply(400, {"error": "invalid_grant", "error_codes": [50000]}), InvalidToken, 401),
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
        assert caught.value.extra["consentUrl"].startswith(f"https://idp.test/{TENANT}/adminconsent?client_id={API}")
    if isinstance(caught.value, InteractionRequired) and reply.body.get("claims"):
        assert "capolids" in caught.value.claims
        assert 'error="insufficient_claims"' in caught.value.challenge()
    if isinstance(caught.value, Misconfigured):
        assert caught.value.setting and "retry" not in caught.value.detail.lower()
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


def test_one_discovery_for_every_exchange(idp: FakeIdentityProvider, client: OboClient) -> None:
    client.graph_token(principal(), mint())
    after_first = idp.discovery_calls
    for i in range(5):
        client.graph_token(principal(), mint(name=f"token {i}"))
    assert idp.discovery_calls == after_first


def test_missing_credential_is_misconfigured(idp: FakeIdentityProvider) -> None:
    client = obo_client(load_settings(base_env(CLIENT_SECRET="")), session_with(idp.transport))
    with pytest.raises(Misconfigured) as caught:
        client.graph_token(principal(), mint())
    assert caught.value.setting == "CLIENT_SECRET"


def test_map_msal_error_defaults_to_identity_unavailable() -> None:
    settings = load_settings(base_env())
    assert isinstance(map_msal_error({"error": "something_new"}, settings), IdentityUnavailable)
    assert isinstance(map_msal_error({"error": "interaction_required"}, settings), InteractionRequired)
    assert isinstance(map_msal_error({"error": "invalid_grant", "error_description": "AADSTS65001: x"}, settings),
                      ConsentRequired)


def test_cache_hits_touch_no_network(idp: FakeIdentityProvider, client: OboClient) -> None:
    token = mint()
    client.graph_token(principal(), token)
    requests_before = len(idp.transport.requests)
    for _ in range(200):
        client.graph_token(principal(), token)
    assert len(idp.transport.requests) == requests_before


def test_memory_store_is_bounded() -> None:
    store = MemoryTokenStore(max_entries=3)
    for i in range(5):
        store.save(f"t.{i}", "{}", 60)
    assert len(store) == 3
    assert store.load("t.0") is None and store.load("t.4") == "{}"
    store.save("t.x", "{}", 0)
    assert store.load("t.x") is None


def test_memory_store_expires_entries() -> None:
    clock = Clock()
    store = MemoryTokenStore(clock=clock)
    store.save("k", "{}", 10)
    clock.now += 11
    assert store.load("k") is None
