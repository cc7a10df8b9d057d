"""HTTP functions called the way the host calls them, with the identity provider and Graph in-process."""
from __future__ import annotations

import base64
import json
import logging
from typing import Any, Callable

import azure.functions as func
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import function_app
from function_app import services
from tests.unit.function_app.support import (API, AUTHORITY_HOST, SPA, TENANT, FakeIdentityProvider, Reply,
                                             Transport, b64url, install_services, mint, registered_functions,
                                             user_function)

PROFILE = {"@odata.context": "ctx", "id": "u1", "displayName": "Ana Souza",
           "userPrincipalName": "ana@larkspur.example"}


_functions: dict[str, Callable[[func.HttpRequest], func.HttpResponse]] = {}


def function(route: str) -> Callable[[func.HttpRequest], func.HttpResponse]:
    if route not in _functions:
        _functions[route] = user_function(function_app.app, route)
    return _functions[route]


def call(route: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest("GET", f"http://localhost/api/{route}", headers=headers or {}, body=b"")
    return function(route)(request)


def body(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())


class GraphFake:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.transport = Transport(self.handle)

    def handle(self, request: Any) -> Reply:
        if self.replies:
            return self.replies.pop(0)
        if request.url.split("?")[0].endswith("/me/photo/$value"):
            return Reply(200, content=b"\xff\xd8\xffJPEG", headers={"Content-Type": "image/jpeg"})
        return Reply(200, PROFILE)


@pytest.fixture
def stack(env: pytest.MonkeyPatch) -> tuple[FakeIdentityProvider, GraphFake]:
    idp, graph_fake = FakeIdentityProvider(), GraphFake()
    install_services(idp.transport, graph_fake.transport)
    return idp, graph_fake


def assert_problem(response: func.HttpResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = body(response)
    assert problem["code"] == code and problem["status"] == status
    assert problem["correlationId"] == response.headers["X-Correlation-Id"]
    assert "Traceback" not in response.get_body().decode()
    if status in (401, 403):
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    return problem


@pytest.mark.parametrize("header", ["X-User-Authorization", "Authorization", "X-MS-TOKEN-AAD-ACCESS-TOKEN"])
def test_get_profile_with_each_token_header(stack, header: str) -> None:
    value = mint() if header.startswith("X-MS-TOKEN") else f"Bearer {mint()}"
    response = call("get-profile", {header: value})
    assert response.status_code == 200, response.get_body()
    assert body(response) == {k: v for k, v in PROFILE.items() if k != "@odata.context"}
    assert response.headers["Cache-Control"] == "no-store"


def test_swa_platform_token_in_authorization_is_ignored_when_user_header_present(stack) -> None:
    swa_token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJzd2EifQ.c2ln"
    response = call("get-profile", {"X-User-Authorization": f"Bearer {mint()}", "Authorization": f"Bearer {swa_token}"})
    assert response.status_code == 200


def test_swa_platform_token_alone_explains_which_header_to_use(stack) -> None:
    swa_token = mint(iss="https://swa.azurestaticapps.net/", aud="https://swa.azurestaticapps.net")
    problem = assert_problem(call("get-profile", {"Authorization": f"Bearer {swa_token}"}), 401, "invalid_token")
    assert "X-User-Authorization" in problem["detail"]


def test_repeated_calls_cost_one_exchange(stack) -> None:
    idp, _ = stack
    token = mint()
    for _ in range(5):
        assert call("get-profile", {"X-User-Authorization": f"Bearer {token}"}).status_code == 200
    assert idp.obo_count() == 1


def test_photo(stack) -> None:
    response = call("get-profile/photo", {"X-User-Authorization": f"Bearer {mint()}"})
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg" and response.get_body().startswith(b"\xff\xd8")


def test_photo_not_found(stack) -> None:
    _, graph_fake = stack
    graph_fake.replies.append(Reply(404, {"error": {"code": "ImageNotFound"}}))
    assert_problem(call("get-profile/photo", {"X-User-Authorization": f"Bearer {mint()}"}), 404, "photo_not_found")


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "missing_token"),
    ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b'{"userId":"x"}').decode()}, 401, "missing_token"),
    ({"X-User-Authorization": "Bearer a b"}, 401, "invalid_token"),
    ({"X-User-Authorization": "Bearer " + "a" * 20000}, 431, "header_too_large"),
])
def test_request_errors(stack, headers: dict[str, str], status: int, code: str) -> None:
    problem = assert_problem(call("get-profile", headers), status, code)
    if code == "missing_token":
        assert call("get-profile", headers).headers["WWW-Authenticate"] == "Bearer"
    assert problem["type"].endswith(code)


