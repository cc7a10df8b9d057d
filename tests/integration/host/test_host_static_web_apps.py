"""The linked-backend hop in front of the local host, and the host's `azureStaticWebApps` provider.

Through the hop, every `/api/*` request reaches App Service authentication with the platform token in
`Authorization`, which the provider accepts. Sent straight to the host, a forged platform token is refused by
App Service authentication; a valid one passes it, and the product's function refuses it as a user token.
"""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import requests

from localdev.linked_backend.keys import PlatformKey
from localdev.stack import free_port
from tests.fixtures.host import AUTH_SETTINGS, REPO_ROOT, HostHandle, emulator_app_env, start_host
from tests.fixtures.linked_backend import (LinkedBackendHandle, platform_env, platform_token_for,
                                           start_linked_backend)
from tests.integration.host.issuer import LocalIssuer

BASIC_APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> PlatformKey:
    return PlatformKey.load_or_create(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def basic_host(issuer: LocalIssuer, key: PlatformKey) -> Iterator[HostHandle]:
    handle = start_host(BASIC_APP, env={**issuer.env(), **platform_env(key)}, auth_settings=AUTH_SETTINGS)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def hop(basic_host: HostHandle, key: PlatformKey) -> Iterator[LinkedBackendHandle]:
    handle = start_linked_backend(basic_host.url, key.private_key_path.parent.parent)
    yield handle
    handle.stop()


def _problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    return body


def test_through_the_hop_the_function_sees_the_platform_token_and_every_other_header(
        hop: LinkedBackendHandle, http: requests.Session, issuer: LocalIssuer) -> None:
    user = issuer.mint()
    response = http.get(f"{hop.url}/api/echo?x=1", headers={
        "Authorization": f"Bearer {user}", "X-User-Authorization": f"Bearer {user}", "X-Custom": "kept",
        "Host": "localhost:4280"})
    assert response.status_code == 200, response.text
    seen = {k.lower(): v for k, v in response.json()["headers"].items()}
    scheme, platform = seen["authorization"].split()
    assert scheme == "Bearer" and platform != user
    claims = jwt.decode(platform, options={"verify_signature": False})
    assert claims["iss"] == "https://localhost:4280/.auth" == hop.issuer and claims["aud"] == hop.audience
    assert seen["x-user-authorization"] == f"Bearer {user}" and seen["x-custom"] == "kept"
    assert seen["x-forwarded-host"] == "localhost:4280" and seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    # App Service authentication accepted it through the azureStaticWebApps provider.
    assert seen["x-ms-client-principal-idp"] == "azureStaticWebApps"


def test_through_the_hop_app_service_authentication_names_the_static_web_app(
        hop: LinkedBackendHandle, http: requests.Session) -> None:
    body = http.get(f"{hop.url}/api/whoami").json()  # no user token at all: the platform token still passes
    assert body["idp"] == "azureStaticWebApps"
    assert body["principal"]["auth_typ"] == "azureStaticWebApps"
    claims = {c["typ"]: c["val"] for c in body["principal"]["claims"]}
    assert claims["iss"] == "https://localhost:4280/.auth"
    assert json.loads(base64.b64decode(claims["prn"]))["userRoles"] == ["anonymous"]


def test_a_backend_that_does_not_answer_is_a_problem(http: requests.Session, tmp_path: Path) -> None:
    dead = start_linked_backend(f"http://127.0.0.1:{free_port()}", tmp_path)
    try:
        _problem(http.get(f"{dead.url}/api/whoami"), 502, "backend_unavailable")
    finally:
        dead.stop()


@pytest.mark.parametrize("forgery", ["wrong key", "wrong audience", "expired"])
def test_forged_platform_tokens_straight_to_the_host_are_refused(
        basic_host: HostHandle, key: PlatformKey, http: requests.Session, tmp_path: Path, forgery: str) -> None:
    if forgery == "wrong key":
        token = platform_token_for(PlatformKey.load_or_create(tmp_path), basic_host.url)
    elif forgery == "wrong audience":
        token = platform_token_for(key, "http://127.0.0.1:1")
    else:
        token = platform_token_for(key, basic_host.url, issued=time.time() - 3600)
    response = http.get(basic_host.api("whoami"), headers={"Authorization": f"Bearer {token}"})
    _problem(response, 401, "token_expired" if forgery == "expired" else "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_platform_token_straight_to_the_host_passes_app_service_authentication(
        basic_host: HostHandle, key: PlatformKey, http: requests.Session) -> None:
    token = platform_token_for(key, basic_host.url)
    body = http.get(basic_host.api("whoami"), headers={"Authorization": f"Bearer {token}"}).json()
    assert body["idp"] == "azureStaticWebApps"


@pytest.fixture(scope="module")
def product_host(emulator: Any, key: PlatformKey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostHandle]:
    handle = start_host(REPO_ROOT, env={**emulator_app_env(emulator), **platform_env(key)},
                        state_dir=tmp_path_factory.mktemp("durable"))
    yield handle
    handle.stop()


def test_the_function_refuses_the_platform_token_as_a_user_token(
        product_host: HostHandle, key: PlatformKey, http: requests.Session) -> None:
    token = platform_token_for(key, product_host.url)
    response = http.get(product_host.api("get-profile"), headers={"Authorization": f"Bearer {token}"})
    body = _problem(response, 401, "invalid_token")
    # The function's answer, not App Service authentication's: it names the header the user's token goes in.
    assert "X-User-Authorization" in body["detail"] and "Static Web Apps" in body["detail"]
    assert token not in response.text
