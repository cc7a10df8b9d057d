"""The HTTP functions with real MSAL against the emulators over HTTPS.

Functions are invoked the way the Functions host invokes them: the app's registered user functions,
found by route, called with `azure.functions.HttpRequest` objects.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import azure.functions as func
import pytest

import function_app
from function_app import services
from function_app.graph import GraphClient
from tests.unit.function_app.support import user_function

MIRA = "mira.okafor@larkspur.example"
SAM = "sam.whitfield@larkspur.example"  # no photo
LENA = "lena.hoffmann@larkspur.example"  # conditional access: MFA for Graph
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.")

_functions: dict[str, Callable[[func.HttpRequest], func.HttpResponse]] = {}


def call(route: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if route not in _functions:
        _functions[route] = user_function(function_app.app, route)
    request = func.HttpRequest("GET", f"http://localhost:7071/api/{route}", headers=headers or {}, body=b"")
    return _functions[route](request)


def user_token(emulator: Any, user: str = MIRA, **body: Any) -> str:
    api = emulator.app("api")["client_id"]
    body.setdefault("audience", api)
    body.setdefault("client_id", emulator.app("spa")["client_id"])
    body.setdefault("scopes", ["user_impersonation"])
    return emulator.mint(user=user, **body)


def as_user(token: str, header: str = "X-User-Authorization") -> dict[str, str]:
    return {header: token if header == "X-MS-TOKEN-AAD-ACCESS-TOKEN" else f"Bearer {token}"}


def problem(response: func.HttpResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_body()
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_body())
    assert body["code"] == code
    if status in (401, 403):
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    return body


def obo_exchanges(emulator: Any) -> int:
    return emulator.metrics()["token"].get(OBO_GRANT, 0)


def graph_calls(emulator: Any, path: str) -> int:
    return sum(count for key, count in emulator.metrics()["graph"].items() if key.endswith(path))


@pytest.mark.parametrize("header", ["X-User-Authorization", "Authorization", "X-MS-TOKEN-AAD-ACCESS-TOKEN"])
def test_profile_via_each_token_header(backend: Any, header: str) -> None:
    response = call("get-profile", as_user(user_token(backend), header))
    assert response.status_code == 200, response.get_body()
    profile = json.loads(response.get_body())
    assert profile["userPrincipalName"] == MIRA
    assert profile["displayName"] and "@odata.context" not in profile
    assert response.headers["X-Correlation-Id"]


def test_v1_token_is_accepted(backend: Any) -> None:
    token = user_token(backend, version="1.0")
    assert call("get-profile", as_user(token)).status_code == 200


def test_photo_and_no_photo(backend: Any) -> None:
    response = call("get-profile/photo", as_user(user_token(backend)))
    assert response.status_code == 200
    assert response.mimetype.startswith("image/") and len(response.get_body()) > 0
    problem(call("get-profile/photo", as_user(user_token(backend, SAM))), 404, "photo_not_found")


def test_the_same_token_five_times_costs_one_exchange(backend: Any) -> None:
    token = user_token(backend)
    for _ in range(5):
        assert call("get-profile", as_user(token)).status_code == 200
    assert obo_exchanges(backend) == 1
    # another user gets their own exchange (and their own profile)
    other = call("get-profile", as_user(user_token(backend, SAM)))
    assert json.loads(other.get_body())["userPrincipalName"] == SAM
    assert obo_exchanges(backend) == 2


def test_two_tokens_of_one_user_cost_two_exchanges(backend: Any) -> None:
    first, second = user_token(backend), user_token(backend)
    assert first != second
    for token in (first, second, first, second):
        assert call("get-profile", as_user(token)).status_code == 200
    assert obo_exchanges(backend) == 2


def test_a_password_only_token_never_reuses_what_an_mfa_sign_in_earned(backend: Any) -> None:
    """The Conditional Access bypass this cache once allowed: Lena's policy demands MFA for Graph."""
    with_mfa = user_token(backend, LENA, claims={"amr": ["pwd", "mfa"]})
    assert call("get-profile", as_user(with_mfa)).status_code == 200
    password_only = user_token(backend, LENA, claims={"amr": ["pwd"]})
    response = call("get-profile", as_user(password_only))
    body = problem(response, 401, "interaction_required")
    assert "capolids" in body["claims"] and 'error="insufficient_claims"' in response.headers["WWW-Authenticate"]
    assert obo_exchanges(backend) == 2
    # The MFA token itself keeps working from the cache.
    assert call("get-profile", as_user(with_mfa)).status_code == 200
    assert obo_exchanges(backend) == 2


def test_fifty_concurrent_first_calls_cost_one_exchange(backend: Any) -> None:
    backend.fault(endpoint="token", latency_ms=300, count=1)  # keep the first exchange in flight
    token = user_token(backend)
    start = threading.Barrier(50)

    def one(_: int) -> int:
        start.wait()
        return call("get-profile", as_user(token)).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses == [200] * 50
    assert obo_exchanges(backend) == 1


def test_expired_token(backend: Any) -> None:
    body = problem(call("get-profile", as_user(user_token(backend, expires_in=-300))), 401, "token_expired")
    assert "expired" in body["detail"]
    assert obo_exchanges(backend) == 0


def test_wrong_audience(backend: Any) -> None:
    token = user_token(backend, audience="https://graph.microsoft.com", scopes=["User.Read"])
    body = problem(call("get-profile", as_user(token, "Authorization")), 401, "invalid_token")
    assert "X-User-Authorization" in body["detail"]


