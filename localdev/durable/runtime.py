"""`DurableRuntime`: the local stand-in for the Durable Functions extension inside the local host.

It owns the SQLite state, runs orchestrator episodes one at a time on a dedicated thread (user
orchestrator code is replayed by the SDK itself), runs activities concurrently on a thread pool, arms
durable timers (including the waits between `call_activity_with_retry` attempts), and serves the
out-of-process HTTP API the SDK's `DurableOrchestrationClient` calls. `start()` resumes whatever a
previous process left in flight: activities scheduled but not completed run again (Durable's
at-least-once activity semantics), timers are re-armed at their original due time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from aiohttp import web
from dateutil.parser import isoparse

from function_app.redaction import redact  # the product's rules, so history is scrubbed like its logs

from . import events
from .engine import ActivityWork, Engine, TimerWork, Work
from .contract import WEBHOOK_PREFIX, InstanceExists
from .functions import FunctionRegistry
from .http_api import build_routes
from .store import Instance, Store

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class InstanceStatus:
    """The status document of the out-of-process HTTP API (DurableOrchestrationStatus's JSON)."""

    instance: Instance

    def to_json(self, *, show_input: bool = True, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.instance.name,
            "instanceId": self.instance.id,
            "runtimeStatus": self.instance.status,
            "input": _loads(self.instance.input) if show_input else None,
            "customStatus": _loads(self.instance.custom_status),
            "output": _loads(self.instance.output),
            "createdTime": _seconds(self.instance.created),
            "lastUpdatedTime": _seconds(self.instance.updated),
        }
        if history is not None:
            doc["historyEvents"] = history
        return doc


class DurableRuntime:
    def __init__(self, functions: Iterable[Any], *, state_dir: Path, base_url: str, task_hub: str,
                 activity_workers: int = 8) -> None:
        self.registry = FunctionRegistry(functions)
        self.state_dir = Path(state_dir)
        self.base_url = base_url.rstrip("/")
        self.task_hub = task_hub
        self._activity_workers = activity_workers
        self._store: Store | None = None
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._orchestrator_thread: ThreadPoolExecutor | None = None
        self._activity_pool: ThreadPoolExecutor | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._dirty: list[str] = []
        self._wake = asyncio.Event()
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("DurableRuntime is not started")
        return self._store

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._store = Store(self.state_dir / f"{self.task_hub}.sqlite3")
        self._engine = Engine(self._store, self.registry)
        self._orchestrator_thread = ThreadPoolExecutor(1, thread_name_prefix="durable-orchestrator")
        self._activity_pool = ThreadPoolExecutor(self._activity_workers, thread_name_prefix="durable-activity")
        self._running = True
        self._resume()
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="durable-dispatcher")

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        for task in [self._dispatcher, *self._timers]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._dispatcher, *self._timers] if t is not None),
                             return_exceptions=True)
        self._timers.clear()
        assert self._orchestrator_thread is not None and self._activity_pool is not None
        self._orchestrator_thread.shutdown(wait=True)
        # Activities still running finish on their threads, but their results are discarded: the
        # task stays pending in SQLite and runs again after the next start(), as in Durable.
        self._activity_pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        self._store = None

    def _resume(self) -> None:
        for row in self.store.pending_tasks():
            if row.kind == "activity":
                assert row.name is not None
                self._dispatch(ActivityWork(row.instance_id, row.execution_id, row.task_id, row.name, row.input))
            else:
                assert row.fire_at is not None
                self._dispatch(TimerWork(row.instance_id, row.execution_id, row.task_id, isoparse(row.fire_at)))
        for instance_id in self.store.instances_with_inbox():
            self._mark_dirty(instance_id)

    # -- scheduling ------------------------------------------------------------------------------

    def _mark_dirty(self, instance_id: str) -> None:
        if instance_id not in self._dirty:
            self._dirty.append(instance_id)
        self._wake.set()

    async def _dispatch_forever(self) -> None:
        assert self._loop is not None and self._engine is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                instance_id = self._dirty.pop(0)
                try:
                    work, ran = await self._loop.run_in_executor(
                        self._orchestrator_thread, self._engine.run_episode, instance_id)
                except Exception:  # never let one instance stop the runner
                    log.exception("durable episode for %s crashed", instance_id)
                    continue
                for item in work:
                    self._dispatch(item)
                if ran:
                    self._mark_dirty(instance_id)  # more events may be waiting in its inbox

    def _dispatch(self, work: Work) -> None:
        if isinstance(work, ActivityWork):
            assert self._loop is not None
            future = self._loop.run_in_executor(self._activity_pool, self._run_activity, work)
            future.add_done_callback(lambda f, w=work: self._activity_done(w, f))
        else:
            timer = asyncio.create_task(self._fire_timer(work))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)

    def _run_activity(self, work: ActivityWork) -> dict[str, Any]:
        now = events.utc_now
        try:
            result = self.registry.run_activity(work.name, work.input)
        except Exception as exc:
            # Reason carries the message the orchestrator sees; no traceback is persisted.
            message = redact(str(exc))
            log.warning("activity %s (%s #%s) failed: %s: %s", work.name, work.instance_id, work.task_id,
                        type(exc).__name__, message)
            reason = f"Activity function '{work.name}' failed: {type(exc).__name__}: {message}"
            return events.task_failed(now(), work.task_id, reason, type(exc).__name__)
        return events.task_completed(now(), work.task_id, result)

    def _activity_done(self, work: ActivityWork, future: "asyncio.Future[dict[str, Any]]") -> None:
        if not self._running or future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("activity %s could not be run: %s", work.name, exc)
            return
        if self.store.add_completion(work.instance_id, work.execution_id, work.task_id, future.result()):
            self._mark_dirty(work.instance_id)

    async def _fire_timer(self, work: TimerWork) -> None:
        delay = (work.fire_at - events.utc_now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        fired = events.timer_fired(events.utc_now(), work.task_id, work.fire_at)
        if self._running and self.store.add_completion(work.instance_id, work.execution_id, work.task_id, fired):
            self._mark_dirty(work.instance_id)

    # -- client operations (used by the HTTP API) ------------------------------------------------

    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> str:
        instance_id = instance_id or uuid.uuid4().hex
        existing = self.store.instance(instance_id)
        if existing is not None and not existing.is_terminal:
            raise InstanceExists(f"An orchestration instance with ID '{instance_id}' is already {existing.status}.")
        now = events.utc_now()
        execution_id = uuid.uuid4().hex
        started = events.execution_started(now, name, input_json, instance_id, execution_id)
        self.store.create_instance(instance_id, execution_id, name, input_json, events.to_iso(now), started)
        self._mark_dirty(instance_id)
        return instance_id

    def status(self, instance_id: str) -> InstanceStatus | None:
        instance = self.store.instance(instance_id)
        return InstanceStatus(instance) if instance else None

    def statuses(self) -> list[InstanceStatus]:
        return [InstanceStatus(i) for i in self.store.instances()]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return self.store.history(instance_id)

    def terminate(self, instance_id: str, reason: str) -> None:
        now = events.utc_now()
        self.store.terminate(instance_id, json.dumps(reason), events.to_iso(now),
                             events.execution_terminated(now, reason))

    def raise_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        self.store.add_event(instance_id, events.event_raised(events.utc_now(), name, input_json))
        self._mark_dirty(instance_id)

    def purge(self, instance_id: str) -> bool:
        return self.store.purge(instance_id)

    def purge_by(self, created_from: datetime, created_to: datetime | None,
                 statuses: frozenset[str] | None) -> int:
        """Purge every instance created in [created_from, created_to] (and in `statuses`, when given), as the
        extension's "purge multiple instance histories" does; returns how many were deleted."""
        chosen = [i.id for i in self.store.instances()
                  if created_from <= isoparse(i.created) and (created_to is None or isoparse(i.created) <= created_to)
                  and (statuses is None or i.status in statuses)]
        return self.store.purge_many(chosen, statuses)

    # -- host integration ------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return build_routes(self)

    @property
    def webhook_base(self) -> str:
        return f"{self.base_url}{WEBHOOK_PREFIX}"

    def management_urls(self, instance_id: str) -> dict[str, str]:
        base = f"{self.webhook_base}instances/{instance_id}"
        query = self.required_query()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{query}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{base}?{query}",
            "restartPostUri": f"{base}/restart?{query}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
        }

    def required_query(self) -> str:
        # Locally the webhooks take no `code` (as under Core Tools); the host binds loopback only.
        return f"taskHub={self.task_hub}&connection=Storage"

    def client_binding_data(self) -> str:
        """The JSON the extension passes for a `durableClient` input binding (read by the SDK's
        DurableOrchestrationBindings: taskHubName, creationUrls, managementUrls, rpcBaseUrl, ...)."""
        query = self.required_query()
        create = f"{self.webhook_base}orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps({
            "taskHubName": self.task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{create}?{query}",
                "createAndWaitOnNewInstancePostUri":
                    f"{create}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}",
            },
            "managementUrls": self.management_urls("INSTANCEID"),
            "baseUrl": self.webhook_base.rstrip("/"),
            "requiredQueryStringParameters": query,
            "rpcBaseUrl": self.webhook_base,
            "httpBaseUrl": self.webhook_base,
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        })


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _seconds(iso: str) -> str:
    """Durable's status documents use second precision: `2026-01-01T00:00:00Z`."""
    moment: datetime = isoparse(iso)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
