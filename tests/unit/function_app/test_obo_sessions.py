"""`LongRunningSessions` against an in-process identity provider (real MSAL, no sockets): a fresh exchange at
the start, a random session id, refresh from the session only, end and expiry."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import msal
import pytest

from function_app.errors import ConsentRequired, IdentityUnavailable, InteractionRequired
from function_app.obo import LongRunningSessions, MsalApps
from function_app.obo.cache_policy import SESSION_ID_RE, SessionRecord, session_key
from function_app.settings import load_settings
from function_app.token_cache.memory import MemoryTokenStore
from tests.unit.function_app.support import (TENANT, USER_OID, FakeIdentityProvider, Reply, base_env, mint, obo_client,
                                             principal, session_with)

SCOPES = ["User.Read", "User.ReadBasic.All"]


@pytest.fixture
def sessions(idp: FakeIdentityProvider, store: MemoryTokenStore) -> LongRunningSessions:
    settings = load_settings(base_env())
    return LongRunningSessions(settings, store, MsalApps(settings, session=session_with(idp.transport)))


def expire_access_tokens(store: MemoryTokenStore, session_id: str) -> None:
    key = session_key(session_id)
    record = SessionRecord.parse(store.load(key) or "")
    assert record is not None
    cache = msal.SerializableTokenCache()
    cache.deserialize(record.msal_cache)
    for at in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        cache.remove_at(at)
    store.save(key, SessionRecord(cache.serialize(), record.deadline).serialize(), 3600)


def test_start_exchanges_the_callers_token_with_offline_access(idp: FakeIdentityProvider,
                                                               sessions: LongRunningSessions) -> None:
    token = mint()
    session_id = sessions.start(principal(), token, SCOPES, 600)
    assert SESSION_ID_RE.fullmatch(session_id)
    form = idp.token_requests[0]
    assert form["assertion"] == [token] and "offline_access" in form["scope"][0].split()
    assert '"xms_cc"' in form["claims"][0]


def test_start_never_uses_a_cached_token(idp: FakeIdentityProvider, store: MemoryTokenStore,
                                         sessions: LongRunningSessions) -> None:
    token = mint()
    interactive = obo_client(load_settings(base_env()), session_with(idp.transport), store)
    interactive.graph_token(principal(), token, SCOPES)
    sessions.start(principal(), token, SCOPES, 600)
    sessions.start(principal(), token, SCOPES, 600)
    assert idp.obo_count() == 3


def test_session_ids_are_random_and_unrelated_to_the_user(sessions: LongRunningSessions,
                                                          store: MemoryTokenStore) -> None:
    ids = {sessions.start(principal(), mint(), SCOPES, 600) for _ in range(3)}
    assert len(ids) == 3
    for name in store.names():
        assert USER_OID not in name and TENANT not in name


def test_a_refused_start_opens_no_session(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                          store: MemoryTokenStore) -> None:
    sessions.start(principal(), mint(amr=["pwd", "mfa"]), SCOPES, 600)
    before = len(store)
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [50076], "suberror": "basic_action",
                                     "claims": '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}'}))
    with pytest.raises(InteractionRequired) as caught:
        sessions.start(principal(), mint(amr=["pwd"]), SCOPES, 600)
    assert "capolids" in caught.value.claims
    assert len(store) == before


def test_graph_tokens_come_from_the_session(idp: FakeIdentityProvider, sessions: LongRunningSessions) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    first = sessions.graph_token(session_id, SCOPES)
    assert sessions.graph_token(session_id, list(reversed(SCOPES))) == first
    assert len(idp.token_requests) == 1


def test_an_expired_access_token_is_refreshed_from_the_session(idp: FakeIdentityProvider,
                                                               sessions: LongRunningSessions,
                                                               store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    first = sessions.graph_token(session_id, SCOPES)
    expire_access_tokens(store, session_id)
    second = sessions.graph_token(session_id, SCOPES)
    assert second != first and idp.refresh_count() == 1
    assert '"xms_cc"' in idp.token_requests[-1]["claims"][0]  # refreshed tokens stay CAE tokens
    assert sessions.graph_token(session_id, SCOPES) == second  # the refreshed session was saved


def test_concurrent_steps_make_one_refresh(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                           store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    expire_access_tokens(store, session_id)
    idp.token_delay = 0.2
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda _: sessions.graph_token(session_id, SCOPES), range(8)))
    assert len(set(tokens)) == 1 and idp.refresh_count() == 1


def test_a_refused_refresh_asks_for_a_new_sign_in(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                                  store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    expire_access_tokens(store, session_id)
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [50173],
                                     "error_description": "AADSTS50173: The provided grant has expired due to "
                                                          "it being revoked"}))
    with pytest.raises(InteractionRequired):
        sessions.graph_token(session_id, SCOPES)


def test_revoked_consent_during_a_job_is_consent_required(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                                          store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    expire_access_tokens(store, session_id)
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "suberror": "consent_required", "error_codes": [65001]}))
    with pytest.raises(ConsentRequired):
        sessions.graph_token(session_id, SCOPES)


def test_an_identity_provider_outage_is_transient(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                                  store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    expire_access_tokens(store, session_id)
    idp.fail_with.append(Reply(503, {"error": "server_error"}, {"Retry-After": "2"}))
    with pytest.raises(IdentityUnavailable):
        sessions.graph_token(session_id, SCOPES)


def test_an_ended_session_is_gone(sessions: LongRunningSessions, store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    sessions.end(session_id)
    sessions.end(session_id)  # idempotent
    assert not sessions.exists(session_id) and len(store) == 0
    with pytest.raises(InteractionRequired):
        sessions.graph_token(session_id, SCOPES)


def test_a_session_lives_no_longer_than_its_ttl(idp: FakeIdentityProvider) -> None:
    now = [1000.0]
    store = MemoryTokenStore(clock=lambda: now[0])
    settings = load_settings(base_env())
    sessions = LongRunningSessions(settings, store, MsalApps(settings, session=session_with(idp.transport)))
    session_id = sessions.start(principal(), mint(), SCOPES, 60)
    now[0] += 61
    assert not sessions.exists(session_id)
    with pytest.raises(InteractionRequired):
        sessions.graph_token(session_id, SCOPES)


def test_the_record_keeps_its_deadline_across_refreshes(sessions: LongRunningSessions,
                                                        store: MemoryTokenStore) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    deadline = SessionRecord.parse(store.load(session_key(session_id)) or "").deadline  # type: ignore[union-attr]
    expire_access_tokens(store, session_id)
    sessions.graph_token(session_id, SCOPES)
    record = SessionRecord.parse(store.load(session_key(session_id)) or "")
    assert record is not None and record.deadline == deadline and deadline <= time.time() + 600


@pytest.mark.parametrize("session_id", ["", "x", "../../etc", "a" * 42 + "\n", "é" * 43])
def test_malformed_session_ids_are_refused(sessions: LongRunningSessions, session_id: str) -> None:
    with pytest.raises(InteractionRequired):
        sessions.graph_token(session_id, SCOPES)
    sessions.end(session_id)  # nothing to end, no error


def test_no_refresh_token_means_no_session(idp: FakeIdentityProvider, sessions: LongRunningSessions,
                                           store: MemoryTokenStore) -> None:
    original = idp.token_response

    def without_refresh_token(form):  # type: ignore[no-untyped-def]
        body = original(form)
        body.pop("refresh_token", None)
        return body

    idp.token_response = without_refresh_token  # type: ignore[method-assign]
    with pytest.raises(InteractionRequired):
        sessions.start(principal(), mint(), SCOPES, 600)
    assert len(store) == 0


def test_a_token_graph_refused_is_not_served_again(idp: FakeIdentityProvider, sessions: LongRunningSessions) -> None:
    session_id = sessions.start(principal(), mint(), SCOPES, 600)
    refused = sessions.graph_token(session_id, SCOPES)
    sessions.forget_access_tokens(session_id)
    fresh = sessions.graph_token(session_id, SCOPES)
    assert fresh != refused and idp.refresh_count() == 1
    sessions.forget_access_tokens("not-a-session")  # nothing to do, no error
