"""Report activities: each reads one piece of the report from Graph as the job's user.

Inputs carry the job's session id and scopes (never a token); the Graph token comes from that session
inside the activity and lives only for the call. Results are the envelopes of `model.ok`/
`model.failed`; transient Graph failures raise `TransientGraphError` so Durable retries the activity.
"""
from __future__ import annotations

from typing import Any

from .. import logging_setup, services
from . import model
from .blueprint import bp
from .graph_reader import GraphReader, TerminalGraphError


PERSON_FIELDS = ("id", "displayName", "userPrincipalName", "mail", "jobTitle", "department", "officeLocation")
PROFILE_SELECT = ",".join(PERSON_FIELDS)

# Graph's @odata.type for the directory objects transitiveMemberOf returns.
_KINDS = {"#microsoft.graph.group": "group", "#microsoft.graph.directoryRole": "directoryRole",
          "#microsoft.graph.administrativeUnit": "administrativeUnit"}


def person(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in PERSON_FIELDS if item.get(key) is not None}


def membership(item: dict[str, Any]) -> dict[str, Any]:
    entry = {"id": item.get("id"), "displayName": item.get("displayName"),
             "kind": _KINDS.get(str(item.get("@odata.type")), "directoryObject")}
    for key in ("description", "mail", "securityEnabled", "mailEnabled"):
        if item.get(key) is not None:
            entry[key] = item[key]
    return entry


def _reader(payload: dict[str, Any]) -> GraphReader:
    return GraphReader(str(payload.get("session") or ""), payload.get("scopes") or ())


def _terminal(name: str, error: TerminalGraphError) -> dict[str, Any]:
    logging_setup.log_event("report_activity_failed", activity=name, code=error.code)
    return model.failed(error.code, error.detail)


@bp.activity_trigger(input_name="payload")
def report_profile(payload: dict) -> dict:
    """The signed-in user's own profile (`/me`)."""
    reader = _reader(payload)
    try:
        body = reader.get(reader.url(f"me?$select={PROFILE_SELECT}"))
    except TerminalGraphError as error:
        return _terminal("report_profile", error)
    return model.ok({"user": person(body or {}), "graphCalls": reader.calls})


@bp.activity_trigger(input_name="payload")
def report_direct_reports(payload: dict) -> dict:
    """Everyone reporting to the user (`/me/directReports`, all pages)."""
    reader = _reader(payload)
    people: list[dict[str, Any]] = []
    try:
        url: str | None = reader.url("me/directReports")
        while url:
            body = reader.get(url) or {}
            people.extend(person(item) for item in body.get("value") or [])
            link = body.get("@odata.nextLink")
            url = reader.check_next_link(link) if link else None
    except TerminalGraphError as error:
        return _terminal("report_direct_reports", error)
    return model.ok({"directReports": people, "graphCalls": reader.calls})


@bp.activity_trigger(input_name="payload")
def report_manager(payload: dict) -> dict:
    """One step up the chain: the manager of the user (`userId` null) or of `userId`; null at the top."""
    reader = _reader(payload)
    user_id = payload.get("userId")
    path = "me/manager" if not user_id else f"users/{user_id}/manager"
    try:
        body = reader.get(reader.url(path), allow_404=True)
    except TerminalGraphError as error:
        return _terminal("report_manager", error)
    return model.ok({"manager": person(body) if body else None, "graphCalls": reader.calls})


@bp.activity_trigger(input_name="payload")
def report_groups_page(payload: dict) -> dict:
    """One page of transitive memberships; `nextLink` null asks for the first page."""
    reader = _reader(payload)
    try:
        link = payload.get("nextLink")
        url = reader.check_next_link(link) if link else \
            reader.url(f"me/transitiveMemberOf?$top={int(payload.get('pageSize') or model.GROUPS_PAGE_SIZE)}")
        body = reader.get(url) or {}
        next_link = body.get("@odata.nextLink")
        if next_link:
            reader.check_next_link(next_link)
    except TerminalGraphError as error:
        return _terminal("report_groups_page", error)
    return model.ok({"groups": [membership(item) for item in body.get("value") or []],
                     "nextLink": next_link, "graphCalls": reader.calls})


@bp.activity_trigger(input_name="payload", activity=model.END_SESSION_ACTIVITY)
def report_end_session(payload: dict) -> dict:
    """The job's last step: delete its long-running session (refresh token included)."""
    services.current().sessions.end(str(payload.get("session") or ""))
    return model.ok({"ended": True})
