"""The local host runs timer triggers on their NCRONTAB schedules and on request (`POST /admin/functions/{name}`)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import requests

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, HostStartError
from tests.fixtures.waiting import wait_until
from tests.integration.host.issuer import LocalIssuer

APP = Path(__file__).parent / "apps" / "timer"


def runs(http: requests.Session, host: HostHandle) -> dict[str, int]:
    return http.get(f"{host.url}/api/runs", timeout=10).json()


def test_timer_functions_run_on_schedule_on_startup_and_on_request(host_factory: Callable[..., HostHandle],
                                                                   http: requests.Session) -> None:
    host = host_factory(APP, auth=False, env={"TIMER_TEST_SCHEDULE": "0 0 0 1 1 *"})
    triggers = {f["name"]: f["trigger"] for f in host.functions}
    assert triggers["every_second"] == triggers["yearly"] == "timerTrigger"
    time.sleep(2.5)
    counts = runs(http, host)
    assert 2 <= counts["every_second"] <= 4
    assert counts["yearly"] == 1  # runOnStartup; its next occurrence is next January
    assert counts["from_setting"] == 0

    response = http.post(f"{host.url}/admin/functions/from_setting", json={"input": ""}, timeout=10)
    assert response.status_code == 202
    wait_until(lambda: runs(http, host)["from_setting"] > 0, seconds=10)  # 202 is accepted: the run follows
    time.sleep(0.3)
    assert runs(http, host)["from_setting"] == 1  # once, not again
    missing = http.post(f"{host.url}/admin/functions/nope", json={}, timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert "timer function every_second scheduled (* * * * * *" in host.logs()


def test_the_admin_endpoint_is_outside_app_service_authentication(host_factory: Callable[..., HostHandle],
                                                                  http: requests.Session) -> None:
    issuer = LocalIssuer().start()
    try:
        host = host_factory(APP, env={**issuer.env(), "TIMER_TEST_SCHEDULE": "0 0 0 1 1 *"},
                            auth_settings=AUTH_SETTINGS)
        assert http.get(f"{host.url}/api/runs", timeout=10).status_code == 401
        assert http.post(f"{host.url}/admin/functions/from_setting", timeout=10).status_code == 202
        assert http.post(f"{host.url}/admin/functionsX/from_setting", timeout=10).status_code == 401
    finally:
        issuer.stop()


def test_a_schedule_naming_a_missing_setting_stops_the_host(host_factory: Callable[..., HostHandle]) -> None:
    try:
        host_factory(APP, auth=False, env={"TIMER_TEST_SCHEDULE": ""})
    except HostStartError as exc:
        assert "TIMER_TEST_SCHEDULE" in str(exc)
    else:
        raise AssertionError("the host started with an unresolvable schedule")
