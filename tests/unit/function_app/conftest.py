"""Fixtures: a clean environment for `function_app` settings, services built afresh from it, an in-process
identity provider and a memory token store."""
from __future__ import annotations

from typing import Iterator

import pytest

from function_app import services, settings
from function_app.token_cache.memory import MemoryTokenStore
from tests.unit.function_app.support import FakeIdentityProvider, base_env


def reset_singletons() -> None:
    services.reset()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The base settings in os.environ (everything else the app knows is unset); tweak with setenv/delenv."""
    for name in settings.KNOWN_SETTINGS + ("REQUESTS_CA_BUNDLE_UNUSED",):
        monkeypatch.delenv(name, raising=False)
    for name, value in base_env().items():
        monkeypatch.setenv(name, value)
    reset_singletons()
    yield monkeypatch
    reset_singletons()


@pytest.fixture
def idp() -> FakeIdentityProvider:
    """An in-process identity provider for MSAL (token endpoint, discovery), recording every request."""
    return FakeIdentityProvider()


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()
