"""The back end against the Entra ID + Graph emulators over HTTPS, with real MSAL."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from function_app import graph, obo, settings
from function_app.auth import request as auth_request


def _reset() -> None:
    settings.reset_settings()
    auth_request.reset_validator()
    obo.reset_obo_client()
    graph.reset_graph_client()


@pytest.fixture
def backend(fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """App settings pointed at the (freshly reset) emulator; fresh process-wide singletons."""
    for name in settings.KNOWN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    api = fresh_emulator.app("api")
    values = {
        "API_CLIENT_ID": api["client_id"],
        "TENANT_ID": fresh_emulator.tenant_id,
        "AUTHORITY_HOST": fresh_emulator.entra_url,
        "GRAPH_BASE_URL": fresh_emulator.graph_url,
        "CA_BUNDLE": fresh_emulator.ca_bundle,
        "CLIENT_SECRET": api["client_secret"],
        "SPA_CLIENT_ID": fresh_emulator.app("spa")["client_id"],
        "DIAGNOSTICS_ENABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    # The machine-wide CA bundle must not be what makes HTTPS to the emulator work (or fail).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca-bundle.pem")
    _reset()
    yield fresh_emulator
    _reset()
