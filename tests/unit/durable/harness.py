"""Run a DurableRuntime in-process behind a real aiohttp server, driven through the SDK's own client."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import azure.durable_functions as df
import pytest
from aiohttp import web
from azure.durable_functions.models.utils import http_utils

from localdev.durable import DurableRuntime


@pytest.fixture(autouse=True)
def fresh_sdk_http_session():
    """The SDK keeps one aiohttp session per process; each test runs its own event loop."""
    http_utils._client_session = None
    http_utils._session_lock = asyncio.Lock()
    yield
    http_utils._client_session = None


@contextlib.asynccontextmanager
async def running_runtime(functions: Iterable[Any], state_dir: Path,
                          task_hub: str = "TestHub") -> AsyncIterator[tuple[DurableRuntime, df.DurableOrchestrationClient]]:
    app = web.Application()
    runner = web.AppRunner(app)
    runtime = DurableRuntime(list(functions), state_dir=state_dir, base_url="http://127.0.0.1", task_hub=task_hub)
    app.add_routes(runtime.routes())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    runtime.base_url = f"http://127.0.0.1:{port}"
    await runtime.start()
    try:
        yield runtime, df.DurableOrchestrationClient(runtime.client_binding_data())
    finally:
        await runtime.stop()
        session = http_utils._client_session
        if session is not None:
            await session.close()
        http_utils._client_session = None
        await runner.cleanup()


async def wait_for_finish(client: df.DurableOrchestrationClient, instance_id: str,
                          timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await client.get_status(instance_id)
        if status.runtime_status is not None and status.runtime_status.value not in ("Pending", "Running"):
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"instance {instance_id} still {status.runtime_status} after {timeout}s")
        await asyncio.sleep(0.05)
