"""A client for the emulator's admin and test API (`/_emulator/...`, docs/emulator.md), over HTTPS trusting only
the local CA. The test fixtures, the stack's browser tests and the benchmarks all use this one."""
from __future__ import annotations

from typing import Any

import requests


class EmulatorClient:
    def __init__(self, entra_url: str, ca_bundle: str, config: dict[str, Any] | None = None) -> None:
        self.entra_url = entra_url.rstrip("/")
        self.ca_bundle = ca_bundle
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE would otherwise override `verify`: trust exactly the local CA.
        self.session.trust_env = False
        self.session.verify = ca_bundle
        self._config = config

    # -- calls ----------------------------------------------------------------------------------------
    def admin_response(self, method: str, path: str, json_body: Any = None) -> requests.Response:
        if not path.startswith("/"):
            path = "/_emulator/" + path
        return self.session.request(method, self.entra_url + path, json=json_body, timeout=30)

    def admin(self, method: str, path: str, json: Any = None) -> Any:  # noqa: A002 - mirrors requests
        """Call the admin API; the decoded JSON, or raises for a non-2xx answer."""
        response = self.admin_response(method, path, json)
        response.raise_for_status()
        return response.json() if response.content else None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.admin("POST", path, body)

    # -- the tenant -----------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = self.admin("GET", "/_emulator/config")
        return self._config

    def app(self, name: str) -> dict[str, Any]:
        return next(a for a in self.config["apps"] if a["name"] == name)

    def client_id(self, app_name: str) -> str:
        return self.app(app_name)["client_id"]

    def user(self, key: str) -> dict[str, Any]:
        key = key.lower()
        return next(u for u in self.config["users"] if key in (u["oid"].lower(), u["upn"].lower()))

    # -- tokens, consent, faults, metrics -------------------------------------------------------------
    def mint(self, **body: Any) -> str:
        """POST /_emulator/token; e.g. mint(user=upn, audience=api_client_id, claims={"exp": 1})."""
        return self.admin("POST", "/_emulator/token", body)["access_token"]

    def consent(self, client: str | None = None, resource: str | None = None, scopes: list[str] | None = None,
                granted: bool = True, user: str | None = None, *, client_id: str | None = None,
                **more: Any) -> Any:
        """Grant or revoke permissions (`scopes`, or application `roles=[...]`); `client` names an app of the
        tenant (or is a client id)."""
        names = {a["name"] for a in self.config["apps"]}
        body: dict[str, Any] = {"client_id": client_id or (self.client_id(client) if client in names else client),
                                "resource": resource, "granted": granted, **more}
        if scopes is not None:
            body["scopes"] = scopes
        if user is not None:
            body["user"] = user
        return self.admin("POST", "/_emulator/consent", body)

    def fault(self, **spec: Any) -> dict[str, Any]:
        """Inject a failure, e.g. fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=3)."""
        answer = self.admin("POST", "/_emulator/faults", spec)
        return answer.get("fault", answer) if isinstance(answer, dict) else answer

    def inject_latency(self, endpoint: str, latency_ms: int, count: int = 1_000_000) -> None:
        self.fault(endpoint=endpoint, latency_ms=latency_ms, count=count)

    def clear_faults(self) -> None:
        self.admin("DELETE", "/_emulator/faults")

    def revoke(self, user: str) -> dict[str, Any]:
        return self.admin("POST", "/_emulator/revoke", {"user": user})

    def rotate_keys(self) -> dict[str, Any]:
        return self.admin("POST", "/_emulator/keys/rotate")

    def metrics(self) -> dict[str, Any]:
        return self.admin("GET", "/_emulator/metrics")

    def reset(self) -> None:
        self.admin("POST", "/_emulator/reset")

    def close(self) -> None:
        self.session.close()
