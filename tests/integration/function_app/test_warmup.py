"""The warmup function does what the first requests of a new instance would otherwise do one after another."""
from __future__ import annotations

import time
from typing import Any

import pytest

import function_app
from function_app import services
from tests.integration.function_app.test_profile_api import as_user, call, user_token
from tests.unit.function_app.support import registered_functions


def upstream(emulator: Any) -> dict[str, int]:
    metrics = emulator.metrics()
    return {"discovery": metrics["discovery"], "jwks": metrics["jwks"]}


def test_the_app_registers_a_warmup_function() -> None:
    triggers = {fn.get_function_name(): fn.get_trigger().type for fn in registered_functions(function_app.app)}
    assert triggers["warmup"] == "warmupTrigger"


def test_after_warm_up_a_first_request_fetches_no_metadata(backend: Any) -> None:
    assert upstream(backend) == {"discovery": 0, "jwks": 0}
    services.warm_up()
    warmed = upstream(backend)
    assert warmed["discovery"] >= 1 and warmed["jwks"] >= 1
    assert call("get-profile", as_user(user_token(backend))).status_code == 200
    assert upstream(backend) == warmed


def test_a_warm_up_that_fails_is_logged_and_the_first_request_retries(backend: Any,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    backend.fault(endpoint="discovery", status=503, count=10)
    services.warm_up()  # never raises
    assert "event=warmup_step_failed" in caplog.text
    backend.admin("DELETE", "/_emulator/faults")
    # The failed key fetch is remembered for its back-off (docs/architecture.md, "Signing keys when the
    # identity provider fails"): a request inside the window is told when to retry; the first one after it
    # fetches the keys.
    early = call("get-profile", as_user(user_token(backend)))
    if early.status_code == 503:
        retry_after = int(early.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        time.sleep(retry_after)
    assert call("get-profile", as_user(user_token(backend))).status_code == 200


def test_warm_up_with_broken_settings_is_skipped_quietly(backend: Any, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("API_CLIENT_ID")
    services.reset()
    services.warm_up()
    assert "event=warmup_skipped" in caplog.text and "setting=API_CLIENT_ID" in caplog.text
