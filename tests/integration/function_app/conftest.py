"""The back end against the Entra ID + Graph emulators over HTTPS, with real MSAL."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from function_app import services, settings


def _reset() -> None:
    services.reset()


@pytest.fixture
def backend(fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """App settings pointed at the (freshly reset) emulator; services built afresh from them."""
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