def test_missing_scope(backend: Any) -> None:
    token = user_token(backend, claims={"scp": "something_else"})
    response = call("get-profile", as_user(token))
    problem(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_app_only_token_is_refused(backend: Any) -> None:
    daemon = backend.app("daemon")["client_id"]
    token = backend.mint(client_id=daemon, audience=backend.app("api")["client_id"])
    problem(call("get-profile", as_user(token)), 403, "insufficient_scope")


def test_consent_revoked(backend: Any) -> None:
    api = backend.app("api")["client_id"]
    backend.consent(client_id=api, resource="https://graph.microsoft.com", granted=False)
    body = problem(call("get-profile", as_user(user_token(backend))), 403, "consent_required")
    settings = services.current().settings
    assert body["consentUrl"].startswith(f"{settings.authority}/adminconsent?client_id={api}")
    assert "AADSTS65001" in body["detail"]


def test_consent_revoked_while_a_token_is_cached(backend: Any) -> None:
    cached = user_token(backend)
    assert call("get-profile", as_user(cached)).status_code == 200
    api = backend.app("api")["client_id"]
    backend.consent(client_id=api, resource="https://graph.microsoft.com", granted=False)
    body = problem(call("get-profile", as_user(user_token(backend))), 403, "consent_required")
    assert "AADSTS65001" in body["detail"]
    assert obo_exchanges(backend) == 2


def test_mfa_user_gets_a_claims_challenge(backend: Any) -> None:
    response = call("get-profile", as_user(user_token(backend, LENA)))
    body = problem(response, 401, "interaction_required")
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in challenge
    encoded = re.search(r'claims="([^"]+)"', challenge).group(1)
    claims = json.loads(base64.b64decode(encoded))
    assert "access_token" in claims
    assert json.loads(body["claims"]) == claims


@pytest.mark.parametrize(("status", "retry_after"), [(503, 2), (429, 7)])
def test_identity_provider_failures(backend: Any, status: int, retry_after: int) -> None:
    backend.fault(endpoint="token", status=status, retry_after=retry_after, count=1)
    response = call("get-profile", as_user(user_token(backend)))
    problem(response, 503, "identity_unavailable")
    assert response.headers["Retry-After"] == str(retry_after)


def test_identity_provider_recovers_after_retry_after(backend: Any) -> None:
    backend.fault(endpoint="token", status=503, retry_after=1, count=1)
    token = user_token(backend)
    problem(call("get-profile", as_user(token)), 503, "identity_unavailable")
    time.sleep(1.2)
    assert call("get-profile", as_user(token)).status_code == 200


def test_jwks_unavailable_with_cold_cache(backend: Any) -> None:
    backend.fault(endpoint="discovery", status=503, count=10)
    problem(call("get-profile", as_user(user_token(backend))), 503, "identity_unavailable")


def test_graph_transient_errors_are_retried(backend: Any) -> None:
    backend.fault(endpoint="graph", status=503, count=1)
    backend.fault(endpoint="graph", status=429, retry_after=1, count=1)
    response = call("get-profile", as_user(user_token(backend)))
    assert response.status_code == 200, response.get_body()
    assert graph_calls(backend, "/me") == 3


def test_graph_outage_is_graph_unavailable(backend: Any) -> None:
    backend.fault(endpoint="graph", status=503, count=50)
    problem(call("get-profile", as_user(user_token(backend))), 503, "graph_unavailable")
    assert graph_calls(backend, "/me") == 4  # bounded retries


def test_graph_throttling_beyond_the_budget(backend: Any) -> None:
    svc = services.current()
    services.install(dataclasses.replace(svc, graph=GraphClient(svc.settings, budget_seconds=2.5)))
    backend.fault(endpoint="graph", status=429, retry_after=1, count=50)
    started = time.monotonic()
    response = call("get-profile", as_user(user_token(backend)))
    problem(response, 429, "graph_throttled")
    assert response.headers["Retry-After"] == "1"
    assert time.monotonic() - started < 5


def test_key_rotation_mid_run(backend: Any) -> None:
    before = user_token(backend)
    assert call("get-profile", as_user(before)).status_code == 200
    rotated = backend.rotate_keys()
    after = user_token(backend)
    assert json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"] == rotated["kid"]
    assert call("get-profile", as_user(after)).status_code == 200
    if rotated["previous_kid"] in rotated["published"]:
        assert call("get-profile", as_user(before)).status_code == 200


def test_config(backend: Any) -> None:
    body = json.loads(call("config").get_body())
    assert body["authority"] == backend.authority
    assert body["apiScope"] == backend.api_scope
    assert body["knownAuthorities"] == [backend.entra_url.split("://")[1]]


def test_diagnostics(backend: Any) -> None:
    token = user_token(backend)
    response = call("diagnostics", as_user(token))
    text = response.get_body().decode()
    report = json.loads(text)
    assert report["token"]["valid"] is True
    assert report["token"]["claims"]["oid"] == backend.user(MIRA)["oid"]
    assert report["jwks"]["reachable"] is True and report["graph"]["reachable"] is True
    assert token not in text and backend.app("api")["client_secret"] not in text


def test_debug_logs_hold_no_token(backend: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = user_token(backend)
    assert call("get-profile", as_user(token)).status_code == 200
    call("get-profile/photo", as_user(token))
    call("get-profile", as_user(user_token(backend, LENA)))
    call("get-profile", as_user(user_token(backend, expires_in=-300)))
    text = caplog.text
    assert "event=obo_exchange" in text and "event=graph_call" in text
    assert not JWT_RE.search(text)
    assert token not in text
    assert backend.app("api")["client_secret"] not in text
