"""The profile report orchestration: fan out over Graph, then walk the manager chain and group pages.

Wave 1 runs four activities in parallel (profile, direct reports, first manager, first group page) and
fans in with `task_all`. Then each later wave advances both sequential lanes at once (one manager up the
chain, the next `@odata.nextLink` page) until the top of the chain and the last page. Progress goes to
custom status after every wave.

Activities return envelopes, never raise for an expected failure: a failure marked `retryable` (throttling,
an outage) is tried again after a durable timer, up to `RETRY_MAX_ATTEMPTS`, waiting at least its Retry-After;
any other failure ends the job with its code. The decision reads the envelope's fields, never exception text.
An activity that raises (a bug) ends the job with `report_failed`.

Replay rules: no clock, randomness or I/O here; time comes from `context.current_utc_datetime`.
The orchestration completes with `{"error": {...}}` as its output on failure, so no exception text or stack
trace is ever recorded as the job's result. A job past its deadline (the input's `deadline`, set by the
starter to the session's own expiry) fails with `report_timed_out`. Whatever the outcome, the last step ends
the job's long-running session (the refresh token goes with it); a job that crashes or is terminated never
reaches that step, so the status API ends it then.
"""
from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any, Generator

import azure.durable_functions as df

from . import model
from .blueprint import bp

Envelope = dict[str, Any]


@bp.orchestration_trigger(context_name="context", orchestration=model.ORCHESTRATOR_NAME)
def profile_report_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = model.JobInput.from_json(context.get_input())
    try:
        outcome = yield from _build_report(context, job)
    except Exception:  # noqa: BLE001 - an activity raised: a bug, reported without its text
        context.set_custom_status(model.progress(0, "Failed", 0))
        outcome = {"error": model.job_error("report_failed", "A step of the report failed unexpectedly.")}
    try:
        yield context.call_activity(model.END_SESSION_ACTIVITY, {"session": job.session_id})
    except Exception:  # noqa: BLE001 - the session expires on its own at the deadline
        pass
    return outcome


def _run_wave(context: df.DurableOrchestrationContext, job: model.JobInput,
              steps: list[tuple[str, dict[str, Any]]]) -> Generator[Any, Any, list[Envelope]]:
    """Run the steps' activities in parallel, retrying the retryable failures; the final envelopes, in order."""
    results: list[Envelope] = [{} for _ in steps]
    pending = list(range(len(steps)))
    for attempt in range(1, model.RETRY_MAX_ATTEMPTS + 1):
        outcomes = yield context.task_all([context.call_activity(steps[i][0], job.activity_input(**steps[i][1]))
                                           for i in pending])
        retry, delay = [], 0.0
        for index, outcome in zip(pending, outcomes):
            results[index] = outcome
            error = _error_of(outcome)
            if error is not None and error.get("retryable") and attempt < model.RETRY_MAX_ATTEMPTS:
                retry.append(index)
                delay = max(delay, model.retry_delay_seconds(error, attempt))
        if not retry:
            break
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=delay))
        pending = retry
    return results


def _error_of(envelope: Any) -> dict[str, Any] | None:
    if isinstance(envelope, dict) and "error" in envelope:
        return envelope["error"] if isinstance(envelope["error"], dict) else {}
    if not isinstance(envelope, dict) or not isinstance(envelope.get("value"), dict):
        return {"code": "report_failed", "detail": "An activity returned an unexpected result."}
    return None


def _job_error(envelopes: list[Envelope]) -> dict[str, Any] | None:
    """The job's error when a step failed for good: its code, and a detail fit to show the user."""
    for envelope in envelopes:
        error = _error_of(envelope)
        if error is None:
            continue
        code = str(error.get("code") or "report_failed")
        if error.get("retryable"):
            title = model.ERROR_TITLES.get(code, model.ERROR_TITLES["report_failed"])
            return model.job_error(code, f"{title}; try again in a few minutes.")
        return model.job_error(code, str(error.get("detail") or ""), error.get("consentUrl"))
    return None


def _build_report(context: df.DurableOrchestrationContext,
                  job: model.JobInput) -> Generator[Any, Any, dict[str, Any]]:
    calls = 0
    completed = 0

    def fail(error: dict[str, Any]) -> dict[str, Any]:
        context.set_custom_status(model.progress(completed, "Failed", calls))
        return {"error": error}

    def past_deadline() -> bool:
        now = context.current_utc_datetime
        return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp() > job.deadline

    timed_out = model.job_error("report_timed_out", "The report ran past its time limit; start a new one.")
    context.set_custom_status(model.progress(0, "Reading profile, direct reports, manager and groups", 0))
    if past_deadline():
        return fail(timed_out)
    first = yield from _run_wave(context, job, [("report_profile", {}), ("report_direct_reports", {}),
                                                ("report_manager", {"userId": None}),
                                                ("report_groups_page", {"nextLink": None})])
    if (error := _job_error(first)) is not None:
        return fail(error)
    profile, reports, manager_step, groups_page = (result["value"] for result in first)
    calls += sum(int(part.get("graphCalls") or 0) for part in (profile, reports, manager_step, groups_page))
    user = profile["user"]
    chain: list[dict[str, Any]] = []
    seen = {user.get("id")}
    groups: list[dict[str, Any]] = list(groups_page["groups"])
    manager = manager_step["manager"]
    next_link = groups_page["nextLink"]
    completed = 2 + (manager is None) + (next_link is None)
    level, page = 1, 1

    while manager is not None or next_link is not None:
        if past_deadline():
            return fail(timed_out)
        steps: list[tuple[str, dict[str, Any]]] = []
        if manager is not None:
            if manager.get("id") in seen or len(chain) >= model.MAX_MANAGER_DEPTH:
                manager = None  # a cycle or an absurd depth: stop climbing
                completed += 1
            else:
                chain.append(manager)
                seen.add(manager.get("id"))
                steps.append(("report_manager", {"userId": manager["id"]}))
                level += 1
        if next_link is not None:
            steps.append(("report_groups_page", {"nextLink": next_link}))
            page += 1
        if not steps:
            break
        context.set_custom_status(model.progress(
            completed, _stage(manager is not None, level, next_link is not None, page), calls))
        results = yield from _run_wave(context, job, steps)
        if (error := _job_error(results)) is not None:
            return fail(error)
        for (activity, _), result in zip(steps, results):
            value = result["value"]
            calls += int(value.get("graphCalls") or 0)
            if activity == "report_manager":
                manager = value["manager"]
                completed += manager is None
            else:
                groups.extend(value["groups"])
                next_link = value["nextLink"]
                completed += next_link is None

    context.set_custom_status(model.progress(len(model.SECTIONS), "Done", calls))
    return {
        "generatedAt": context.current_utc_datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": user,
        "managerChain": chain,
        "directReports": reports["directReports"],
        "groups": groups,
        "groupCount": len(groups),
    }


def _stage(climbing: bool, level: int, paging: bool, page: int) -> str:
    parts = []
    if climbing:
        parts.append(f"manager chain level {level}")
    if paging:
        parts.append(f"groups page {page}")
    return "Reading " + " and ".join(parts)
