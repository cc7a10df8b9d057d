"""A report job survives a crash of the host mid-job, and nothing under the Durable state dir holds
token material: not in the SQLite history, nor in any other byte the runtime persisted."""
from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from dateutil.parser import isoparse

from function_app.obo.cache_policy import SessionRecord, session_key
from function_app.token_cache.redis_store import RedisTokenStore
from tests.fixtures.host import HostHandle, emulator_app_env
from tests.integration.durable.helpers import MIRA, PRIYA, auth_headers, user_token
from tests.integration.durable.test_report_jobs import http, poll, start_job

pytestmark = pytest.mark.slow

JWT_SHAPE = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
KEYS = [("report-test", os.urandom(32))]


def host_env(emulator: Any, redis_url: str) -> dict[str, str]:
    # A shared (Redis) token cache, as in Azure: a restarted host must still find the job's session.
    keys = ",".join(f"{kid}:{base64.b64encode(secret).decode()}" for kid, secret in KEYS)
    return {**emulator_app_env(emulator), "TOKEN_CACHE": "redis", "REDIS_URL": redis_url, "TOKEN_CACHE_KEYS": keys}


def graph_membership_count(emulator: Any) -> int:
    """What Graph itself says, read directly with an app-minted Graph token."""
    token = emulator.mint(user=PRIYA, client_id=emulator.app("api")["client_id"],
                          audience="https://graph.microsoft.com", scopes=["GroupMember.Read.All"])
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emulator.ca_bundle)
    url: str | None = f"{emulator.config['graph_base_url']}/me/transitiveMemberOf?$top=50"
    count = 0
    while url:
        body = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        count += len(body["value"])
        url = body.get("@odata.nextLink")
    return count


def history_events(state_dir: Path, instance_id: str) -> list[dict[str, Any]]:
    (db_path,) = state_dir.glob("*.sqlite3")
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)).fetchall()
    finally:
        db.close()
    return [json.loads(row[0]) for row in rows]


def test_host_crash_mid_job_resumes_and_completes_with_nothing_lost(
        host_factory: Callable[..., HostHandle], fresh_emulator: Any, redis_url: str, tmp_path: Path):
    state_dir = tmp_path / "durable"
    env = host_env(fresh_emulator, redis_url)
    expected_groups = graph_membership_count(fresh_emulator)
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=1200, count=None)  # every Graph call is slow

    first = host_factory(env=env, state_dir=state_dir)
    job = start_job(first, token)
    deadline = time.monotonic() + 60
    while True:  # wait until the first wave is done and the next one is in flight
        body = http().get(first.url + job["statusUrl"], headers=auth_headers(token), timeout=30).json()
        if body["runtimeStatus"] == "Running" and (body.get("progress") or {}).get("completed", 0) >= 2:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    crashed_at = datetime.now(timezone.utc)
    first.process.kill()  # a crash, not a graceful stop
    first.stop()

    fresh_emulator.admin("DELETE", "/_emulator/faults")
    second = host_factory(env=env, state_dir=state_dir)
    final = poll(second, job["statusUrl"], token, timeout=120)
    assert final["runtimeStatus"] == "Completed", final
    result = final["result"]
    assert [m["userPrincipalName"] for m in result["managerChain"]] == ["daniel.reyes@larkspur.example", MIRA]
    assert len(result["directReports"]) == 2
    assert result["groupCount"] == len({g["id"] for g in result["groups"]}) == expected_groups

    history = history_events(state_dir, job["id"])
    scheduled = [e["EventId"] for e in history if e["EventType"] == 4]
    completed = [e["TaskScheduledId"] for e in history if e["EventType"] == 5]
    assert sorted(scheduled) == sorted(completed) and len(set(completed)) == len(completed)
    assert history[-1]["EventType"] == 1  # ExecutionCompleted
    # Work the crashed host had scheduled was run again by the new one.
    scheduled_at = {e["EventId"]: isoparse(e["Timestamp"]) for e in history if e["EventType"] == 4}
    resumed = [e for e in history if e["EventType"] == 5
               and scheduled_at[e["TaskScheduledId"]] < crashed_at < isoparse(e["Timestamp"])]
    assert resumed, "expected activities in flight at the crash to complete after the restart"


def job_input(state_dir: Path, instance_id: str) -> dict[str, Any]:
    (db_path,) = state_dir.glob("*.sqlite3")
    db = sqlite3.connect(db_path)
    try:
        (raw,) = db.execute("SELECT input FROM instances WHERE id = ?", (instance_id,)).fetchone()
    finally:
        db.close()
    value = json.loads(raw)
    return json.loads(value) if isinstance(value, str) else value


def session_secrets(redis_url: str, session_id: str) -> list[str]:
    """Every token the job's session holds in the shared cache (read while the job runs)."""
    text = RedisTokenStore(redis_url, KEYS).load(session_key(session_id))
    assert text, "the job's session should be in the shared cache while it runs"
    record = SessionRecord.parse(text)
    assert record is not None
    cache = json.loads(record.msal_cache)
    assert any(entry for entry in cache.get("RefreshToken", {}).values())
    return [entry["secret"] for kind in ("AccessToken", "RefreshToken", "IdToken")
            for entry in cache.get(kind, {}).values()]


def test_state_dir_holds_no_token_material(host_factory: Callable[..., HostHandle], fresh_emulator: Any,
                                           redis_url: str, tmp_path: Path):
    state_dir = tmp_path / "durable"
    env = host_env(fresh_emulator, redis_url)
    host = host_factory(env=env, state_dir=state_dir)
    token = user_token(fresh_emulator, PRIYA)
    fresh_emulator.fault(endpoint="graph", latency_ms=300, count=None)  # time to look at the running job
    job = start_job(host, token)
    recorded = job_input(state_dir, job["id"])
    assert set(recorded) == {"session", "owner", "scopes", "deadline"}
    secrets = session_secrets(redis_url, recorded["session"])
    assert poll(host, job["statusUrl"], token)["runtimeStatus"] == "Completed"
    assert RedisTokenStore(redis_url, KEYS).load(session_key(recorded["session"])) is None  # ended with the job
    host.stop()

    needles = [token, env["CLIENT_SECRET"], *secrets]
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert files, "the runtime should have persisted its state"
    history = history_events(state_dir, job["id"])
    assert any(e["EventType"] == 5 for e in history)  # the scan covers a real, complete history
    for path in files:
        data = path.read_bytes()
        assert not JWT_SHAPE.search(data), f"JWT-shaped text in {path.name}"
        for needle in needles:
            assert needle and needle.encode() not in data, f"token material in {path.name}"
        assert b"refresh_token" not in data.lower() and b"access_token" not in data.lower()
