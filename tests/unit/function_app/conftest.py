"""Fixtures: a clean environment for `function_app` settings, and services built afresh from it."""
from __future__ import annotations

from typing import Iterator

import pytest

from function_app import services, settings

from tests.unit.function_app.support import base_env


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
