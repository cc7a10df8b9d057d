"""History events in the shape the Durable extension hands to out-of-process orchestrators.

The SDK parses each event with `HistoryEvent(EventType, EventId, IsPlayed, Timestamp, **fields)`
(azure/durable_functions/models/history/HistoryEvent.py) and matches completions to tasks by
`TaskScheduledId` (TaskCompleted/TaskFailed), `TimerId` (TimerFired) and `Name` (EventRaised);
ExecutionStarted must carry `Version` because the context reads it when it is built.
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import IntEnum
from typing import Any


class EventType(IntEnum):
    """Numbering of azure.durable_functions.models.history.HistoryEventType (DTFx's enum)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15


# DTFx OrchestrationStatus values used in ExecutionCompleted.OrchestrationStatus.
ORCHESTRATION_STATUS_COMPLETED = 1
ORCHESTRATION_STATUS_FAILED = 3


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_iso(moment: datetime) -> str:
    """ISO-8601 with microseconds and a `Z`, the form both dateutil and the SDK's client parse."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(event_type: EventType, event_id: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"EventType": int(event_type), "EventId": event_id, "IsPlayed": False,
            "Timestamp": to_iso(at), **fields}


def orchestrator_started(at: datetime) -> dict[str, Any]:
    return _event(EventType.ORCHESTRATOR_STARTED, -1, at)


def orchestrator_completed(at: datetime) -> dict[str, Any]:
    return _event(EventType.ORCHESTRATOR_COMPLETED, -1, at)


def execution_started(at: datetime, name: str, input_json: str | None, instance_id: str,
                      execution_id: str) -> dict[str, Any]:
    return _event(EventType.EXECUTION_STARTED, -1, at, Name=name, Input=input_json, Version=None,
                  OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id})


def execution_completed(at: datetime, *, failed: bool, result_json: str | None,
                        failure: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "OrchestrationStatus": ORCHESTRATION_STATUS_FAILED if failed else ORCHESTRATION_STATUS_COMPLETED,
        "Result": result_json,
    }
    if failure is not None:
        fields["FailureDetails"] = {"ErrorMessage": failure}
    return _event(EventType.EXECUTION_COMPLETED, -1, at, **fields)


def execution_terminated(at: datetime, reason: str) -> dict[str, Any]:
    return _event(EventType.EXECUTION_TERMINATED, -1, at, Input=reason)


def task_scheduled(at: datetime, task_id: int, name: str, input_json: str | None) -> dict[str, Any]:
    return _event(EventType.TASK_SCHEDULED, task_id, at, Name=name, Input=input_json)


def task_completed(at: datetime, task_id: int, result_json: str | None) -> dict[str, Any]:
    return _event(EventType.TASK_COMPLETED, -1, at, TaskScheduledId=task_id, Result=result_json)


def task_failed(at: datetime, task_id: int, reason: str, details: str) -> dict[str, Any]:
    return _event(EventType.TASK_FAILED, -1, at, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_created(at: datetime, timer_id: int, fire_at: datetime) -> dict[str, Any]:
    return _event(EventType.TIMER_CREATED, timer_id, at, FireAt=to_iso(fire_at))


def timer_fired(at: datetime, timer_id: int, fire_at: datetime) -> dict[str, Any]:
    return _event(EventType.TIMER_FIRED, -1, at, TimerId=timer_id, FireAt=to_iso(fire_at))


def event_raised(at: datetime, name: str, input_json: str | None) -> dict[str, Any]:
    return _event(EventType.EVENT_RAISED, -1, at, Name=name, Input=input_json)
