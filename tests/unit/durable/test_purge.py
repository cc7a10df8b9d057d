"""Purging instance histories by filter, as the extension's "purge multiple instance histories" webhook does,
driven through the SDK's `purge_instance_history_by`."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as Status

from tests.unit.durable import sample_app
from tests.unit.durable.harness import fresh_sdk_http_session, running_runtime, wait_for_finish  # noqa: F401

FUNCTIONS = sample_app.FUNCTIONS
FINAL = [Status.Completed, Status.Failed, Status.Terminated]


def test_purge_by_removes_finished_instances_in_the_range_and_nothing_else(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, client):
            started = datetime.now(timezone.utc) - timedelta(seconds=1)
            done = await client.start_new("sequence", None, {"who": "done"})
            crashed = await client.start_new("crashes", None, None)
            waiting = await client.start_new("timer_then_event", None, None)  # stays Running
            terminated = await client.start_new("timer_then_event", None, None)
            await wait_for_finish(client, done)
            await wait_for_finish(client, crashed)
            await client.terminate(terminated, "stop")
            cutoff = datetime.now(timezone.utc)
            later = await client.start_new("sequence", None, {"who": "later"})  # created after the cutoff
            await wait_for_finish(client, later)

            result = await client.purge_instance_history_by(created_time_from=started, created_time_to=cutoff,
                                                            runtime_status=FINAL)
            assert result.instances_deleted == 3
            for gone in (done, crashed, terminated):
                assert not await client.get_status(gone)
                assert runtime.history(gone) == []
            assert (await client.get_status(waiting)).runtime_status == Status.Running
            assert (await client.get_status(later)).runtime_status == Status.Completed

            again = await client.purge_instance_history_by(created_time_from=started, created_time_to=cutoff,
                                                           runtime_status=FINAL)
            assert again.instances_deleted == 0  # the webhook's 404, read by the SDK as nothing deleted
    asyncio.run(scenario())


def test_purge_by_requires_created_time_from(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_runtime(FUNCTIONS, tmp_path) as (runtime, _):
            url = f"{runtime.webhook_base}instances/?runtimeStatus=Completed"
            async with aiohttp.ClientSession() as session:
                async with session.delete(url) as response:
                    assert response.status == 400
                async with session.delete(f"{runtime.webhook_base}instances?createdTimeFrom=yesterday") as response:
                    assert response.status == 400
    asyncio.run(scenario())
