"""The product app served by the local Functions host (App Service auth emulation on), over real HTTP."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, emulator_app_env, start_host


@pytest.fixture(scope="module")
def product_host(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostHandle]:
    env = emulator_app_env(emulator) | {"DIAGNOSTICS_ENABLED": "true"}
    handle = start_host(env=env, auth_settings=AUTH_SETTINGS, state_dir=tmp_path_factory.mktemp("durable"))
    yield handle
    handle.stop()


def spa_headers(emulator: Any, user: str = "mira.okafor@larkspur.example") -> dict[str, str]:
    env = emulator_app_env(emulator)
    token = emulator.mint(user=user, client_id=env["SPA_CLIENT_ID"], audience=env["API_CLIENT_ID"],
                          scopes=["user_impersonation"])
    # What the SPA sends (docs/architecture.md, "Token headers").
    return {"Authorization": f"Bearer {token}", "X-User-Authorization": f"Bearer {token}"}


def test_profile_photo_config_and_diagnostics(emulator: Any, product_host: HostHandle,
                                              http: requests.Session) -> None:
    headers = spa_headers(emulator)
    profile = http.get(product_host.api("get-profile"), headers=headers, timeout=30)
    assert profile.status_code == 200, profile.text
    assert profile.json()["userPrincipalName"] == "mira.okafor@larkspur.example"
    assert profile.headers["X-Correlation-Id"]

    photo = http.get(product_host.api("get-profile/photo"), headers=headers, timeout=30)
    assert photo.status_code == 200 and photo.headers["Content-Type"].startswith("image/")

    config = http.get(product_host.api("config"), timeout=30).json()
    assert config["authority"] == emulator.authority and config["userTokenHeader"] == "X-User-Authorization"

    diagnostics = http.get(product_host.api("diagnostics"), headers=headers, timeout=30)
    assert diagnostics.json()["token"]["header"] == "X-User-Authorization"
    assert headers["X-User-Authorization"].split()[1] not in diagnostics.text


def test_errors_are_problem_json_through_the_host(emulator: Any, product_host: HostHandle,
                                                  http: requests.Session) -> None:
    headers = spa_headers(emulator, "lena.hoffmann@larkspur.example")
    response = http.get(product_host.api("get-profile"), headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "interaction_required"
    assert 'error="insufficient_claims"' in response.headers["WWW-Authenticate"]


def test_a_burst_of_anonymous_diagnostics_calls_makes_at_most_two_fetches_of_each_kind(
        fresh_emulator: Any, host_factory: Callable[..., HostHandle], tmp_path: Path) -> None:
    """`/api/diagnostics` is excluded from App Service authentication: 50 anonymous calls at once must not turn
    into 50 key refreshes and 50 Graph probes (function_app/diagnostics.py)."""
    host = host_factory(env=emulator_app_env(fresh_emulator) | {"DIAGNOSTICS_ENABLED": "true"},
                        auth_settings=AUTH_SETTINGS, state_dir=tmp_path / "durable")
    before = fresh_emulator.metrics()

    def one(_: int) -> requests.Response:
        own = requests.Session()
        own.trust_env = False
        try:
            return own.get(host.api("diagnostics"), timeout=30)
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(one, range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["jwks"]["reachable"] and r.json()["graph"]["reachable"] for r in responses)
    after = fresh_emulator.metrics()
    assert after["discovery"] - before["discovery"] <= 2
    assert after["jwks"] - before["jwks"] <= 2
    assert sum(after["graph"].values()) - sum(before["graph"].values()) <= 2
