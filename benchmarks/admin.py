"""A small client for the emulator's admin API (`/_emulator/...`): config, tokens, faults, metrics."""
from __future__ import annotations

from typing import Any

import requests


class EmulatorAdmin:
    def __init__(self, entra_url: str, ca_bundle: str) -> None:
        self._base = entra_url.rstrip("/") + "/_emulator"
        self._session = requests.Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
        self._session.verify = ca_bundle

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, self._base + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def metrics(self) -> dict[str, Any]:
        return self._call("GET", "/metrics")

    def inject_latency(self, endpoint: str, latency_ms: int, count: int = 1_000_000) -> None:
        self._call("POST", "/faults", {"endpoint": endpoint, "latency_ms": latency_ms, "count": count})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def mint(self, user: str, client_id: str, audience: str, scopes: list[str], version: str | None = "2.0") -> str:
        """An access token; `version=None` gives the resource's own token version (Microsoft Graph: v1)."""
        body: dict[str, Any] = {"user": user, "client_id": client_id, "audience": audience, "scopes": scopes}
        if version is not None:
            body["version"] = version
        return self._call("POST", "/token", body)["access_token"]

    def close(self) -> None:
        self._session.close()


def count_requests(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Token, Graph and discovery requests between two metrics snapshots."""
    def total(snapshot: dict[str, Any], key: str) -> int:
        value = snapshot.get(key, 0)
        return sum(value.values()) if isinstance(value, dict) else int(value or 0)

    return {key: total(after, key) - total(before, key) for key in ("token", "graph", "discovery", "jwks")}
