"""Continuous access evaluation end to end: the API declares CP1, so its Graph tokens are CAE tokens; when the
user's sessions are revoked, Graph challenges the cached token, the API keeps the challenge in its place and passes
it on for every request with that token, and the new token the SPA gets with it gets a new exchange."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

import jwt

from function_app import services
from tests.integration.function_app.test_profile_api import MIRA, as_user, call, obo_exchanges, problem, user_token


def test_graph_tokens_obtained_by_the_api_are_cae_tokens(backend: Any) -> None:
    token = user_token(backend)
    assert call("get-profile", as_user(token)).status_code == 200
    svc = services.current()
    caller = svc.authenticate(as_user(token))
    graph_token = svc.obo.graph_token(caller.principal, caller.assertion)  # the cached one
    assert "CP1" in [c.upper() for c in jwt.decode(graph_token, options={"verify_signature": False})["xms_cc"]]


def test_revoked_sessions_challenge_the_cached_token_and_a_new_token_recovers(backend: Any) -> None:
    old = user_token(backend)
    assert call("get-profile", as_user(old)).status_code == 200
    revoked = backend.revoke(MIRA)

    response = call("get-profile", as_user(old))
    body = problem(response, 401, "interaction_required")
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in challenge
    claims = json.loads(base64.b64decode(re.search(r'claims="([^"]+)"', challenge).group(1)))
    assert claims == {"access_token": {"nbf": {"essential": True, "value": str(revoked["revokedBefore"])}}}
    assert json.loads(body["claims"]) == claims

    # Every later request with the old token (the page's photo request racing the profile one, a retry, another
    # instance) gets the same challenge, without a futile exchange that Entra ID would refuse without claims.
    exchanges = obo_exchanges(backend)
    for path in ("get-profile", "get-profile/photo", "get-profile"):
        again = call(path, as_user(old))
        assert json.loads(problem(again, 401, "interaction_required")["claims"]) == claims
        assert again.headers["WWW-Authenticate"] == challenge
    assert obo_exchanges(backend) == exchanges

    fresh = user_token(backend)  # what the SPA gets after signing in again with the claims
    response = call("get-profile", as_user(fresh))
    assert response.status_code == 200, response.get_body()
    assert json.loads(response.get_body())["userPrincipalName"] == MIRA
    assert obo_exchanges(backend) == exchanges + 1

