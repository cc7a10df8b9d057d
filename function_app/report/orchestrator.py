"""The profile report orchestration: fan out over Graph, then walk the manager chain and group pages.

Wave 1 runs four activities in parallel (profile, direct reports, first manager, first group page) and
fans in with `task_all`. Then each later wave advances both sequential lanes at once (one manager up the
chain, the next `@odata.nextLink` page) until the top of the chain and the last page. Progress goes to
custom status after every wave. Every activity is called with retry for transient Graph failures.

Replay rules: no clock, randomness or I/O here; time comes from `context.current_utc_datetime`.
Expected failures never raise: the orchestration completes with `{"error": {...}}` as its output, so
no exception text or stack trace is ever recorded as the job's result. A job past its deadline (the
input's `deadline`, set by the starter to the session's own expiry) fails with `report_timed_out`.
Whatever the outcome, the last step ends the job's long-running session (the refresh token goes with it);
a job that crashes or is terminated never reaches that step, so the status API ends it then.
"""
from __future__ import annotations

from datetime import timezone
from typing import Any, Generator

import azure.durable_functions as df

from . import model
from .blueprint import bp


class _JobFailed(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _unwrap(envelope: Any) -> dict[str, Any]:
    if isinstance(envelope, dict) and "error" in envelope:
        error = envelope["error"] or {}
        raise _JobFailed(str(error.get("code") or "report_failed"), str(error.get("detail") or ""))
    if not isinstance(envelope, dict) or not isinstance(envelope.get("value"), dict):
        raise _JobFailed("report_failed", "An activity returned an unexpected result.")
    return envelope["value"]


def _retry_exhausted(error: Exception) -> _JobFailed:
    """Map a failure that survived every retry to a job error, by the code the activity raised with."""
    text = str(error)
    for code in ("graph_throttled", "identity_unavailable", "graph_unavailable"):
        if code in text:
            return _JobFailed(code, model.ERROR_TITLES[code] + "; try again in a few minutes.")
    return _JobFailed("report_failed", "A step of the report failed repeatedly.")


@bp.orchestration_trigger(context_name="context", orchestration=model.ORCHESTRATOR_NAME)
def profile_report_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job = model.JobInput.from_json(context.get_input())
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=model.RETRY_FIRST_INTERVAL_MS,
                            max_number_of_attempts=model.RETRY_MAX_ATTEMPTS)
    outcome = yield from _build_report(context, job, retry)
    try:
        yield context.call_activity_with_retry(model.END_SESSION_ACTIVITY, retry,
                                               {"session": job.session_id})
    except Exception:  # noqa: BLE001 - the session expires on its own at the deadline
        pass
    return outcome


def _build_report(context: df.DurableOrchestrationContext, job: model.JobInput,
                  retry: df.RetryOptions) -> Generator[Any, Any, dict[str, Any]]:
    def call(activity: str, **params: Any) -> Any:
        return context.call_activity_with_retry(activity, retry, job.activity_input(**params))

    def check_deadline() -> None:
        now = context.current_utc_datetime
        if (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp() > job.deadline:
            raise _JobFailed("report_timed_out", "The report ran past its time limit; start a new one.")

    calls = 0
    completed = 0
    context.set_custom_status(model.progress(0, "Reading profile, direct reports, manager and groups", 0))
    try:
        check_deadline()
        try:
            first = yield context.task_all([call("report_profile"), call("report_direct_reports"),
                                            call("report_manager", userId=None),
                                            call("report_groups_page", nextLink=None)])
        except Exception as error:
            raise _retry_exhausted(error) from None
        profile, reports, manager_step, groups_page = (_unwrap(result) for result in first)
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
            check_deadline()
            wave: list[Any] = []
            lanes: list[str] = []
            if manager is not None:
                if manager.get("id") in seen or len(chain) >= model.MAX_MANAGER_DEPTH:
                    manager = None  # a cycle or an absurd depth: stop climbing
                    completed += 1
                else:
                    chain.append(manager)
                    seen.add(manager.get("id"))
                    wave.append(call("report_manager", userId=manager["id"]))
                    lanes.append("manager")
                    level += 1
            if next_link is not None:
                wave.append(call("report_groups_page", nextLink=next_link))
                lanes.append("groups")
                page += 1
            if not wave:
                break
            context.set_custom_status(model.progress(
                completed, _stage(manager is not None, level, next_link is not None, page), calls))
            try:
                results = yield context.task_all(wave)
            except Exception as error:
                raise _retry_exhausted(error) from None
            for lane, result in zip(lanes, results):
                value = _unwrap(result)
                calls += int(value.get("graphCalls") or 0)
                if lane == "manager":
                    manager = value["manager"]
                    completed += manager is None
                else:
                    groups.extend(value["groups"])
                    next_link = value["nextLink"]
                    completed += next_link is None
    except _JobFailed as failure:
        context.set_custom_status(model.progress(completed, "Failed", calls))
        return {"error": model.job_error(failure.code, failure.detail)}

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
