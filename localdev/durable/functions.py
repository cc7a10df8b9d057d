"""Find the orchestrator and activity functions of a loaded app and invoke them as the host does.

The Functions host hands an orchestrator its context as JSON (the `orchestrationTrigger` binding) and
takes back the JSON state the SDK's `Orchestrator.handle` returns; an activity gets its input as the
JSON text of the scheduled action and returns a JSON-serialisable value. Both conversions use the SDK's
own serialisers (`df_loads`/`df_dumps`) so payloads round-trip exactly as they would in Azure.
"""
from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from azure.functions._durable_functions import df_dumps, df_loads

# The SDK reports an orchestrator exception by raising with this marker followed by the state JSON
# (TaskOrchestrationExecutor.get_orchestrator_state_str); the extension parses it the same way.
OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"


@dataclass(frozen=True)
class OrchestratorOutcome:
    """What one orchestrator episode produced."""

    state: dict[str, Any]
    error: str | None = None  # set when user code raised: the orchestration fails


@dataclass(frozen=True)
class _Registered:
    name: str
    param: str
    func: Callable[..., Any]


class FunctionNotFound(LookupError):
    pass


class FunctionRegistry:
    """Orchestrators and activities declared on an app (`app.get_functions()`)."""

    def __init__(self, functions: Iterable[Any]) -> None:
        self._orchestrators: dict[str, _Registered] = {}
        self._activities: dict[str, _Registered] = {}
        for function in functions:
            trigger = function.get_trigger()
            if trigger is None:
                continue
            kind = trigger.get_binding_name()
            name = function.get_function_name()
            entry = _Registered(name, trigger.name, function.get_user_function())
            if kind == "orchestrationTrigger":
                self._add(self._orchestrators, entry, getattr(trigger, "orchestration", None))
            elif kind == "activityTrigger":
                self._add(self._activities, entry, getattr(trigger, "activity", None))

    @staticmethod
    def _add(table: dict[str, _Registered], entry: _Registered, alias: str | None) -> None:
        table[entry.name] = entry
        if alias:
            table[alias] = entry

    def has_orchestrator(self, name: str) -> bool:
        return name in self._orchestrators

    def orchestrator_names(self) -> list[str]:
        return sorted(self._orchestrators)

    def run_orchestrator(self, name: str, context: dict[str, Any]) -> OrchestratorOutcome:
        entry = self._orchestrators.get(name)
        if entry is None:
            raise FunctionNotFound(f"The function '{name}' doesn't exist or is not an orchestrator function.")
        try:
            state_json = entry.func(**{entry.param: json.dumps(context)})
        except Exception as exc:  # the SDK's way of reporting an orchestrator failure
            return _parse_failure(str(exc))
        return OrchestratorOutcome(state=json.loads(state_json))

    def run_activity(self, name: str, input_json: str | None) -> str:
        """Run an activity to completion (on the calling thread) and return its JSON result."""
        entry = self._activities.get(name)
        if entry is None:
            raise FunctionNotFound(f"The function '{name}' doesn't exist or is not an activity function.")
        value = df_loads(input_json) if input_json is not None else None
        result = entry.func(**{entry.param: value})
        if inspect.isawaitable(result):
            # Activities run on worker threads; an async activity gets its own loop there.
            result = asyncio.run(_await(result))
        return df_dumps(result)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _parse_failure(message: str) -> OrchestratorOutcome:
    reason, marker, state_json = message.partition(OUT_OF_PROC_LABEL)
    state: dict[str, Any] = {}
    if marker:
        try:
            state = json.loads(state_json)
        except ValueError:
            state = {}
    return OrchestratorOutcome(state=state, error=reason.strip() or "Orchestrator function failed.")
