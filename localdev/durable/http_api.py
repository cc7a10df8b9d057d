"""The subset of the Durable out-of-process HTTP API that `DurableOrchestrationClient` calls.

Paths and status codes follow the extension's HTTP API: start (`POST orchestrators/{name}[/{id}]`,
202 with the management payload, 400 for an unknown orchestrator), status (`GET instances/{id}`: 202
while Pending/Running, 200 once finished, 404 unknown), list (`GET instances/`), terminate
(`POST .../terminate`: 202, 410 when already finished, 404), raise event (`POST .../raiseEvent/{name}`),
purge (`DELETE instances/{id}`: 200 with `instancesDeleted`, 404) and purge by filter (`DELETE instances/`
with `createdTimeFrom` (required, 400 without), optional `createdTimeTo` and `runtimeStatus` (comma
separated): 200 with `instancesDeleted`, 404 when nothing matched).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aiohttp import web
from dateutil.parser import isoparse

from .contract import WEBHOOK_PREFIX, InstanceExists

if TYPE_CHECKING:
    from .runtime import DurableRuntime


def build_routes(runtime: "DurableRuntime") -> list[web.RouteDef]:
    prefix = WEBHOOK_PREFIX

    async def start(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not runtime.registry.has_orchestrator(name):
            message = f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            return web.json_response({"Message": "One or more of the arguments submitted is incorrect",
                                      "ExceptionMessage": message}, status=400)
        try:
            input_json = _input_json(await request.text())
        except ValueError:
            return web.json_response({"Message": "Only application/json request content is supported"},
                                     status=400)
        try:
            instance_id = runtime.start_new(name, request.match_info.get("instance_id"), input_json)
        except InstanceExists as exc:
            return web.json_response({"Message": str(exc), "ExceptionMessage": str(exc)}, status=409)
        payload = runtime.management_urls(instance_id)
        return web.json_response(payload, status=202, headers={
            "Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    async def get_status(request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        status = runtime.status(instance_id)
        if status is None:
            return web.Response(status=404)
        history = runtime.history(instance_id) if _flag(request, "showHistory") else None
        doc = status.to_json(show_input=_flag(request, "showInput", default=True), history=history)
        code = 202 if status.instance.status in ("Pending", "Running") else 200
        return web.json_response(doc, status=code)

    async def list_instances(request: web.Request) -> web.Response:
        show_input = _flag(request, "showInput", default=True)
        wanted = {s for s in request.query.get("runtimeStatus", "").split(",") if s}
        prefix_filter = request.query.get("instanceIdPrefix", "")
        docs = [s.to_json(show_input=show_input) for s in runtime.statuses()
                if (not wanted or s.instance.status in wanted) and s.instance.id.startswith(prefix_filter)]
        return web.json_response(docs)

    def refused_unless_running(instance_id: str) -> web.Response | None:
        """404 for an unknown instance, 410 for a finished one: what terminate and raise event both answer."""
        status = runtime.status(instance_id)
        if status is None:
            return web.json_response(None, status=404)
        return web.json_response(None, status=410) if status.instance.is_terminal else None

    async def terminate(request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        if (refused := refused_unless_running(instance_id)) is not None:
            return refused
        runtime.terminate(instance_id, request.query.get("reason", ""))
        return web.json_response(None, status=202)

    async def raise_event(request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        if (refused := refused_unless_running(instance_id)) is not None:
            return refused
        try:
            input_json = _input_json(await request.text())
        except ValueError:
            return web.json_response(None, status=400)
        runtime.raise_event(instance_id, request.match_info["event"], input_json)
        return web.json_response(None, status=202)

    async def purge(request: web.Request) -> web.Response:
        if runtime.purge(request.match_info["instance_id"]):
            return web.json_response({"instancesDeleted": 1})
        return web.json_response({"instancesDeleted": 0}, status=404)

    async def purge_by(request: web.Request) -> web.Response:
        try:
            created_from = _moment(request.query.get("createdTimeFrom"))
            created_to = _moment(request.query.get("createdTimeTo"))
        except ValueError:
            return web.json_response({"Message": "createdTimeFrom and createdTimeTo must be ISO 8601 timestamps"},
                                     status=400)
        if created_from is None:
            return web.json_response({"Message": "createdTimeFrom is required to purge instance histories"},
                                     status=400)
        wanted = frozenset(s for s in request.query.get("runtimeStatus", "").split(",") if s) or None
        deleted = runtime.purge_by(created_from, created_to, wanted)
        return web.json_response({"instancesDeleted": deleted}, status=200 if deleted else 404)

    return [
        web.delete(prefix + "instances", purge_by),
        web.delete(prefix + "instances/", purge_by),
        web.post(prefix + "orchestrators/{name}", start),
        web.post(prefix + "orchestrators/{name}/{instance_id}", start),
        web.get(prefix + "instances", list_instances),
        web.get(prefix + "instances/", list_instances),
        web.get(prefix + "instances/{instance_id}", get_status),
        web.delete(prefix + "instances/{instance_id}", purge),
        web.post(prefix + "instances/{instance_id}/terminate", terminate),
        web.post(prefix + "instances/{instance_id}/raiseEvent/{event}", raise_event),
    ]


def _moment(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp; one without an offset is UTC, as the SDK sends them."""
    if not value:
        return None
    moment = isoparse(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def _input_json(body: str) -> str | None:
    """The JSON text of the orchestration input.

    The SDK posts `json=df_dumps(input)`, so the body is a JSON string holding the input's JSON text;
    a direct caller posts the JSON value itself. Both end up as the input's JSON text.
    """
    if not body.strip():
        return None
    value: Any = json.loads(body)
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            return json.dumps(value)
    return None if value is None else json.dumps(value)
