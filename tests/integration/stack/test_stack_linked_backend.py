"""`python -m localdev run` takes Azure's path hop for hop: SWA CLI -> linked-backend emulation -> App Service
authentication emulation -> function. A caller of the app's port sends the user's token in X-User-Authorization
only, as in Azure; a direct caller of the Functions port still needs Authorization."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

from localdev.stack import Stack, StackInfo, StackOptions, free_port
from tests.fixtures.emulator import Emulator

USER = "daniel.reyes@larkspur.example"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    running = Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=free_port(),
                                 state_dir=tmp_path_factory.mktemp("stack-hop"), token_cache="memory", timeout=120))
    info = running.start()
    try:
        yield info
    finally:
        running.stop()


@pytest.fixture(scope="module")
def user_token(stack: StackInfo) -> str:
    emulator = Emulator(entra_url=stack.entra_url, graph_url=stack.graph_url, authority=stack.authority,
                        tenant_id=stack.tenant_id, ca_bundle=stack.ca_bundle, config=stack.emulator_config)
    return emulator.mint(user=USER, client_id=emulator.app("spa")["client_id"],
                         audience=emulator.app("api")["client_id"], scopes=["user_impersonation"])


def test_the_app_port_with_only_the_user_header_answers_the_profile(
        stack: StackInfo, user_token: str, http: requests.Session) -> None:
    response = http.get(f"{stack.app_url}/api/get-profile", headers={"X-User-Authorization": f"Bearer {user_token}"},
                        timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["userPrincipalName"] == USER


def test_the_app_port_without_a_user_token_names_the_user_header(stack: StackInfo, http: requests.Session) -> None:
    response = http.get(f"{stack.app_url}/api/get-profile", timeout=30)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_token"
    assert "X-User-Authorization" in problem["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_user_token_in_authorization_does_not_survive_the_hop(
        stack: StackInfo, user_token: str, http: requests.Session) -> None:
    # As in Azure: the Static Web App replaces Authorization, so only X-User-Authorization carries the user.
    response = http.get(f"{stack.app_url}/api/get-profile", headers={"Authorization": f"Bearer {user_token}"},
                        timeout=30)
    assert response.status_code == 401 and "X-User-Authorization" in response.json()["detail"]


def test_a_direct_caller_of_the_functions_port_needs_authorization(
        stack: StackInfo, user_token: str, http: requests.Session) -> None:
    only_user_header = http.get(f"{stack.api_url}/api/get-profile",
                                headers={"X-User-Authorization": f"Bearer {user_token}"}, timeout=30)
    assert only_user_header.status_code == 401 and only_user_header.json()["code"] == "missing_token"
    direct = http.get(f"{stack.api_url}/api/get-profile", headers={"Authorization": f"Bearer {user_token}"},
                      timeout=30)
    assert direct.status_code == 200, direct.text


def test_the_spa_is_told_not_to_send_authorization(stack: StackInfo, http: requests.Session) -> None:
    assert http.get(f"{stack.app_url}/api/config", timeout=30).json()["sendsAuthorization"] is False

