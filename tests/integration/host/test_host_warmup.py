"""The local host runs the app's warmup function before it takes traffic, as Azure does for a new instance."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import requests

from tests.fixtures.host import HostHandle

APP = Path(__file__).parent / "apps" / "warmup"


def test_the_warmup_function_runs_before_the_host_is_ready(host_factory: Callable[..., HostHandle],
                                                           http: requests.Session) -> None:
    started = time.time()
    host = host_factory(APP, auth=False)
    ready = time.time()
    warmed_at = float(http.get(f"{host.url}/api/warmed", timeout=10).text)
    assert started < warmed_at <= ready
    assert "warmup function warmup took" in host.logs()


def test_a_failing_warmup_function_does_not_stop_the_host(host_factory: Callable[..., HostHandle],
                                                          http: requests.Session) -> None:
    host = host_factory(APP, auth=False, env={"WARMUP_TEST_FAIL": "1", "WARMUP_TEST_SECONDS": "0"})
    assert http.get(f"{host.url}/api/warmed", timeout=10).text == "None"
    assert "warmup function warmup failed (RuntimeError)" in host.logs()