def test_token_errors(stack) -> None:
    import time

    expired = mint(exp=int(time.time()) - 3600)
    response = call("get-profile", {"X-User-Authorization": f"Bearer {expired}"})
    assert_problem(response, 401, "token_expired")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    response = call("get-profile", {"X-User-Authorization": f"Bearer {mint(scp='User.Read')}"})
    assert_problem(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_consent_required_carries_the_admin_consent_url(stack) -> None:
    idp, _ = stack
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "suberror": "consent_required", "error_codes": [65001],
                                     "error_description": "AADSTS65001: consent"}))
    problem = assert_problem(call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"}), 403,
                             "consent_required")
    assert problem["consentUrl"] == f"{AUTHORITY_HOST}/{TENANT}/adminconsent?client_id={API}"


def test_interaction_required_challenge(stack) -> None:
    idp, _ = stack
    claims = '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}'
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [50076], "claims": claims,
                                     "error_description": "AADSTS50076: MFA"}))
    response = call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"})
    problem = assert_problem(response, 401, "interaction_required")
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in challenge
    encoded = challenge.split('claims="')[1].split('"')[0]
    assert base64.b64decode(encoded).decode() == claims == problem["claims"]


def test_graph_throttling_and_outage(stack) -> None:
    _, graph_fake = stack
    graph_fake.replies += [Reply(429, {}, {"Retry-After": "20"})]
    response = call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"})
    assert_problem(response, 429, "graph_throttled")
    assert response.headers["Retry-After"] == "20"
    graph_fake.replies += [Reply(503, {})] * 4
    assert_problem(call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"}), 503, "graph_unavailable")


def test_graph_rejecting_a_cached_token_triggers_one_fresh_exchange(stack) -> None:
    idp, graph_fake = stack
    token = mint()
    assert call("get-profile", {"X-User-Authorization": f"Bearer {token}"}).status_code == 200
    graph_fake.replies.append(Reply(401, {"error": {"code": "InvalidAuthenticationToken"}}))
    assert call("get-profile", {"X-User-Authorization": f"Bearer {token}"}).status_code == 200
    assert idp.obo_count() == 2


def test_identity_provider_down(stack) -> None:
    idp, _ = stack
    idp.jwks_status = 503
    assert_problem(call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"}), 503, "identity_unavailable")


def test_misconfigured_names_the_setting(env: pytest.MonkeyPatch) -> None:
    env.delenv("API_CLIENT_ID")
    problem = assert_problem(call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"}), 500, "misconfigured")
    assert problem["setting"] == "API_CLIENT_ID"


def test_unexpected_exception_is_a_bare_500(stack, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    def explode(token: str) -> Any:
        raise RuntimeError("secret internal state")

    monkeypatch.setattr(services.current().graph, "me", explode)
    response = call("get-profile", {"X-User-Authorization": f"Bearer {mint()}"})
    problem = assert_problem(response, 500, "internal_error")
    assert "secret internal state" not in response.get_body().decode()
    assert set(problem) == {"type", "title", "status", "code", "detail", "correlationId"}


def test_correlation_id_is_adopted_when_sane(stack) -> None:
    cid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert call("get-profile", {"x-correlation-id": cid}).headers["X-Correlation-Id"] == cid
    generated = call("get-profile", {"x-correlation-id": "<script>"}).headers["X-Correlation-Id"]
    assert generated != "<script>" and len(generated) == 36
    ok = call("get-profile", {"X-User-Authorization": f"Bearer {mint()}", "x-ms-client-request-id": cid})
    assert ok.status_code == 200 and ok.headers["X-Correlation-Id"] == cid


def test_config(env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTHORITY_HOST", "https://localhost:9443")
    response = call("config")
    assert response.status_code == 200
    assert body(response) == {
        "clientId": SPA,
        "authority": f"https://localhost:9443/{TENANT}",
        "apiScope": f"api://{API}/user_impersonation",
        "knownAuthorities": ["localhost:9443"],
        "userTokenHeader": "X-User-Authorization",
        "sendsAuthorization": False,
    }


def test_config_tells_the_spa_to_send_authorization_only_when_set(env: pytest.MonkeyPatch) -> None:
    # Behind a Static Web App (or the local linked-backend emulation) Authorization is replaced on the way.
    env.setenv("SPA_SENDS_AUTHORIZATION", "true")
    assert body(call("config"))["sendsAuthorization"] is True
    env.setenv("SPA_SENDS_AUTHORIZATION", "sometimes")
    services.reset()
    assert assert_problem(call("config"), 500, "misconfigured")["setting"] == "SPA_SENDS_AUTHORIZATION"


def test_config_without_spa_client_id(env: pytest.MonkeyPatch) -> None:
    env.delenv("SPA_CLIENT_ID")
    assert assert_problem(call("config"), 500, "misconfigured")["setting"] == "SPA_CLIENT_ID"


def test_diagnostics_off_by_default(stack) -> None:
    assert_problem(call("diagnostics"), 404, "not_found")


def test_diagnostics_report_presence_never_values(stack, env: pytest.MonkeyPatch) -> None:
    env.setenv("DIAGNOSTICS_ENABLED", "true")
    token = mint()
    response = call("diagnostics", {"X-User-Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    text = response.get_body().decode()
    report = json.loads(text)
    assert report["settings"]["CLIENT_SECRET"] is True and report["settings"]["REDIS_URL"] is False
    assert "unit-test-secret" not in text and token not in text
    assert report["token"]["valid"] is True and report["token"]["header"] == "X-User-Authorization"
    assert set(report["token"]["claims"]) <= {"aud", "iss", "tid", "oid", "scp", "azp", "appid", "ver", "exp",
                                              "nbf", "iat"}
    assert report["headers"]["X-User-Authorization"] == {"present": True, "carries": "entra_access_token"}
    assert report["headers"]["Authorization"] == {"present": False}
    assert report["jwks"]["reachable"] is True and report["jwks"]["keys"] == 1
    assert report["graph"]["reachable"] is True


def test_diagnostics_name_the_platform_token_in_authorization(stack, env: pytest.MonkeyPatch) -> None:
    # What a linked Static Web App sends: its own token in Authorization, the user's in X-User-Authorization.
    env.setenv("DIAGNOSTICS_ENABLED", "true")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = jwt.encode({"iss": "https://gentle-river-0123.azurestaticapps.net/.auth", "aud": "https://func",
                           "sub": "s", "exp": 2_000_000_000}, key, algorithm="RS256", headers={"kid": "k"})
    user = mint()
    response = call("diagnostics", {"Authorization": f"Bearer {platform}", "X-User-Authorization": f"Bearer {user}",
                                    "X-MS-CLIENT-PRINCIPAL": "e30="})
    text = response.get_body().decode()
    report = json.loads(text)
    assert report["headers"] == {
        "X-User-Authorization": {"present": True, "carries": "entra_access_token"},
        "Authorization": {"present": True, "carries": "static_web_apps_platform_token"},
        "X-MS-TOKEN-AAD-ACCESS-TOKEN": {"present": False},
        "X-MS-CLIENT-PRINCIPAL": {"present": True},
    }
    assert report["token"]["valid"] is True and report["token"]["header"] == "X-User-Authorization"
    assert platform not in text and user not in text
    report = body(call("diagnostics", {"Authorization": "Bearer not-a-jwt"}))
    assert report["headers"]["Authorization"] == {"present": True, "carries": "not_a_jwt"}


def test_diagnostics_explain_a_bad_token_and_broken_settings(stack, env: pytest.MonkeyPatch) -> None:
    env.setenv("DIAGNOSTICS_ENABLED", "true")
    report = body(call("diagnostics", {"Authorization": "Bearer not-a-jwt"}))
    assert report["token"] == {"valid": False, "code": "invalid_token", "detail": report["token"]["detail"]}
    env.delenv("TENANT_ID")
    services.reset()
    report = body(call("diagnostics"))
    assert report["settingsValid"] is False and report["settingsError"]["setting"] == "TENANT_ID"


def test_no_token_in_debug_logs(stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    idp, _ = stack
    token = mint()
    call("get-profile", {"X-User-Authorization": f"Bearer {token}"})
    idp.fail_with.append(Reply(400, {"error": "invalid_grant", "error_codes": [65001]}))
    call("get-profile", {"X-User-Authorization": f"Bearer {mint(oid='5b6c7d3e-1111-4a4a-9c9c-0123456789ab')}"})
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert caplog.records
    assert token not in text and "graph-token|" not in text and "rt|" not in text
    assert "unit-test-secret" not in text
    client_info = b64url({"uid": "0b6c7d3e-1111-4a4a-9c9c-0123456789ab", "utid": TENANT})
    assert client_info[:20] not in text


def test_openapi_description_is_served_and_lists_every_route() -> None:
    response = call("openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = body(response)
    routes = {f"/api/{fn.get_trigger().route}" for fn in registered_functions(function_app.app)
              if fn.get_trigger().type == "httpTrigger"}
    assert routes <= set(document["paths"]), routes - set(document["paths"])
