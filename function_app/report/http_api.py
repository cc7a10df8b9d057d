"""HTTP API of the report job: `POST /api/jobs/profile-report`, `GET /api/jobs/{id}` and
`POST /api/jobs/{id}/cancel`.

The starter authenticates the caller and opens the job's long-running session: a fresh OBO exchange with
the caller's current token, never served from a cache, so Conditional Access is evaluated for this token
and a refusal (401 `interaction_required` with the claims) creates no job. The session keeps the refresh
token so activities get Graph tokens long after the caller's access token expires. The orchestration's
input holds only the session id, the owner, the scopes and the deadline. Its answer points at this API's own status route: Durable's webhook URLs (which
carry the task hub's system key in Azure) never leave the server.

The status and cancel routes answer only the job's owner (tenant + object id recorded in the input); any
other caller, like an unknown id, gets the same 404. Cancelling terminates the orchestration and ends its
session at once, so nothing more is read on the user's behalf; a job that already ended answers 409. Job outcome mapping (what the SPA renders):
- Running/Pending: `{id, runtimeStatus, progress}`;
- success: `{id, runtimeStatus: "Completed", progress, result}`;
- an expected failure (the orchestration completed with `{"error": ...}`, e.g. `interaction_required`
  when the user's sign-in was revoked): `{id, runtimeStatus: "Failed", progress, error}`;
- an orchestration that crashed or was terminated: `runtimeStatus` Failed/Terminated with a generic
  `error` (`report_failed`); the internal message stays in the server log, and the job's session, which
  the orchestration never got to end, is ended here.
"""

import asyncio
import json
import logging
import re
import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from .. import logging_setup, services
from ..errors import Conflict, NotFound, http_handler
from . import model
from .blueprint import bp

_INSTANCE_ID = re.compile(r"[A-Za-z0-9-]{1,128}")  # fullmatch: `$` would take a trailing newline
STATUS_ROUTE_PREFIX = "/api/jobs/"
ENDED_ABNORMALLY = ("Failed", "Terminated", "Canceled")  # the orchestration never ended the job's session


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers={"Cache-Control": "no-store", **(headers or {})})


def _accepted(instance_id: str) -> func.HttpResponse:
    """202 pointing at the job's status route (`JobAccepted`), for a start and for a cancel."""
    status_url = STATUS_ROUTE_PREFIX + instance_id
    return _json({"id": instance_id, "statusUrl": status_url}, 202, {"Location": status_url, "Retry-After": "1"})


def _prepare_job(req: func.HttpRequest) -> model.JobInput:
    """Blocking part of the start: validate the caller and open the job's session."""
    svc = services.current()
    caller = svc.authenticate(req.headers)
    scopes = svc.settings.report_graph_scopes
    session_id = svc.sessions.start(caller.principal, caller.assertion, scopes, model.MAX_RUN_SECONDS)
    return model.JobInput(tenant_id=caller.principal.tenant_id, object_id=caller.principal.object_id,
                          scopes=tuple(scopes), session_id=session_id,
                          deadline=int(time.time()) + model.MAX_RUN_SECONDS)


@bp.route(route="jobs/profile-report", methods=["POST"])
@bp.durable_client_input(client_name="client")
@http_handler("start_profile_report")
async def start_profile_report(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    # Token validation and OBO use blocking HTTP; keep them off the worker's event loop.
    job = await asyncio.to_thread(_prepare_job, req)
    try:
        instance_id = await client.start_new(model.ORCHESTRATOR_NAME, None, job.to_json())
    except BaseException:
        await asyncio.to_thread(services.current().sessions.end, job.session_id)  # no job, no session
        raise
    logging_setup.log_event("report_started", instance_id=instance_id)
    return _accepted(instance_id)


async def _owned_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> tuple[str, Any, Any]:
    """The caller's job named in the route: (instance id, durable status, input); NotFound for anyone else's."""
    svc = services.current()
    caller = await asyncio.to_thread(svc.authenticate, req.headers)
    instance_id = req.route_params.get("id") or ""
    not_found = NotFound("No report job with this id belongs to you.")
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise not_found
    status = await client.get_status(instance_id, show_input=True)
    job_input = _as_json(status.input_) if status else None
    if not status or model.owner_of(job_input) != (caller.principal.tenant_id, caller.principal.object_id):
        raise not_found
    return instance_id, status, job_input


async def _end_session(job_input: Any) -> None:
    session_id = model.session_of(job_input)
    if session_id:
        await asyncio.to_thread(services.current().sessions.end, session_id)  # idempotent


@bp.route(route="jobs/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@http_handler("get_profile_report")
async def get_profile_report(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id, status, job_input = await _owned_job(req, client)
    view = job_view(instance_id, status)
    if view["runtimeStatus"] in ENDED_ABNORMALLY:
        await _end_session(job_input)
    return _json(view)


@bp.route(route="jobs/{id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
@http_handler("cancel_profile_report")
async def cancel_profile_report(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id, status, job_input = await _owned_job(req, client)
    if _runtime_status(status) not in ("Pending", "Running"):
        raise Conflict("This report job has already ended; there is nothing to cancel.")
    # Durable answers a terminate of an instance that finished meanwhile with 410, which the SDK accepts.
    await client.terminate(instance_id, "cancelled by its owner")
    await _end_session(job_input)  # activities still in flight can no longer get a Graph token
    logging_setup.log_event("report_cancelled", instance_id=instance_id)
    return _accepted(instance_id)


def _runtime_status(status: Any) -> str:
    return status.runtime_status.value if status.runtime_status is not None else "Pending"


def job_view(instance_id: str, status: Any) -> dict[str, Any]:
    runtime_status = _runtime_status(status)
    view: dict[str, Any] = {"id": instance_id, "runtimeStatus": runtime_status,
                            "progress": _as_json(status.custom_status)}
    output = _as_json(status.output)
    if runtime_status == "Completed":
        if isinstance(output, dict) and "error" in output:
            view["runtimeStatus"] = "Failed"
            view["error"] = output["error"]
        else:
            view["result"] = output
    elif runtime_status in ENDED_ABNORMALLY:
        logging_setup.log_event("report_job_ended", logging.WARNING, instance_id=instance_id, status=runtime_status)
        view["error"] = model.job_error("report_failed", f"The report job {runtime_status.lower()}.")
    return view


def _as_json(value: Any) -> Any:
    """Durable returns input/output/custom status as JSON values, some hosts as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
