"""Token checks of the Graph emulator: what Graph accepts, what it refuses and with which message."""
from __future__ import annotations

import time

import pytest

from localdev.emulator.graph.auth import LEEWAY_SECONDS, TokenVerifier
from localdev.emulator.graph.errors import GraphError
from localdev.emulator.graph.permissions import READ_MEMBERSHIPS, READ_SELF, READ_USERS
from tests.unit.emulator.test_graph_support import TENANT_ID, FakeState, Keys, user


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(state: FakeState, clock: Clock) -> TokenVerifier:
    return TokenVerifier(state, TENANT_ID, clock=clock)


def rejected(verifier: TokenVerifier, header: str | None) -> GraphError:
    with pytest.raises(GraphError) as caught:
        verifier.verify(header)
    error = caught.value
    assert error.status == 401 and error.code == "InvalidAuthenticationToken"
    assert error.headers["WWW-Authenticate"].startswith('Bearer realm=""')
    return error


def test_delegated_token_names_the_user_and_scopes(state: FakeState, verifier: TokenVerifier) -> None:
    caller = verifier.verify("Bearer " + state.token("priya", "User.Read GroupMember.Read.All"))
    assert caller.delegated and caller.oid == user("priya")["id"]
    assert caller.allowed(READ_SELF) and caller.allowed(READ_MEMBERSHIPS)
    assert not caller.allowed(READ_USERS)


def test_scope_names_match_case_insensitively(state: FakeState, verifier: TokenVerifier) -> None:
    assert verifier.verify("Bearer " + state.token("sam", "user.read")).allowed(READ_SELF)


def test_app_token_uses_roles_not_scopes(state: FakeState, verifier: TokenVerifier) -> None:
    caller = verifier.verify("Bearer " + state.token(None, None, roles=["User.Read.All"]))
    assert not caller.delegated
    assert caller.allowed(READ_USERS) and not caller.allowed(READ_MEMBERSHIPS)


@pytest.mark.parametrize("audience", ["https://graph.microsoft.com", "https://graph.microsoft.com/",
                                      "00000003-0000-0000-c000-000000000000"])
def test_every_graph_audience_form_is_accepted(state: FakeState, verifier: TokenVerifier, audience: str) -> None:
    assert verifier.verify("Bearer " + state.token("mira", aud=audience)).oid == user("mira")["id"]


def test_token_for_another_resource_is_refused(state: FakeState, verifier: TokenVerifier) -> None:
    token = state.token("mira", aud="api://ca7a86f5-36ed-459f-b0e6-3acb0993c979")
    assert rejected(verifier, "Bearer " + token).message == "Access token validation failure. Invalid audience."


@pytest.mark.parametrize("issuer", [f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",
                                    "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"])
def test_issuer_must_be_the_tenants_v1_issuer(state: FakeState, verifier: TokenVerifier, issuer: str) -> None:
    assert "Invalid issuer" in rejected(verifier, "Bearer " + state.token("mira", iss=issuer)).message


def test_expired_and_not_yet_valid_tokens(state: FakeState, verifier: TokenVerifier) -> None:
    now = int(time.time())
    expired = state.token("mira", exp=now - LEEWAY_SECONDS - 5, nbf=now - 3600, iat=now - 3600)
    assert rejected(verifier, "Bearer " + expired).message == "Lifetime validation failed, the token is expired."
    early = state.token("mira", nbf=now + 600)
    assert "not yet valid" in rejected(verifier, "Bearer " + early).message


def test_small_clock_skew_is_tolerated(state: FakeState, verifier: TokenVerifier) -> None:
    just_expired = state.token("mira", exp=int(time.time()) - 5)
    assert verifier.verify("Bearer " + just_expired).oid == user("mira")["id"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz"])
def test_missing_token(verifier: TokenVerifier, header: str | None) -> None:
    assert rejected(verifier, header).message == "Access token is empty."


def test_garbage_token(verifier: TokenVerifier) -> None:
    assert "not well formed" in rejected(verifier, "Bearer not-a-jwt").message


def test_signature_from_an_unpublished_key_is_refused(state: FakeState, verifier: TokenVerifier) -> None:
    stranger = Keys()
    assert "Invalid signature" in rejected(verifier, "Bearer " + state.token("mira", key=stranger)).message
    # Same kid as the published key but signed by another key: still refused.
    stranger.kid = state.signing.kid
    assert "Invalid signature" in rejected(verifier, "Bearer " + state.token("mira", key=stranger)).message


def test_tampered_payload_is_refused(state: FakeState, verifier: TokenVerifier) -> None:
    header, payload, signature = state.token("mira").split(".")
    _, other_payload, _ = state.token("lena").split(".")
    assert "Invalid signature" in rejected(verifier, f"Bearer {header}.{other_payload}.{signature}").message


def test_only_rs256_is_accepted(state: FakeState, verifier: TokenVerifier) -> None:
    assert "algorithm" in rejected(verifier, "Bearer " + state.token("mira", algorithm="HS256")).message
    assert "algorithm" in rejected(verifier, "Bearer " + state.token("mira", algorithm="RS384")).message
    header, payload, _ = state.token("mira").split(".")
    unsigned_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    assert "algorithm" in rejected(verifier, f"Bearer {unsigned_header}.{payload}.").message


def test_delegated_token_without_oid_is_refused(state: FakeState, verifier: TokenVerifier) -> None:
    assert "oid" in rejected(verifier, "Bearer " + state.token("mira", oid=None)).message


def test_verified_tokens_are_cached_until_they_expire(state: FakeState, verifier: TokenVerifier,
                                                      clock: Clock) -> None:
    token = "Bearer " + state.token("mira", exp=int(clock.now) + 120)
    verifier.verify(token)
    calls = state.public_keys_calls
    for _ in range(50):
        verifier.verify(token)
    assert state.public_keys_calls == calls  # no re-verification within the key refresh window
    clock.now += 120 + LEEWAY_SECONDS + 1
    assert "expired" in rejected(verifier, token).message


def test_rotated_out_key_stops_cached_tokens(state: FakeState, verifier: TokenVerifier, clock: Clock) -> None:
    token = "Bearer " + state.token("mira")
    verifier.verify(token)
    state.published = [Keys()]
    clock.now += 2  # past the once-a-second re-read of published keys
    assert "Invalid signature" in rejected(verifier, token).message


def test_newly_published_key_is_picked_up_at_once(state: FakeState, verifier: TokenVerifier) -> None:
    verifier.verify("Bearer " + state.token("mira"))
    fresh = Keys()
    state.published.append(fresh)
    assert verifier.verify("Bearer " + state.token("mira", key=fresh)).oid == user("mira")["id"]


def test_token_cache_is_bounded(state: FakeState, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> None:
    from localdev.emulator.graph import auth as graph_auth

    monkeypatch.setattr(graph_auth, "_MAX_CACHED_TOKENS", 3)
    tokens = ["Bearer " + state.token(name) for name in ("mira", "sam", "lena", "tomas", "priya")]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._cache) == 3
    # Evicted tokens are simply verified again.
    assert verifier.verify(tokens[0]).oid == user("mira")["id"]
