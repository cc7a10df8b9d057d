"""The rules for Graph's answers, proved once per rule for both paths that call Graph: the interactive
request (`GET /api/get-profile`) and the report's activity (`report_profile`).

Each path runs the real app code against an in-process identity provider and Graph: the HTTP path through the
registered HTTP function, the report path through the registered activity with a real long-running session.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable

import azure.functions as func
import pytest

import function_app
from function_app import services
from function_app.report import activities
from tests.unit.function_app.support import (FakeIdentityProvider, Reply, Transport, install_services, mint,
                                             user_function)

PROFILE = {"id": "u1", "displayName": "Ana Souza", "userPrincipalName": "ana@larkspur.example"}
CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
CAE_CHALLENGE = ('Bearer realm="", authorization_uri="https://idp.test/common/oauth2/authorize", '
                 f'error="insufficient_claims", claims="{base64.b64encode(CLAIMS.encode()).decode()}"')


class Graph:
    """Answers with `replies` first (one per request), then with the profile; records the tokens it saw."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.tokens: list[str] = []
        self.transport = Transport(self.handle)

    def handle(self, request: Any) -> Reply:
        self.tokens.append(request.headers["Authorization"].split(" ", 1)[1])
        return self.replies.pop(0) if self.replies else Reply(200, PROFILE)


class Path:
    """One way into Graph: `call()` returns (status or 200, error code or None, extra fields of the outcome)."""

    def __init__(self, name: str, idp: FakeIdentityProvider, graph: Graph) -> None:
        self.name, self.idp, self.graph = name, idp, graph
        self.token = mint()
        svc = services.current()
        if name == "report":
            caller = svc.authenticate({"X-User-Authorization": f"Bearer {self.token}"})
            self.session = svc.sessions.start(caller.principal, caller.assertion, ["User.Read"], 600)

    def call(self) -> tuple[str | None, dict[str, Any]]:
        if self.name == "http":
            request = func.HttpRequest("GET", "http://localhost/api/get-profile",
                                       headers={"X-User-Authorization": f"Bearer {self.token}"}, body=b"")
            response = user_function(function_app.app, "get-profile")(request)
            body = json.loads(response.get_body())
            return (None if response.status_code == 200 else body["code"]), {
                "status": response.status_code, "retryAfter": response.headers.get("Retry-After"),
                "challenge": response.headers.get("WWW-Authenticate"), "body": body}
        result = activities.report_profile({"session": self.session, "scopes": ["User.Read"]})
        error = result.get("error")
        return (error["code"] if error else None), {"error": error, "body": result.get("value")}

    def fresh_tokens(self) -> int:
        """Token requests that gave this path a new Graph token (an exchange, or a refresh from the session)."""
        kind = "refresh_token" if self.name == "report" else "urn:ietf:params:oauth:grant-type:jwt-bearer"
        return sum(1 for form in self.idp.token_requests if form["grant_type"][0] == kind)


@pytest.fixture(params=["http", "report"])
def path(request: pytest.FixtureRequest, env: pytest.MonkeyPatch) -> Path:
    idp, graph = FakeIdentityProvider(), Graph()
    install_services(idp.transport, graph.transport)
    return Path(request.param, idp, graph)


def test_a_401_without_claims_forgets_the_token_and_retries_once_with_a_fresh_one(path: Path) -> None:
    path.call()
    before = path.fresh_tokens()
    path.graph.replies.append(Reply(401, {"error": {"code": "InvalidAuthenticationToken"}}))
    code, _ = path.call()
    assert code is None
    assert path.fresh_tokens() == before + 1
    assert path.graph.tokens[-1] != path.graph.tokens[-2]  # the retry carried another token


def test_a_claims_challenge_asks_for_interaction_with_graphs_claims_and_never_serves_the_token_again(
        path: Path) -> None:
    path.call()
    path.graph.replies.append(Reply(401, {"error": {"code": "InvalidAuthenticationToken"}},
                                    {"WWW-Authenticate": CAE_CHALLENGE}))
    code, outcome = path.call()
    assert code == "interaction_required"
    challenged = path.graph.tokens[-1]
    before, graph_calls = path.fresh_tokens(), len(path.graph.tokens)
    if path.name == "http":
        assert outcome["status"] == 401 and json.loads(outcome["body"]["claims"]) == json.loads(CLAIMS)
        assert 'error="insufficient_claims"' in outcome["challenge"]
        # The same caller token gets the same challenge again: no exchange (Entra ID would refuse it), no Graph
        # call with the challenged token; only a new caller token (the user signed in again) gets Graph access.
        again_code, again = path.call()
        assert again_code == "interaction_required" and again["challenge"] == outcome["challenge"]
        assert (path.fresh_tokens(), len(path.graph.tokens)) == (before, graph_calls)
        path.token = mint(uti="signed-in-again")
    else:
        assert outcome["error"]["retryable"] is False
    # The job's session is asked for a new token (a real identity provider refuses a revoked session's refresh).
    assert path.call()[0] is None
    assert path.fresh_tokens() == before + 1
    assert path.graph.tokens[-1] != challenged


def test_a_403_is_consent_required_and_forgets_the_token(path: Path) -> None:
    path.call()
    path.graph.replies.append(Reply(403, {"error": {"code": "Authorization_RequestDenied"}}))
    code, outcome = path.call()
    assert code == "consent_required"
    before = path.fresh_tokens()
    path.call()
    assert path.fresh_tokens() == before + 1


def test_throttling_carries_graphs_retry_after(path: Path) -> None:
    path.graph.replies += [Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "30"})] * 4
    code, outcome = path.call()
    assert code == "graph_throttled"
    if path.name == "http":
        assert outcome["status"] == 429 and outcome["retryAfter"] == "30"
    else:
        assert outcome["error"] == {**outcome["error"], "retryable": True, "retryAfter": 30}


def test_a_malformed_answer_is_graph_unavailable_and_retryable(path: Path) -> None:
    path.graph.replies.append(Reply(200, content=b"<html>not json</html>", headers={"Content-Type": "text/html"}))
    code, outcome = path.call()
    assert code == "graph_unavailable"
    if path.name == "http":
        assert outcome["status"] == 503 and outcome["retryAfter"]
    else:
        assert outcome["error"]["retryable"] is True
