"""FUNCTIONS_WORKER_PROCESS_COUNT and PYTHON_THREADPOOL_THREAD_COUNT: the local host runs N worker processes on
one port, durable state stays in one place whichever process a request reaches, and the thread pool is bounded
as Azure bounds it."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.host import HostStartError, start_host
from tests.fixtures.waiting import wait_until

APPS = Path(__file__).parent / "apps"


def invocations(metrics_url: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(metrics_url + "/invocations", timeout=10) as response:
        return json.loads(response.read())["functions"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_worker_processes_share_the_port_and_both_serve(tmp_path: Path) -> None:
    handle = start_host(APPS / "basic", auth=False, extra_args=["--metrics"],
                        env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"})
    try:
        pids = [p["pid"] for p in handle.processes]
        assert len(set(pids)) == 2 and pids[0] == handle.process.pid
        for _ in range(40):  # a new connection each time: the kernel spreads them over the two processes
            with requests.Session() as fresh:
                fresh.trust_env = False
                assert fresh.get(handle.api("echo")).status_code == 200
        counts = [invocations(p["metrics_url"]).get("echo", {}).get("count", 0) for p in handle.processes]
        assert sum(counts) == 40 and all(count > 0 for count in counts)
        assert handle.stop() == 0
        assert wait_until(lambda: not alive(pids[1]))
    finally:
        handle.stop()


def test_durable_state_is_one_whichever_process_serves_the_request(tmp_path: Path) -> None:
    handle = start_host(APPS / "durable", auth=False, state_dir=tmp_path / "durable",
                        env={"FUNCTIONS_WORKER_PROCESS_COUNT": "3"})
    try:
        assert handle.durable and len(handle.processes) == 3
        ids = []
        for n in range(9):
            with requests.Session() as fresh:
                fresh.trust_env = False
                started = fresh.post(handle.api("greetings"), json=[f"user{n}"])
                assert started.status_code == 202
                ids.append(started.json()["id"])
        assert len(set(ids)) == 9

        def finished() -> bool:
            with requests.Session() as fresh:
                fresh.trust_env = False
                bodies = [fresh.get(handle.api(f"greetings/{i}")).json() for i in ids]
            return all(body["runtimeStatus"] == "Completed" for body in bodies)

        assert wait_until(finished, 30)
        with requests.Session() as fresh:  # the runtime's own API answers the same from every process
            fresh.trust_env = False
            listed = fresh.get(f"{handle.url}/runtime/webhooks/durabletask/instances").json()
        assert {item["instanceId"] for item in listed} == set(ids)
        assert [p.name for p in (tmp_path / "durable").iterdir() if p.suffix == ".sqlite3"] == ["HostTestHub.sqlite3"]
    finally:
        handle.stop()


def test_worker_processes_exit_when_the_first_one_dies_and_are_restarted_while_it_lives(tmp_path: Path) -> None:
    handle = start_host(APPS / "basic", auth=False, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"})
    try:
        first, second = (p["pid"] for p in handle.processes)
        os.kill(second, signal.SIGKILL)
        assert wait_until(lambda: any(pid != second and alive(pid) for pid in children(first)))
        replacement = next(pid for pid in children(first) if pid != second)
        requests_session = requests.Session()
        requests_session.trust_env = False
        assert wait_until(lambda: requests_session.get(handle.api("echo")).status_code == 200)
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not alive(replacement))
    finally:
        handle.stop()


@pytest.mark.parametrize("value", ["0", "11", "two"])
def test_a_worker_process_count_azure_refuses_is_refused(value: str) -> None:
    with pytest.raises(HostStartError) as caught:
        start_host(APPS / "basic", auth=False, env={"FUNCTIONS_WORKER_PROCESS_COUNT": value}, timeout=30)
    assert "FUNCTIONS_WORKER_PROCESS_COUNT" in str(caught.value)


def test_the_thread_pool_follows_python_threadpool_thread_count() -> None:
    handle = start_host(APPS / "basic", auth=False, env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    try:
        session = requests.Session()
        session.trust_env = False
        started = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            threads = list(pool.map(lambda _: session.get(handle.api("slow?seconds=0.5")).json()["thread"],
                                    range(3)))
        assert time.monotonic() - started >= 1.4  # one thread: the three calls ran one after another
        assert len(set(threads)) == 1
    finally:
        handle.stop()


def test_the_meter_is_off_unless_asked_for_and_never_on_the_apps_port() -> None:
    plain = start_host(APPS / "basic", auth=False)
    try:
        assert [set(p) for p in plain.processes] == [{"pid"}]
    finally:
        plain.stop()
    metered = start_host(APPS / "basic", auth=False, extra_args=["--metrics"])
    try:
        session = requests.Session()
        session.trust_env = False
        assert session.get(metered.api("echo")).status_code == 200
        assert session.get(f"{metered.url}/invocations").status_code == 404
        assert invocations(metered.processes[0]["metrics_url"])["echo"]["timed"] == 1
    finally:
        metered.stop()


def request_timer_run(url: str) -> int:
    """POST the admin endpoint on a fresh connection until it accepts: while the previous run of the function
    is still on its thread, the host answers 409 (documented), and the next request may arrive before it ends."""
    statuses: list[int] = []

    def answered_other_than_409() -> bool:
        with requests.Session() as fresh:
            fresh.trust_env = False
            statuses.append(fresh.post(url, timeout=10).status_code)
        return statuses[-1] != 409

    wait_until(answered_other_than_409, seconds=10)
    return statuses[-1]


def test_timers_run_in_one_process_and_the_admin_endpoint_answers_from_every_process() -> None:
    handle = start_host(APPS / "timer", auth=False,
                        env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2", "TIMER_TEST_SCHEDULE": "0 0 0 1 1 *"})
    try:
        assert len(handle.processes) == 2
        for _ in range(6):  # fresh connections: the kernel spreads them over both processes
            assert request_timer_run(f"{handle.url}/admin/functions/from_setting") == 202
        time.sleep(0.5)

        def counts() -> list[dict[str, int]]:
            seen = []
            for _ in range(12):
                with requests.Session() as fresh:
                    fresh.trust_env = False
                    seen.append(fresh.get(handle.api("runs"), timeout=10).json())
            return seen

        seen = counts()
        # One process ran all six on request and runs the schedules; the other ran none of them.
        assert {c["from_setting"] for c in seen} <= {0, 6} and any(c["from_setting"] == 6 for c in seen)
        assert all(c["yearly"] == (1 if c["from_setting"] == 6 else 0) for c in seen)
        assert all(c["every_second"] == 0 for c in seen if c["from_setting"] == 0)
    finally:
        handle.stop()
