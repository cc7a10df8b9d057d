"""The report job end to end through the local Functions host: HTTP starter -> local Durable runtime
(SQLite history, the SDK's replay) -> activities -> Graph emulator, polled through `GET /api/jobs/{id}`."""
from __future__ import annotations

import base64
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from tests.fixtures.host import HostHandle, emulator_app_env
from tests.integration.durable.helpers import LENA, MIRA, PRIYA, auth_headers, user_token

pytestmark = pytest.mark.slow


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the host is plain HTTP on loopback
    return session


def start_job(host: HostHandle, token: str) -> dict[str, Any]:
    response = http().post(host.api("jobs/profile-report"), headers=auth_headers(token), timeout=60)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "statusUrl"}
    assert body["statusUrl"] == f"/api/jobs/{body['id']}"
    assert response.headers["Location"] == body["statusUrl"]
    assert "webhooks" not in response.text and "code=" not in response.text
    return body


def poll(host: HostHandle, status_url: str, token: str, *, timeout: float = 90,
         seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = http().get(host.url + status_url, headers=auth_headers(token), timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        if seen is not None:
            seen.append(body)
        if body["runtimeStatus"] not in ("Pending", "Running"):
            return body
        assert time.monotonic() < deadline, f"job still {body['runtimeStatus']}: {body}"
        time.sleep(0.2)


@pytest.fixture
def report_host(host_factory: Callable[..., HostHandle], fresh_emulator: Any, tmp_path: Path) -> HostHandle:
    return host_factory(env=emulator_app_env(fresh_emulator), state_dir=tmp_path / "durable")


def test_report_job_runs_to_completion_with_progress(report_host: HostHandle, fresh_emulator: Any):
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=150, count=None)  # slow enough to watch progress
    job = start_job(report_host, token)
    seen: list[dict[str, Any]] = []
    final = poll(report_host, job["statusUrl"], token, seen=seen)
    assert final["runtimeStatus"] == "Completed", final
    result = final["result"]
    assert result["user"]["userPrincipalName"] == PRIYA
    assert [m["userPrincipalName"] for m in result["managerChain"]] == ["daniel.reyes@larkspur.example", MIRA]
    assert {p["userPrincipalName"] for p in result["directReports"]} == {"sam.whitfield@larkspur.example",
                                                                         "lena.hoffmann@larkspur.example"}
    assert result["groupCount"] == len(result["groups"]) >= 30
    assert final["progress"] == {"completed": 4, "total": 4, "stage": "Done",
                                 "graphCalls": final["progress"]["graphCalls"]}
    running = [s["progress"] for s in seen if s["runtimeStatus"] == "Running" and s.get("progress")]
    assert running and all(0 <= p["completed"] < 4 and p["total"] == 4 for p in running)
    assert "error" not in final


def test_job_status_is_for_its_owner_only(report_host: HostHandle, fresh_emulator: Any):
    token = user_token(fresh_emulator, PRIYA)
    job = start_job(report_host, token)
    other = http().get(report_host.url + job["statusUrl"], headers=auth_headers(user_token(fresh_emulator, MIRA)),
                       timeout=30)
    assert other.status_code == 404
    assert other.headers["Content-Type"].startswith("application/problem+json")
    assert other.json()["code"] == "not_found"
    unknown = http().get(report_host.api("jobs/00000000000000000000000000000000"), headers=auth_headers(token),
                         timeout=30)
    assert unknown.status_code == 404 and unknown.json() == {**unknown.json(), "code": "not_found"}
    anonymous = http().get(report_host.url + job["statusUrl"], timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "missing_token"
    assert poll(report_host, job["statusUrl"], token)["runtimeStatus"] == "Completed"


def test_starting_a_job_needs_a_token(report_host: HostHandle):
    response = http().post(report_host.api("jobs/profile-report"), timeout=30)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_token"


def test_graph_rejecting_every_token_ends_the_job_cleanly(report_host: HostHandle, fresh_emulator: Any):
    """Graph keeps answering 401 (without a claims challenge) mid-job, even to refreshed tokens: the job retries,
    then fails with a clean error and no stack trace."""
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", path="/users/", status=401, count=None)
    job = start_job(report_host, token)
    final = poll(report_host, job["statusUrl"], token)
    assert final["runtimeStatus"] == "Failed"
    assert final["error"]["code"] == "graph_unavailable"
    assert "result" not in final
    assert "Traceback" not in str(final) and "Exception" not in str(final)


def test_start_without_graph_consent_is_a_consent_problem(report_host: HostHandle, fresh_emulator: Any):
    """The report needs more Graph permissions than /me; without consent no job is started."""
    fresh_emulator.consent(client_id=fresh_emulator.app("api")["client_id"], resource="https://graph.microsoft.com",
                           scopes=["GroupMember.Read.All"], granted=False)
    response = http().post(report_host.api("jobs/profile-report"),
                           headers=auth_headers(user_token(fresh_emulator, PRIYA)), timeout=60)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["code"] == "consent_required" and problem["consentUrl"]
    assert response.headers["Content-Type"].startswith("application/problem+json")


def instance_count(state_dir: Path) -> int:
    databases = list(state_dir.glob("*.sqlite3"))
    if not databases:
        return 0
    db = sqlite3.connect(databases[0])
    try:
        return db.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
    finally:
        db.close()


def test_a_token_that_fails_conditional_access_starts_no_job(host_factory: Callable[..., HostHandle],
                                                             fresh_emulator: Any, tmp_path: Path):
    """Lena's policy demands MFA: even after an MFA token was used, a password-only token can't start a job."""
    state_dir = tmp_path / "durable"
    host = host_factory(env=emulator_app_env(fresh_emulator), state_dir=state_dir)
    with_mfa = fresh_emulator.mint(user=LENA, client_id=fresh_emulator.app("spa")["client_id"],
                                   audience=fresh_emulator.app("api")["client_id"], scopes=["user_impersonation"],
                                   claims={"amr": ["pwd", "mfa"]})
    assert http().get(host.api("get-profile"), headers=auth_headers(with_mfa), timeout=30).status_code == 200
    password_only = fresh_emulator.mint(user=LENA, client_id=fresh_emulator.app("spa")["client_id"],
                                        audience=fresh_emulator.app("api")["client_id"],
                                        scopes=["user_impersonation"], claims={"amr": ["pwd"]})
    response = http().post(host.api("jobs/profile-report"), headers=auth_headers(password_only), timeout=60)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "interaction_required" and "capolids" in response.json()["claims"]
    assert 'error="insufficient_claims"' in response.headers["WWW-Authenticate"]
    assert instance_count(state_dir) == 0


def redis_host(host_factory: Callable[..., HostHandle], emulator: Any, state_dir: Path,
               redis_url: str) -> tuple[HostHandle, Any]:
    """A host whose token cache (report sessions included) is an empty Redis; and a client to look into it."""
    import redis

    keys = f"jobs-test:{base64.b64encode(os.urandom(32)).decode()}"
    env = {**emulator_app_env(emulator), "TOKEN_CACHE": "redis", "REDIS_URL": redis_url, "TOKEN_CACHE_KEYS": keys}
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return host_factory(env=env, state_dir=state_dir), client


def test_a_completed_job_leaves_no_session_behind(host_factory: Callable[..., HostHandle], fresh_emulator: Any,
                                                  tmp_path: Path, redis_url: str):
    host, client = redis_host(host_factory, fresh_emulator, tmp_path / "durable", redis_url)
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=300, count=None)
    job = start_job(host, token)
    time.sleep(0.5)
    entries = [k for k in client.keys("*") if b":e:" in k]
    assert len(entries) == 1  # the job's session, while it runs (nothing else: no interactive call was made)
    assert poll(host, job["statusUrl"], token)["runtimeStatus"] == "Completed"
    assert [k for k in client.keys("*") if b":e:" in k] == []


def test_sessions_revoked_mid_job_end_it_with_interaction_required(report_host: HostHandle, fresh_emulator: Any):
    """The user's sessions are revoked while the report runs: Graph challenges the session's CAE token and its
    refresh token is refused, so the job ends asking for a new sign-in; no stack trace, no result."""
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=400, count=None)  # the job is still running when...
    job = start_job(report_host, token)
    fresh_emulator.revoke(PRIYA)  # ...the sessions are revoked
    final = poll(report_host, job["statusUrl"], token)
    assert final["runtimeStatus"] == "Failed", final
    assert final["error"]["code"] == "interaction_required"
    assert "result" not in final and "Traceback" not in str(final)


