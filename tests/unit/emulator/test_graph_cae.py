"""Continuous access evaluation in the Graph emulator's token checks: CAE-capable tokens issued before the
user's sessions were revoked get Graph's claims challenge, also when the verified token is cached."""
from __future__ import annotations

import base64
import json

import pytest

from localdev.emulator.graph.auth import TokenVerifier
from localdev.emulator.graph.errors import CAE_REVOKED_MESSAGE, GraphError
from tests.unit.emulator.test_graph_support import TENANT_ID, FakeState, user


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def verifier(state: FakeState) -> TokenVerifier:
    return TokenVerifier(state, TENANT_ID)


def challenge(verifier: TokenVerifier, token: str) -> GraphError:
    with pytest.raises(GraphError) as caught:
        verifier.verify("Bearer " + token)
    return caught.value


def test_cached_cae_token_is_challenged_once_the_user_is_revoked(state: FakeState, verifier: TokenVerifier) -> None:
    token = state.token("mira", xms_cc=["CP1"], iat=1_000)
    assert verifier.verify("Bearer " + token).cae_capable  # verified and cached
    state.revoked[user("mira")["id"]] = 1_001
    error = challenge(verifier, token)
    assert error.status == 401 and error.code == "InvalidAuthenticationToken" and error.message == CAE_REVOKED_MESSAGE
    header = error.headers["WWW-Authenticate"]
    assert header.startswith('Bearer realm="", authorization_uri="https://login.example/common/oauth2/authorize"')
    assert 'error="insufficient_claims"' in header
    encoded = header.split('claims="')[1].split('"')[0]
    assert json.loads(base64.b64decode(encoded)) == {"access_token": {"nbf": {"essential": True, "value": "1001"}}}


def test_token_issued_at_the_cutoff_is_valid(state: FakeState, verifier: TokenVerifier) -> None:
    state.revoked[user("mira")["id"]] = 1_001
    assert verifier.verify("Bearer " + state.token("mira", xms_cc=["cp1"], iat=1_001)).oid == user("mira")["id"]


@pytest.mark.parametrize("capabilities", [None, [], ["llt"], "other"])
def test_tokens_that_are_not_cae_capable_are_not_challenged(state: FakeState, verifier: TokenVerifier,
                                                            capabilities: object) -> None:
    state.revoked[user("mira")["id"]] = 1_001
    assert verifier.verify("Bearer " + state.token("mira", xms_cc=capabilities, iat=1_000)).oid


def test_other_users_and_app_tokens_are_not_challenged(state: FakeState, verifier: TokenVerifier) -> None:
    state.revoked[user("mira")["id"]] = 1_001
    assert verifier.verify("Bearer " + state.token("sam", xms_cc=["CP1"], iat=1_000)).oid == user("sam")["id"]
    app = state.token(None, None, roles=["User.Read.All"], xms_cc=["CP1"], iat=1_000)
    assert not verifier.verify("Bearer " + app).delegated
