"""Report data retention through the local host: the timer function `purge_report_history` purges finished
report jobs older than REPORT_RETENTION_HOURS from the task hub (function_app/report/retention.py), through
the Durable purge API the local runner implements like the extension."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.fixtures.host import HostHandle, emulator_app_env
from tests.integration.durable.helpers import MIRA, PRIYA, auth_headers, user_token
from tests.integration.durable.test_report_jobs import http, poll, start_job

pytestmark = pytest.mark.slow

RETENTION_HOURS = 0.002  # 7.2 s


def history_rows(state_dir: Path, instance_id: str) -> int:
    with sqlite3.connect(state_dir / "ProfileReportHub.sqlite3") as db:
        return sum(db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (instance_id,)).fetchone()[0]
                   for table, column in (("instances", "id"), ("history", "instance_id")))


def run_purge(host: HostHandle) -> None:
    marker = host.logs().count("event=report_history_purged")
    response = http().post(f"{host.url}/admin/functions/purge_report_history", json={"input": ""}, timeout=10)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 20
    while host.logs().count("event=report_history_purged") == marker:
        assert time.monotonic() < deadline, host.logs()[-2000:]
        time.sleep(0.1)


def test_finished_jobs_are_purged_after_the_retention_period(host_factory: Callable[..., HostHandle],
                                                             fresh_emulator: Any, tmp_path: Path) -> None:
    state_dir = tmp_path / "durable"
    host = host_factory(env={**emulator_app_env(fresh_emulator), "REPORT_RETENTION_HOURS": str(RETENTION_HOURS)},
                        state_dir=state_dir)
    assert {f["name"]: f["trigger"] for f in host.functions}["purge_report_history"] == "timerTrigger"
    priya, mira = user_token(fresh_emulator, PRIYA), user_token(fresh_emulator, MIRA)
    old = start_job(host, priya)
    assert poll(host, old["statusUrl"], priya)["runtimeStatus"] == "Completed"
    assert history_rows(state_dir, old["id"]) > 0
    time.sleep(RETENTION_HOURS * 3600 + 0.5)
    recent = start_job(host, mira)
    assert poll(host, recent["statusUrl"], mira)["runtimeStatus"] == "Completed"

    run_purge(host)
    assert "event=report_history_purged" in host.logs() and "instances=1 " in host.logs()
    gone = http().get(host.url + old["statusUrl"], headers=auth_headers(priya), timeout=30)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert history_rows(state_dir, old["id"]) == 0  # names, UPNs and group lists are gone from the task hub
    kept = http().get(host.url + recent["statusUrl"], headers=auth_headers(mira), timeout=30)
    assert kept.status_code == 200 and kept.json()["runtimeStatus"] == "Completed"


def test_a_running_job_is_never_purged(host_factory: Callable[..., HostHandle], fresh_emulator: Any,
                                       tmp_path: Path) -> None:
    state_dir = tmp_path / "durable"
    host = host_factory(env={**emulator_app_env(fresh_emulator), "REPORT_RETENTION_HOURS": "0.0003"},
                        state_dir=state_dir)
    fresh_emulator.fault(endpoint="graph", latency_ms=2500, count=None)  # the job outlives the 1 s retention
    priya = user_token(fresh_emulator, PRIYA)
    job = start_job(host, priya)
    time.sleep(1.5)
    run_purge(host)
    response = http().get(host.url + job["statusUrl"], headers=auth_headers(priya), timeout=30)
    assert response.status_code == 200 and response.json()["runtimeStatus"] in ("Pending", "Running")
    fresh_emulator.admin("DELETE", "/_emulator/faults")
    assert poll(host, job["statusUrl"], priya)["runtimeStatus"] == "Completed"


def test_the_default_retention_keeps_a_fresh_job(host_factory: Callable[..., HostHandle], fresh_emulator: Any,
                                                 tmp_path: Path) -> None:
    host = host_factory(env=emulator_app_env(fresh_emulator), state_dir=tmp_path / "durable")
    priya = user_token(fresh_emulator, PRIYA)
    job = start_job(host, priya)
    assert poll(host, job["statusUrl"], priya)["runtimeStatus"] == "Completed"
    run_purge(host)
    assert "instances=0" in host.logs()
    assert http().get(host.url + job["statusUrl"], headers=auth_headers(priya), timeout=30).status_code == 200