def graph_calls(emulator: Any) -> int:
    return sum(emulator.metrics()["graph"].values())


def test_the_owner_cancels_a_running_job_and_nothing_more_is_read_as_them(
        host_factory: Callable[..., HostHandle], fresh_emulator: Any, tmp_path: Path, redis_url: str):
    host, client = redis_host(host_factory, fresh_emulator, tmp_path / "durable", redis_url)
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=400, count=None)  # the job runs for seconds
    job = start_job(host, token)
    cancel_url = host.url + job["statusUrl"] + "/cancel"
    time.sleep(0.6)
    other = http().post(cancel_url, headers=auth_headers(user_token(fresh_emulator, MIRA)), timeout=30)
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert http().post(cancel_url, timeout=30).json()["code"] == "missing_token"
    assert http().post(host.api("jobs/" + "a" * 129 + "/cancel"), headers=auth_headers(token), timeout=30).status_code == 404

    cancelled = http().post(cancel_url, headers=auth_headers(token), timeout=30)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json() == {"id": job["id"], "statusUrl": job["statusUrl"]}
    assert [k for k in client.keys("*") if b":e:" in k] == []  # the session (its refresh token) is gone at once
    final = poll(host, job["statusUrl"], token)
    assert final["runtimeStatus"] == "Terminated" and "result" not in final, final
    settled = graph_calls(fresh_emulator)
    time.sleep(1.5)
    assert graph_calls(fresh_emulator) == settled  # the orchestration stopped reading Graph

    again = http().post(cancel_url, headers=auth_headers(token), timeout=30)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "conflict"
    assert again.headers["Content-Type"].startswith("application/problem+json")
