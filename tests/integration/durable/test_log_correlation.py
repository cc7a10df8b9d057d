"""Correlation ids through the local host: each invocation's lines carry an id of that invocation only. Pool
threads run one invocation after another (the host's for synchronous HTTP functions, the durable runtime's
for activities; in Azure the worker's one pool runs both), so an id left behind on a thread would put the next
invocation's lines under an earlier one's: another job's, or another caller's request."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from tests.fixtures.host import HostHandle, emulator_app_env
from tests.fixtures.logs import correlation_ids
from tests.integration.durable.helpers import MIRA, PRIYA, auth_headers, user_token
from tests.integration.durable.test_report_jobs import http, poll

pytestmark = pytest.mark.slow

def ids(lines: list[str], event: str) -> set[str]:
    return set(correlation_ids(lines, event))


def run_job(host: HostHandle, token: str, correlation_id: str) -> list[str]:
    """Start a job with the caller's correlation id and wait for it; the log lines it added."""
    before = len(host.logs().splitlines())
    profile = http().get(host.api("get-profile"), timeout=60,  # a synchronous function, on the host's pool
                         headers={**auth_headers(token), "x-correlation-id": f"{correlation_id}-profile"})
    assert profile.status_code == 200 and profile.headers["X-Correlation-Id"] == f"{correlation_id}-profile"
    started = http().post(host.api("jobs/profile-report"), timeout=60,
                          headers={**auth_headers(token), "x-correlation-id": correlation_id})
    assert started.status_code == 202 and started.headers["X-Correlation-Id"] == correlation_id
    assert poll(host, started.json()["statusUrl"], token)["runtimeStatus"] == "Completed"
    return host.logs().splitlines()[before:]


def test_each_activity_logs_under_its_own_id_never_a_request_s_or_another_job_s(
        host_factory: Callable[..., HostHandle], fresh_emulator: Any, tmp_path: Path) -> None:
    host = host_factory(env={**emulator_app_env(fresh_emulator), "PYTHON_THREADPOOL_THREAD_COUNT": "1"},
                        state_dir=tmp_path / "durable")
    first = run_job(host, user_token(fresh_emulator, PRIYA), "job-caller-1")
    second = run_job(host, user_token(fresh_emulator, MIRA), "job-caller-2")

    requests_ = ids(first, "request") | ids(second, "request")
    assert {"job-caller-1", "job-caller-1-profile", "job-caller-2", "job-caller-2-profile"} <= requests_
    # The profile request's own Graph call is under its id; every other Graph call is an activity's.
    assert ids(first, "graph_call") & requests_ == {"job-caller-1-profile"}, "\n".join(first)
    assert ids(second, "graph_call") & requests_ == {"job-caller-2-profile"}, "\n".join(second)
    first_jobs = ids(first, "graph_call") - requests_
    second_jobs = ids(second, "graph_call") - requests_
    assert len(first_jobs) >= 4 and len(second_jobs) >= 4  # four activities, an id each
    assert not first_jobs & second_jobs, (first_jobs, second_jobs)
