"""Durable functions run through the host: the durable client binding, the runtime's HTTP API, shutdown."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from tests.fixtures.host import AUTH_SETTINGS, start_host
from tests.integration.host.issuer import LocalIssuer

APP = Path(__file__).parent / "apps" / "durable"


def _wait_for_completion(http: requests.Session, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = http.get(url, headers=headers).json()
        if body["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"orchestration did not finish: {body}")


def test_orchestration_started_over_http_completes(tmp_path: Path, http: requests.Session) -> None:
    handle = start_host(APP, auth=False, state_dir=tmp_path / "durable")
    try:
        assert handle.durable is True
        triggers = {f["name"]: f["trigger"] for f in handle.functions}
        assert triggers["greetings"] == "orchestrationTrigger"
        assert triggers["say_hello"] == "activityTrigger"
        started = http.post(handle.api("greetings"), json=["Ada", "Grace"])
        assert started.status_code == 202
        instance = started.json()["id"]
        body = _wait_for_completion(http, handle.api(f"greetings/{instance}"))
        assert body == {"runtimeStatus": "Completed", "output": ["Hello Ada", "Hello Grace"]}
        assert handle.stop() == 0
    finally:
        handle.stop()
    # State lives where --state-dir says.
    assert any((tmp_path / "durable").iterdir())


def test_durable_client_reaches_runtime_behind_authentication(tmp_path: Path, http: requests.Session) -> None:
    issuer = LocalIssuer().start()
    handle = start_host(APP, env=issuer.env(), auth_settings=AUTH_SETTINGS, state_dir=tmp_path / "durable")
    try:
        assert handle.auth and handle.durable
        assert http.post(handle.api("greetings"), json=["Ada"]).status_code == 401
        headers = {"Authorization": f"Bearer {issuer.mint()}"}
        started = http.post(handle.api("greetings"), json=["Ada"], headers=headers)
        assert started.status_code == 202
        body = _wait_for_completion(http, handle.api(f"greetings/{started.json()['id']}"), headers)
        assert body["output"] == ["Hello Ada"]
    finally:
        handle.stop()
        issuer.stop()
