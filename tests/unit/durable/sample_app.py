"""A small app exercising what the local runner supports: sequences, fan-out, retries, timers, events."""
from __future__ import annotations

import threading
from datetime import timedelta

import azure.durable_functions as df

app = df.DFApp()

# Test knobs, keyed by a string an orchestration passes to the activity.
FAILURES_LEFT: dict[str, int] = {}
CALLS: dict[str, int] = {}
_lock = threading.Lock()
GATE = threading.Event()


@app.activity_trigger(input_name="payload")
def echo(payload: dict) -> dict:
    return {"echo": payload}


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    with _lock:
        CALLS[key] = CALLS.get(key, 0) + 1
        if FAILURES_LEFT.get(key, 0) > 0:
            FAILURES_LEFT[key] -= 1
            raise RuntimeError(f"transient failure for {key}")
    return f"ok:{key}"


@app.activity_trigger(input_name="key")
def gated(key: str) -> str:
    with _lock:
        CALLS[key] = CALLS.get(key, 0) + 1
    GATE.wait(30)
    return f"gated:{key}"


@app.activity_trigger(input_name="n")
async def square(n: int) -> int:
    return n * n


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("echo", {"step": 1})
    context.set_custom_status({"completed": 1, "total": 2})
    second = yield context.call_activity(echo, {"step": 2, "prev": first})
    context.set_custom_status({"completed": 2, "total": 2})
    return {"input": context.get_input(), "second": second}


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    numbers = context.get_input()
    results = yield context.task_all([context.call_activity("square", n) for n in numbers])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    keys = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=3)
    tasks = [context.call_activity_with_retry("flaky", options, key) for key in keys]
    try:
        results = yield context.task_all(tasks)
    except Exception as exc:
        return {"error": str(exc).split("\n")[0]}
    after = yield context.call_activity("echo", "after")
    return {"results": results, "after": after}


@app.orchestration_trigger(context_name="context")
def timer_then_event(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=100))
    context.set_custom_status("waiting")
    approval = yield context.wait_for_external_event("approval")
    return {"approval": approval}


@app.orchestration_trigger(context_name="context")
def gated_pair(context: df.DurableOrchestrationContext):
    key = context.get_input()
    results = yield context.task_all([context.call_activity("gated", f"{key}-a"),
                                      context.call_activity("gated", f"{key}-b")])
    return results


@app.orchestration_trigger(context_name="context")
def crashes(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", 1)
    raise ValueError("boom in orchestrator")


@app.orchestration_trigger(context_name="context")
def retry_storm(context: df.DurableOrchestrationContext):
    """Many retried activities failing and completing concurrently, then a second wave."""
    keys = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=4)
    first = yield context.task_all([context.call_activity_with_retry("flaky", options, k) for k in keys])
    second = yield context.task_all([context.call_activity_with_retry("flaky", options, f"{k}-2") for k in keys])
    return first + second


@app.activity_trigger(input_name="value")
def leaky(value: str) -> str:
    raise RuntimeError(f"upstream said: Authorization: Bearer {value} and token {value}")


@app.orchestration_trigger(context_name="context")
def leaky_orchestration(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("leaky", context.get_input())
    except Exception as exc:
        raise ValueError(f"gave up: {exc}")


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    """An activity against a long timer: task_any returns the activity, the timer is cancelled."""
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    work = context.call_activity("echo", "fast")
    winner = yield context.task_any([work, timeout])
    if winner == work:
        timeout.cancel()
        return {"winner": "activity", "value": work.result, "id": str(context.new_uuid())}
    return {"winner": "timer"}


# Indexed once per process: azure-functions refuses to index the same app twice, and several test modules use it.
FUNCTIONS = app.get_functions()
