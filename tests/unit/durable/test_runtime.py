"""The local Durable runner executes real orchestrations with the SDK's replay and its HTTP client."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.unit.durable import sample_app
from tests.unit.durable.harness import fresh_sdk_http_session, running_runtime, wait_for_finish  # noqa: F401

FUNCTIONS = sample_app.FUNCTIONS


def run(coro):
    return asyncio.run(coro)


def test_sequence_completes_with_output_custom_status_and_input(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            instance_id = await client.start_new("sequence", None, {"who": "me"})
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Completed"
            assert status.output == {"input": {"who": "me"},
                                     "second": {"echo": {"step": 2, "prev": {"echo": {"step": 1}}}}}
            assert status.custom_status == {"completed": 2, "total": 2}
            with_input = await client.get_status(instance_id, show_input=True)
            assert with_input.input_ == {"who": "me"}
    run(scenario())


def test_fan_out_fan_in_and_async_activities(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("fan_out", None, [1, 2, 3, 4])
            status = await wait_for_finish(client, instance_id)
            assert (status.runtime_status.value, status.output) == ("Completed", 30)
    run(scenario())


def test_retry_recovers_from_transient_failures_with_timer_history(tmp_path: Path):
    sample_app.FAILURES_LEFT.update({"r1-b": 2})
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            instance_id = await client.start_new("with_retry", None, ["r1-a", "r1-b"])
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Completed"
            assert status.output == {"results": ["ok:r1-a", "ok:r1-b"], "after": {"echo": "after"}}
            history = runtime.history(instance_id)
            kinds = [e["EventType"] for e in history]
            assert kinds.count(6) == 2            # two TaskFailed
            assert kinds.count(10) == 2 and kinds.count(11) == 2  # a timer between attempts
            assert sample_app.CALLS["r1-b"] == 3
    run(scenario())


def test_retry_exhaustion_surfaces_to_the_orchestrator(tmp_path: Path):
    sample_app.FAILURES_LEFT.update({"r2": 10})
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("with_retry", None, ["r2"])
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Completed"
            assert "transient failure for r2" in status.output["error"]
            assert sample_app.CALLS["r2"] == 3  # maxNumberOfAttempts
    run(scenario())


def test_timer_and_external_event(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("timer_then_event", None, None)
            for _ in range(100):
                status = await client.get_status(instance_id)
                if status.custom_status == "waiting":
                    break
                await asyncio.sleep(0.05)
            assert status.runtime_status.value == "Running"
            await client.raise_event(instance_id, "approval", {"ok": True})
            status = await wait_for_finish(client, instance_id)
            assert status.output == {"approval": {"ok": True}}
    run(scenario())


def test_orchestrator_exception_fails_the_instance_cleanly(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("crashes", None, None)
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Failed"
            assert status.output == "Orchestrator function 'crashes' failed: boom in orchestrator"
    run(scenario())


def test_unknown_orchestrator_and_instance(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            with pytest.raises(Exception, match="doesn't exist"):
                await client.start_new("no_such_orchestrator", None, None)
            status = await client.get_status("no-such-instance")
            assert not status
    run(scenario())


def test_terminate_and_purge(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            instance_id = await client.start_new("timer_then_event", "fixed-id", None)
            assert instance_id == "fixed-id"
            await asyncio.sleep(0.2)
            await client.terminate(instance_id, "no longer needed")
            status = await client.get_status(instance_id)
            assert (status.runtime_status.value, status.output) == ("Terminated", "no longer needed")
            result = await client.purge_instance_history(instance_id)
            assert result.instances_deleted == 1
            assert not await client.get_status(instance_id)
    run(scenario())


def test_client_binding_data_matches_what_the_sdk_reads(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path, task_hub="ProfileReportHub") as (runtime, client):
            data = json.loads(runtime.client_binding_data())
            assert data["taskHubName"] == "ProfileReportHub"
            assert data["rpcBaseUrl"] == f"{runtime.base_url}/runtime/webhooks/durabletask/"
            assert data["managementUrls"]["id"] == "INSTANCEID"
            links = client.create_http_management_payload("abc")
            assert links["statusQueryGetUri"].startswith(f"{runtime.base_url}/runtime/webhooks/durabletask/instances/abc?")
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{data['rpcBaseUrl']}orchestrators/fan_out", json=[2, 3]) as resp:
                    assert resp.status == 202
                    body = await resp.json()
                    assert resp.headers["Location"] == body["statusQueryGetUri"]
            status = await wait_for_finish(client, body["id"])
            assert status.output == 13
    run(scenario())


def test_restart_mid_activity_reruns_unfinished_work_and_completes(tmp_path: Path):
    sample_app.GATE.clear()
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("gated_pair", None, "g1")
            for _ in range(200):
                if sample_app.CALLS.get("g1-a") and sample_app.CALLS.get("g1-b"):
                    break
                await asyncio.sleep(0.02)
        # The first process is gone; its blocked activities finish now but their results are lost.
        sample_app.GATE.set()
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Completed"
            assert status.output == ["gated:g1-a", "gated:g1-b"]
        assert sample_app.CALLS["g1-a"] == 2 and sample_app.CALLS["g1-b"] == 2
    run(scenario())


def test_history_is_in_sqlite_under_the_state_dir(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path, task_hub="Hub") as (_, client):
            instance_id = await client.start_new("sequence", None, {"who": "db"})
            await wait_for_finish(client, instance_id)
        return instance_id
    instance_id = run(scenario())
    db = sqlite3.connect(tmp_path / "Hub.sqlite3")
    (status,) = db.execute("SELECT status FROM instances WHERE id = ?", (instance_id,)).fetchone()
    types = [json.loads(r[0])["EventType"] for r in
             db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))]
    assert status == "Completed"
    assert types[:2] == [12, 0] and types[-1] == 1 and types.count(4) == 2 and types.count(5) == 2


def test_concurrent_retries_keep_task_numbering_in_step_with_the_sdk(tmp_path: Path):
    keys = [f"storm-{i}" for i in range(8)]
    sample_app.FAILURES_LEFT.update({k: i % 3 for i, k in enumerate(keys)})
    sample_app.FAILURES_LEFT.update({f"{k}-2": (i + 1) % 3 for i, k in enumerate(keys)})
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            instance_id = await client.start_new("retry_storm", None, keys)
            status = await wait_for_finish(client, instance_id, timeout=30)
            assert status.runtime_status.value == "Completed", status.output
            assert status.output == [f"ok:{k}" for k in keys] + [f"ok:{k}-2" for k in keys]
            history = runtime.history(instance_id)
            ids = [e["EventId"] for e in history if e["EventType"] in (4, 10)]
            assert sorted(ids) == list(range(len(ids)))  # every number handed out once, none skipped
    run(scenario())


def test_failure_text_never_persists_a_token(tmp_path: Path):
    fake_jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            instance_id = await client.start_new("leaky_orchestration", None, fake_jwt)
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Failed"
            assert "[redacted]" in status.output and fake_jwt not in status.output
            # Inputs hold it because this test puts it there; failure events must not echo it.
            failures = [e for e in runtime.history(instance_id) if e["EventType"] in (1, 6)]
            assert any(e["EventType"] == 6 for e in failures)
            assert fake_jwt not in json.dumps(failures)
    run(scenario())


def test_task_any_races_an_activity_against_a_timer(tmp_path: Path):
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (_, client):
            instance_id = await client.start_new("race", None, None)
            status = await wait_for_finish(client, instance_id)
            assert status.runtime_status.value == "Completed"
            assert status.output["winner"] == "activity" and status.output["value"] == {"echo": "fast"}
            listed = await client.get_status_by(runtime_status=[])
            assert instance_id in {s.instance_id for s in listed}
    run(scenario())


def test_a_restarted_instance_id_ignores_work_of_its_previous_run(tmp_path: Path):
    sample_app.GATE.clear()
    async def scenario():
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            await client.start_new("timer_then_event", "reused", None)  # its timer #0 is due in 100 ms
            await client.terminate("reused", "replaced")
            await client.start_new("gated_pair", "reused", "re")  # its activity #0 is still running then
            await asyncio.sleep(0.4)
            sample_app.GATE.set()
            status = await wait_for_finish(client, "reused")
            assert (status.runtime_status.value, status.output) == ("Completed", ["gated:re-a", "gated:re-b"])
            assert all(e["EventType"] != 11 for e in runtime.history("reused"))  # no stale TimerFired
    run(scenario())
