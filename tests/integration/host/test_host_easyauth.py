"""App Service authentication emulation in front of the host, configured from infra/auth/authsettings.json."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, start_host
from tests.integration.host.issuer import API_CLIENT_ID, USER_OID, LocalIssuer

APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def host(issuer: LocalIssuer) -> Iterator[HostHandle]:
    handle = start_host(APP, env=issuer.env(), auth_settings=AUTH_SETTINGS)
    yield handle
    handle.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["detail"]
    return body


def test_host_reports_auth_on(host: HostHandle) -> None:
    assert host.auth is True


def test_no_token_is_401_missing_token(host: HostHandle, http: requests.Session) -> None:
    response = http.get(host.api("whoami"))
    _assert_problem(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_valid_token_reaches_function_with_principal_headers(
        host: HostHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    body = http.get(host.api("whoami"), headers=_bearer(issuer.mint())).json()
    assert body["id"] == USER_OID
    assert body["name"] == "adele@contoso.test"
    assert body["idp"] == "aad"
    principal = body["principal"]
    assert principal["auth_typ"] == "aad"
    claims = {c["typ"]: c["val"] for c in principal["claims"]}
    assert claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] == USER_OID
    assert claims["aud"] == API_CLIENT_ID


def test_v1_token_with_identifier_uri_audience_is_accepted(
        host: HostHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    token = issuer.mint(version="1.0", aud=f"api://{API_CLIENT_ID}")
    body = http.get(host.api("whoami"), headers=_bearer(token)).json()
    assert body["id"] == USER_OID


@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        ({"exp": 1_000_000}, 401, "token_expired"),
        ({"aud": "https://graph.microsoft.com"}, 401, "invalid_token"),
        ({"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"}, 401, "invalid_token"),
        ({"azp": "not-the-spa"}, 403, "invalid_token"),
    ],
)
def test_bad_tokens_are_rejected_before_the_function(
        host: HostHandle, http: requests.Session, issuer: LocalIssuer,
        claims: dict[str, Any], status: int, code: str) -> None:
    response = http.get(host.api("whoami"), headers=_bearer(issuer.mint(**claims)))
    _assert_problem(response, status, code)
    if status == 401:
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_garbage_token_is_invalid(host: HostHandle, http: requests.Session) -> None:
    _assert_problem(http.get(host.api("whoami"), headers=_bearer("garbage")), 401, "invalid_token")


def test_forged_platform_headers_never_reach_the_function(
        host: HostHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    forged = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": [{"typ": "oid", "val": "x"}]}).encode())
    headers = {
        "X-MS-CLIENT-PRINCIPAL": forged.decode(), "X-MS-CLIENT-PRINCIPAL-ID": "attacker",
        "X-MS-CLIENT-PRINCIPAL-NAME": "attacker@evil.test", "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        "X-MS-TOKEN-AAD-ACCESS-TOKEN": issuer.mint(),
    }
    # With a valid token, the platform's headers replace the forged ones.
    body = http.get(host.api("whoami"), headers={**headers, **_bearer(issuer.mint())}).json()
    assert body["id"] == USER_OID and body["name"] == "adele@contoso.test"
    assert body["token_store"] is None
    # On an excluded path without a token, the forged headers are simply gone.
    body = http.get(host.api("config"), headers=headers).json()
    assert body == {"public": True, "principal_id": None}
    # And the token store header is no way in: the request stays unauthenticated.
    _assert_problem(http.get(host.api("whoami"), headers=headers), 401, "missing_token")


def test_excluded_paths_need_no_token_but_get_the_principal_when_valid(
        host: HostHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    assert http.get(host.api("config")).json() == {"public": True, "principal_id": None}
    assert http.get(host.api("config"), headers=_bearer(issuer.mint())).json()["principal_id"] == USER_OID
    # An invalid token on an excluded path is ignored rather than rejected.
    assert http.get(host.api("config"), headers=_bearer("garbage")).status_code == 200


def test_auth_me(host: HostHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    _assert_problem(http.get(f"{host.url}/.auth/me"), 401, "missing_token")
    _assert_problem(http.get(f"{host.url}/.auth/me", headers=_bearer(issuer.mint(exp=1_000_000))),
                    401, "token_expired")
    token = issuer.mint()
    response = http.get(f"{host.url}/.auth/me", headers=_bearer(token))
    assert response.status_code == 200
    (entry,) = response.json()
    assert entry["provider_name"] == "aad"
    assert entry["user_id"] == "adele@contoso.test"
    assert {"typ": "aud", "val": API_CLIENT_ID} in entry["user_claims"]
    assert token not in response.text


def test_unknown_route_still_needs_authentication(host: HostHandle, http: requests.Session) -> None:
    # As on App Service, authentication runs before routing: nothing about the app leaks to strangers.
    _assert_problem(http.get(host.api("does-not-exist")), 401, "missing_token")


def _host_with_action(tmp_path: Path, issuer: LocalIssuer, action: str, require: bool = True) -> HostHandle:
    document = json.loads(AUTH_SETTINGS.read_text())
    document["globalValidation"]["unauthenticatedClientAction"] = action
    document["globalValidation"]["requireAuthentication"] = require
    path = tmp_path / f"auth-{action}.json"
    path.write_text(json.dumps(document))
    return start_host(APP, env=issuer.env(), auth_settings=path)


@pytest.mark.parametrize("action", ["Return403", "RedirectToLoginPage", "AllowAnonymous"])
def test_unauthenticated_client_actions(tmp_path: Path, issuer: LocalIssuer, http: requests.Session,
                                        action: str) -> None:
    handle = _host_with_action(tmp_path, issuer, action)
    try:
        response = http.get(handle.api("whoami"), allow_redirects=False)
        if action == "Return403":
            _assert_problem(response, 403, "missing_token")
        elif action == "RedirectToLoginPage":
            assert response.status_code == 302
            location = response.headers["Location"]
            assert location.startswith(f"{issuer.authority_host}/{issuer.tenant_id}/oauth2/v2.0/authorize?")
            assert f"client_id={API_CLIENT_ID}" in location
            # Script callers get a 401 instead of a redirect, as on App Service.
            xhr = http.get(handle.api("whoami"), headers={"X-Requested-With": "XMLHttpRequest"},
                           allow_redirects=False)
            _assert_problem(xhr, 401, "missing_token")
        else:
            assert response.status_code == 200
            assert response.json()["id"] is None
            # A bad token is still refused even when anonymous callers are allowed.
            _assert_problem(http.get(handle.api("whoami"), headers=_bearer("garbage")), 401, "invalid_token")
    finally:
        handle.stop()


def test_env_switch_turns_emulation_off(issuer: LocalIssuer, http: requests.Session) -> None:
    handle = start_host(APP, env={**issuer.env(), "LOCALDEV_EASYAUTH": "off"}, auth_settings=AUTH_SETTINGS)
    try:
        assert handle.auth is False
        assert http.get(handle.api("whoami")).status_code == 200
    finally:
        handle.stop()


def test_missing_auth_values_stop_the_host_with_a_clear_message() -> None:
    with pytest.raises(Exception) as excinfo:
        start_host(APP, env={"API_CLIENT_ID": "", "TENANT_ID": ""}, auth_settings=AUTH_SETTINGS)
    assert "API_CLIENT_ID" in str(excinfo.value)


def test_cors_preflight_is_answered_before_authentication(host: HostHandle, http: requests.Session,
                                                          issuer: LocalIssuer) -> None:
    preflight = http.options(host.api("whoami"), headers={
        "Origin": "http://localhost:4280", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-user-authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, x-user-authorization"
    actual = http.get(host.api("whoami"), headers={"Origin": "http://localhost:4280", **_bearer(issuer.mint())})
    assert actual.status_code == 200
    assert actual.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"
    # Rejections carry the CORS header too, so the browser lets the SPA read the problem body.
    rejected = http.get(host.api("whoami"), headers={"Origin": "http://localhost:4280"})
    assert rejected.status_code == 401
    assert rejected.headers["Access-Control-Allow-Origin"] == "http://localhost:4280"
    other = http.get(host.api("config"), headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers
