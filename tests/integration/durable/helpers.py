"""Shared helpers for the report's integration tests (emulator over HTTPS, real MSAL OBO)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.fixtures.host import emulator_app_env

PRIYA = "priya.natarajan@larkspur.example"
MIRA = "mira.okafor@larkspur.example"
LENA = "lena.hoffmann@larkspur.example"  # a conditional-access policy demands MFA for Graph


def user_token(emulator: Any, upn: str) -> str:
    """What the SPA sends: a v2 token for the API's user_impersonation scope."""
    return emulator.mint(user=upn, client_id=emulator.app("spa")["client_id"],
                         audience=emulator.app("api")["client_id"], scopes=["user_impersonation"])


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-User-Authorization": f"Bearer {token}"}


@pytest.fixture
def app_settings(fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The product's settings pointed at the emulator, for code running in this test process."""
    from function_app import services

    env = {**emulator_app_env(fresh_emulator), "TOKEN_CACHE": "memory"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    services.reset()
    yield env
    services.reset()
