"""Fixtures: a clean environment for `function_app` settings and fresh process-wide singletons."""
from __future__ import annotations

from typing import Iterator

import pytest

from function_app import graph, obo, settings
from function_app.auth import request as auth_request

from tests.unit.function_app.support import base_env


def reset_singletons() -> None:
    settings.reset_settings()
    auth_request.reset_validator()
    obo.reset_obo_client()
    graph.reset_graph_client()


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
