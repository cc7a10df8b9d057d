"""The local host serves a v2-model app's HTTP triggers like the Functions host does."""
from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.fixtures.host import HostHandle, start_host

APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def host() -> Iterator[HostHandle]:
    handle = start_host(APP, auth=False, env={"HOST_TEST_OVERRIDDEN": "from-environment"})
    yield handle
    handle.stop()


def test_prints_url_and_functions(host: HostHandle) -> None:
    assert host.url.startswith("http://127.0.0.1:")
    names = {f["name"] for f in host.functions}
    assert {"echo", "get_item", "latest_item", "whoami", "slow"} <= names
    echo = next(f for f in host.functions if f["name"] == "echo")
    assert echo["url"] == f"{host.url}/api/echo"
    assert echo["methods"] == ["GET", "POST"]
    assert host.auth is False and host.durable is False


def test_request_reaches_function_with_method_url_query_headers_and_body(
        host: HostHandle, http: requests.Session) -> None:
    response = http.post(f"{host.url}/api/echo?a=1&b=two", data=b'{"x": 1}',
                         headers={"Content-Type": "application/json", "X-Thing": "value"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["url"] == f"{host.url}/api/echo?a=1&b=two"
    assert seen["params"] == {"a": "1", "b": "two"}
    assert seen["headers"]["x-thing"] == "value"
    assert seen["body"] == '{"x": 1}'


def test_route_matching_is_case_insensitive(host: HostHandle, http: requests.Session) -> None:
    assert http.get(f"{host.url}/API/Echo").status_code == 200


def test_literal_route_wins_over_parameter_and_constraints_apply(host: HostHandle, http: requests.Session) -> None:
    assert http.get(f"{host.url}/api/items/latest").json() == {"kind": "latest"}
    assert http.get(f"{host.url}/api/items/42").json() == {"kind": "item", "id": "42"}
    # `{id:int}` does not match a word, and no other template does.
    assert http.get(f"{host.url}/api/items/abc").status_code == 404


def test_optional_route_parameter(host: HostHandle, http: requests.Session) -> None:
    assert http.get(f"{host.url}/api/files/report").json() == {"name": "report"}
    assert http.get(f"{host.url}/api/files/report/v2").json() == {"name": "report", "version": "v2"}
    # Route values are decoded once; an encoded slash stays inside its segment.
    assert http.get(f"{host.url}/api/files/a%2Fb%2520c").json() == {"name": "a/b%20c"}


def test_unknown_route_is_404_and_wrong_method_is_405(host: HostHandle, http: requests.Session) -> None:
    assert http.get(f"{host.url}/api/nothing-here").status_code == 404
    assert http.get(f"{host.url}/echo").status_code == 404  # functions live under the route prefix
    response = http.put(f"{host.url}/api/items/7")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "DELETE"}
    assert http.delete(f"{host.url}/api/items/7").status_code == 204


def test_response_status_headers_mimetype_and_binary_body(host: HostHandle, http: requests.Session) -> None:
    response = http.get(f"{host.url}/api/binary")
    assert response.status_code == 200
    assert response.content == bytes(range(256))
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Custom"] == "yes"
    text = http.get(f"{host.url}/api/text")
    assert text.text == "plain text"
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", ["boom", "async-boom"])
def test_failing_function_is_generic_500_without_details(
        host: HostHandle, http: requests.Session, path: str) -> None:
    response = http.get(f"{host.url}/api/{path}")
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["status"] == 500
    # The details are in the host's log for whoever runs it.
    deadline = time.monotonic() + 5
    while "Traceback" not in host.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Traceback" in host.logs()


def test_context_argument_is_passed(host: HostHandle, http: requests.Session) -> None:
    body = http.get(f"{host.url}/api/context").json()
    assert body["function_name"] == "with_context"
    assert len(body["invocation_id"]) == 36


def test_settings_file_fills_environment_without_overriding(host: HostHandle, http: requests.Session) -> None:
    assert http.get(f"{host.url}/api/settings/HOST_TEST_FROM_FILE").json() == {"value": "from-local-settings"}
    assert http.get(f"{host.url}/api/settings/HOST_TEST_OVERRIDDEN").json() == {"value": "from-environment"}


def test_client_principal_headers_pass_through_when_auth_is_off(host: HostHandle, http: requests.Session) -> None:
    fake = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": []}).encode()).decode()
    body = http.get(f"{host.url}/api/whoami", headers={"X-MS-CLIENT-PRINCIPAL": fake,
                                                        "X-MS-CLIENT-PRINCIPAL-ID": "someone"}).json()
    assert body["id"] == "someone"
    assert body["principal"] == {"auth_typ": "aad", "claims": []}


def test_slow_sync_function_does_not_block_others(host: HostHandle, http: requests.Session) -> None:
    def call(path: str) -> float:
        session = requests.Session()
        session.trust_env = False
        started = time.monotonic()
        assert session.get(f"{host.url}/api/{path}").status_code == 200
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        slow = pool.submit(call, "slow?seconds=2.5")
        time.sleep(0.2)
        fast = pool.submit(call, "echo")
        assert fast.result() < 1.5
        assert not slow.done()  # the fast call came back while the slow one was still running
        assert slow.result() >= 2.5


def test_concurrent_sync_and_async_requests_run_in_parallel(host: HostHandle) -> None:
    def call(path: str) -> int:
        session = requests.Session()
        session.trust_env = False
        return session.get(f"{host.url}/api/{path}").status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        paths = ["slow?seconds=0.5"] * 16 + ["async-slow?seconds=0.5"] * 16
        statuses = list(pool.map(call, paths))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 32
    assert elapsed < 3.0  # 32 half-second calls, run serially, would take 16 s


def test_sigterm_stops_host_cleanly() -> None:
    handle = start_host(APP, auth=False)
    assert handle.stop() == 0
    assert "shutting down" in handle.logs()


def test_missing_entry_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    with pytest.raises(Exception) as excinfo:
        start_host(tmp_path, auth=False, env={"PYTHON_SCRIPT_FILE_NAME": "main.py"}, timeout=30)
    assert "main.py not found" in str(excinfo.value)


def test_function_timeout_from_host_json(tmp_path: Path, http: requests.Session) -> None:
    for name in ("main.py", "local.settings.example.json"):
        (tmp_path / name).write_text((APP / name).read_text())
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": "00:00:01"}))
    handle = start_host(tmp_path, auth=False)
    try:
        for path in ("slow?seconds=4", "async-slow?seconds=4"):
            started = time.monotonic()
            response = http.get(handle.api(path))
            assert response.status_code == 500
            assert response.json()["code"] == "function_timeout"
            assert time.monotonic() - started < 3
        assert http.get(handle.api("echo")).status_code == 200
    finally:
        handle.stop()


def test_shutdown_does_not_wait_for_a_stuck_sync_function(http: requests.Session) -> None:
    handle = start_host(APP, auth=False)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(http.get, handle.api("slow?seconds=60"))
        time.sleep(0.5)
        started = time.monotonic()
        assert handle.stop(timeout=20) == 0
        assert time.monotonic() - started < 15
        with pytest.raises(requests.RequestException):
            pending.result()
