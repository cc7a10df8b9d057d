"""The product app behind the host's App Service authentication, with real tokens from the Entra emulator."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, emulator_app_env, start_host

BASIC_APP = Path(__file__).parent / "apps" / "basic"


def _user_token(emulator: Any, **extra: Any) -> str:
    env = emulator_app_env(emulator)
    body = {"user": emulator.config["users"][0]["upn"], "client_id": env["SPA_CLIENT_ID"],
            "audience": env["API_CLIENT_ID"], "scopes": ["user_impersonation"], **extra}
    return emulator.mint(**body)


def _headers(token: str) -> dict[str, str]:
    # What the SPA sends: the user's API token in both headers (see docs/architecture.md).
    return {"Authorization": f"Bearer {token}", "X-User-Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def basic_host(emulator: Any) -> Iterator[HostHandle]:
    handle = start_host(BASIC_APP, env=emulator_app_env(emulator), auth_settings=AUTH_SETTINGS)
    yield handle
    handle.stop()


def test_emulator_token_gives_app_service_principal(emulator: Any, basic_host: HostHandle,
                                                    http: requests.Session) -> None:
    user = emulator.config["users"][0]
    body = http.get(basic_host.api("whoami"), headers=_headers(_user_token(emulator))).json()
    assert body["id"] == user["oid"]
    assert body["name"].lower() == user["upn"].lower()
    assert body["idp"] == "aad"
    claims = {c["typ"]: c["val"] for c in body["principal"]["claims"]}
    assert claims["http://schemas.microsoft.com/identity/claims/tenantid"] == emulator.tenant_id
    assert claims["http://schemas.microsoft.com/identity/claims/scope"] == "user_impersonation"


def test_emulator_v1_token_is_accepted(emulator: Any, basic_host: HostHandle, http: requests.Session) -> None:
    response = http.get(basic_host.api("whoami"), headers=_headers(_user_token(emulator, version="1.0")))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"claims": {"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200,
                     "iat": int(time.time()) - 7200}}, 401, "token_expired"),
        ({"audience": "https://graph.microsoft.com", "scopes": ["User.Read"]}, 401, "invalid_token"),
        ({"claims": {"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"}}, 401, "invalid_token"),
    ],
)
def test_emulator_tokens_that_app_service_would_refuse(
        emulator: Any, basic_host: HostHandle, http: requests.Session,
        override: dict[str, Any], status: int, code: str) -> None:
    response = http.get(basic_host.api("whoami"), headers=_headers(_user_token(emulator, **override)))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_client_app_outside_allowed_applications_is_forbidden(
        emulator: Any, basic_host: HostHandle, http: requests.Session) -> None:
    token = _user_token(emulator, claims={"azp": "00000000-1111-2222-3333-444444444444"})
    response = http.get(basic_host.api("whoami"), headers=_headers(token))
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_token"


def test_auth_me_with_emulator_token(emulator: Any, basic_host: HostHandle, http: requests.Session) -> None:
    response = http.get(f"{basic_host.url}/.auth/me", headers=_headers(_user_token(emulator)))
    assert response.status_code == 200
    (entry,) = response.json()
    assert entry["provider_name"] == "aad"
    assert entry["user_id"].lower() == emulator.config["users"][0]["upn"].lower()


def test_product_app_through_the_host(emulator: Any, app_host: HostHandle, http: requests.Session) -> None:
    assert app_host.auth and app_host.durable
    # Excluded path: public settings without a token.
    config = http.get(app_host.api("config"))
    assert config.status_code == 200
    assert config.json()["clientId"] == emulator_app_env(emulator)["SPA_CLIENT_ID"]
    # Protected: App Service authentication answers before the function does.
    missing = http.get(app_host.api("get-profile"))
    assert missing.status_code == 401 and missing.json()["code"] == "missing_token"
    # A real user token goes all the way: validation, OBO, Graph.
    profile = http.get(app_host.api("get-profile"), headers=_headers(_user_token(emulator)))
    assert profile.status_code == 200, profile.text
    assert profile.json()["userPrincipalName"].lower() == emulator.config["users"][0]["upn"].lower()
    # Forged principals never reach the app.
    forged = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": []}).encode()).decode()
    response = http.get(app_host.api("get-profile"), headers={"X-MS-CLIENT-PRINCIPAL": forged,
                                                              "X-MS-CLIENT-PRINCIPAL-ID": "x"})
    assert response.status_code == 401
