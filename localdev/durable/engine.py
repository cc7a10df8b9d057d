"""One orchestrator episode: feed new events to the SDK's replay engine, turn its actions into work.

The SDK numbers tasks with a sequence counter as it replays (DurableOrchestrationContext._add_to_open_tasks)
and matches completions by that number, so the runner must hand out the same numbers in the same order:
- each new leaf action (a scheduled activity or timer; compound WhenAll/WhenAny actions are flattened
  in order) takes the next number, except WaitForExternalEvent which is keyed by event name;
- for `call_activity_with_retry` the SDK itself allocates a number when it processes a TaskFailed of
  that task (the timer between attempts) and another when that timer fires with attempts left (the
  rescheduled attempt) (models/Task.py RetryAbleTask). After the last failed attempt it still waits for
  one timer, then fails the task, mirroring DTFx.
Allocations caused by events happen before the user code resumes, so an episode carries at most one
allocating event and only as its first event; the numbering then matches whatever the code yields.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from dateutil.parser import isoparse

from function_app.redaction import redact  # the product's rules, so history is scrubbed like its logs

from . import events
from .events import EventType
from .functions import FunctionNotFound, FunctionRegistry
from .store import EpisodeCommit, InboxItem, Instance, Store, TaskRow

log = logging.getLogger(__name__)

# upperSchemaVersion the runner offers: V3 (compound WhenAll/WhenAny actions, one flat action list).
UPPER_SCHEMA_VERSION = 2

ACTION_CALL_ACTIVITY = 0
ACTION_CALL_ACTIVITY_WITH_RETRY = 1
ACTION_CREATE_TIMER = 5
ACTION_WAIT_FOR_EXTERNAL_EVENT = 6


@dataclass(frozen=True)
class ActivityWork:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class TimerWork:
    instance_id: str
    execution_id: str
    task_id: int
    fire_at: datetime


Work = ActivityWork | TimerWork


class UnsupportedAction(Exception):
    pass


class Engine:
    def __init__(self, store: Store, registry: FunctionRegistry,
                 clock: Callable[[], datetime] = events.utc_now) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock

    def run_episode(self, instance_id: str) -> tuple[list[Work], bool]:
        """Run one episode if the instance has new events. Returns (work to dispatch, ran)."""
        instance = self._store.instance(instance_id)
        inbox = self._store.inbox(instance_id)
        if instance is None or not inbox:
            return [], False
        if instance.is_terminal:
            # Late events for a finished instance are dropped.
            self._store.discard_inbox(instance_id, [i.row_id for i in inbox])
            return [], True
        return self._episode(instance, self._batch(instance_id, inbox)), True

    def _batch(self, instance_id: str, inbox: list[InboxItem]) -> list[InboxItem]:
        batch = [inbox[0]]
        for item in inbox[1:]:
            if self._allocates(instance_id, item.event):
                break
            batch.append(item)
        return batch

    def _allocates(self, instance_id: str, event: dict[str, Any]) -> bool:
        kind = event["EventType"]
        if kind == EventType.TASK_FAILED:
            row = self._store.task(instance_id, event["TaskScheduledId"])
            return bool(row and row.retry)
        if kind == EventType.TIMER_FIRED:
            row = self._store.task(instance_id, event["TimerId"])
            return bool(row and row.kind == "retry_timer" and row.retry
                        and row.attempt < row.retry["maxNumberOfAttempts"])
        return False

    def _episode(self, instance: Instance, batch: list[InboxItem]) -> list[Work]:
        now = self._clock()
        next_id = instance.next_task_id
        work: list[Work] = []
        new_tasks: list[TaskRow] = []
        scheduled: list[dict[str, Any]] = []

        # Allocation caused by the first event (retry bookkeeping), before user code resumes.
        first = batch[0].event
        if self._allocates(instance.id, first):
            if first["EventType"] == EventType.TASK_FAILED:
                failed = self._store.task(instance.id, first["TaskScheduledId"])
                assert failed is not None and failed.retry is not None
                fire_at = now + timedelta(milliseconds=failed.retry["firstRetryIntervalInMilliseconds"])
                new_tasks.append(TaskRow(instance.id, instance.execution_id, next_id, "retry_timer", failed.name,
                                         failed.input, failed.retry, failed.attempt, events.to_iso(fire_at)))
                scheduled.append(events.timer_created(now, next_id, fire_at))
                work.append(TimerWork(instance.id, instance.execution_id, next_id, fire_at))
            else:
                timer = self._store.task(instance.id, first["TimerId"])
                assert timer is not None and timer.name is not None
                new_tasks.append(TaskRow(instance.id, instance.execution_id, next_id, "activity", timer.name,
                                         timer.input, timer.retry, timer.attempt + 1))
                scheduled.append(events.task_scheduled(now, next_id, timer.name, timer.input))
                work.append(ActivityWork(instance.id, instance.execution_id, next_id, timer.name, timer.input))
            next_id += 1

        past = self._store.history(instance.id)
        for event in past:
            event["IsPlayed"] = True
        incoming = [events.orchestrator_started(now)] + [item.event for item in batch]
        context = {
            "history": past + incoming,
            "instanceId": instance.id,
            "isReplaying": bool(past),
            "parentInstanceId": None,
            "input": instance.input,
            "upperSchemaVersion": UPPER_SCHEMA_VERSION,
        }
        try:
            outcome = self._registry.run_orchestrator(instance.name, context)
        except FunctionNotFound as exc:
            return self._finish_failed(instance, batch, incoming, scheduled, new_tasks, next_id, now, str(exc), None)

        state = outcome.state
        custom_status = _json_or_none(state.get("customStatus"))
        leaves = _flatten(state.get("actions") or [])
        actions_seen = instance.actions_seen
        if outcome.error is None and len(leaves) < actions_seen:
            outcome_error = ("Non-deterministic workflow detected: the orchestrator scheduled fewer actions "
                             "on replay than before.")
            return self._finish_failed(instance, batch, incoming, scheduled, new_tasks, next_id, now,
                                       outcome_error, custom_status)
        try:
            for leaf in leaves[actions_seen:]:
                next_id = self._schedule(instance.id, instance.execution_id, leaf, next_id, now, scheduled,
                                         new_tasks, work)
        except UnsupportedAction as exc:
            return self._finish_failed(instance, batch, incoming, scheduled, new_tasks, next_id, now, str(exc),
                                       custom_status)
        actions_seen = max(actions_seen, len(leaves))

        if outcome.error is not None:
            return self._finish_failed(instance, batch, incoming, scheduled, new_tasks, next_id, now,
                                       outcome.error, custom_status)

        done = bool(state.get("isDone"))
        output = json.dumps(state.get("output")) if done else None
        tail = [events.orchestrator_completed(now)]
        if done:
            tail.append(events.execution_completed(now, failed=False, result_json=output))
        committed = self._store.commit_episode(EpisodeCommit(
            instance.id, instance.execution_id, incoming + scheduled + tail, [i.row_id for i in batch], new_tasks,
            "Completed" if done else "Running", custom_status, output, next_id, actions_seen,
            events.to_iso(now)))
        return work if committed and not done else []

    def _schedule(self, instance_id: str, execution_id: str, action: dict[str, Any], next_id: int,
                  now: datetime, scheduled: list[dict[str, Any]], new_tasks: list[TaskRow], work: list[Work]) -> int:
        kind = action.get("actionType")
        if kind in (ACTION_CALL_ACTIVITY, ACTION_CALL_ACTIVITY_WITH_RETRY):
            name, input_json = action["functionName"], action.get("input")
            retry = action.get("retryOptions") if kind == ACTION_CALL_ACTIVITY_WITH_RETRY else None
            new_tasks.append(TaskRow(instance_id, execution_id, next_id, "activity", name, input_json, retry, 1))
            scheduled.append(events.task_scheduled(now, next_id, name, input_json))
            work.append(ActivityWork(instance_id, execution_id, next_id, name, input_json))
            return next_id + 1
        if kind == ACTION_CREATE_TIMER:
            fire_at = isoparse(action["fireAt"])
            new_tasks.append(TaskRow(instance_id, execution_id, next_id, "timer", fire_at=events.to_iso(fire_at)))
            scheduled.append(events.timer_created(now, next_id, fire_at))
            work.append(TimerWork(instance_id, execution_id, next_id, fire_at))
            return next_id + 1
        if kind == ACTION_WAIT_FOR_EXTERNAL_EVENT:
            return next_id  # keyed by the event name; EventRaised arrives through the inbox
        raise UnsupportedAction(f"The local Durable runner does not support action type {kind}.")

    def _finish_failed(self, instance: Instance, batch: list[InboxItem], incoming: list[dict[str, Any]],
                       scheduled: list[dict[str, Any]], new_tasks: list[TaskRow], next_id: int, now: datetime,
                       error: str, custom_status: str | None) -> list[Work]:
        message = redact(f"Orchestrator function '{instance.name}' failed: {error}")
        log.warning("orchestration %s failed: %s", instance.id, message)
        output = json.dumps(message)
        tail = [events.orchestrator_completed(now),
                events.execution_completed(now, failed=True, result_json=output, failure=message)]
        self._store.commit_episode(EpisodeCommit(
            instance.id, instance.execution_id, incoming + scheduled + tail, [i.row_id for i in batch], new_tasks,
            "Failed", custom_status, output, next_id, instance.actions_seen, events.to_iso(now)))
        return []


def _flatten(actions: list[Any]) -> list[dict[str, Any]]:
    """Leaf actions in the order the SDK numbered them (V1 lists of lists, V2+ compound actions)."""
    leaves: list[dict[str, Any]] = []
    for item in actions:
        if isinstance(item, list):
            leaves.extend(_flatten(item))
        elif "compoundActions" in item:
            leaves.extend(_flatten(item["compoundActions"]))
        else:
            leaves.append(item)
    return leaves


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
