"""Report activities: each reads one piece of the report from Graph as the job's user.

Inputs carry the job's session id and scopes (never a token); the Graph token comes from that session
inside the activity and lives only for the call. Graph is read through the product's one Graph path
(`GraphClient` with one attempt per call, `DelegatedGraph` for what a 401/403 means for the token).
Results are envelopes (`model.ok` / `model.failed`): a failure says whether retrying can help, and the
orchestration decides on that field, never on exception text.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlsplit

from .. import logging_setup, services
from ..errors import ApiError, NotFound, RetryableError
from ..graph import is_graph_link
from . import model
from .blueprint import bp

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


class _Reader:
    """GETs against Graph as the job's user, counted; one per activity call."""

    def __init__(self, payload: dict[str, Any]) -> None:
        svc = services.current()
        self._graph = svc.step_graph
        self._tokens = svc.session_tokens(str(payload.get("session") or ""), payload.get("scopes") or ())
        self._delegated = svc.delegated_graph
        base = urlsplit(svc.settings.graph_base_url)
        self._origin, self._base_path = f"{base.scheme}://{base.netloc}", base.path.rstrip("/") + "/"
        self.calls = 0

    def get(self, path_or_link: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        self.calls += 1
        return self._delegated.call(self._tokens, lambda token: self._graph.get_json(token, path_or_link, params))

    def next_link(self, link: Any) -> str | None:
        """An `@odata.nextLink` to follow, or None; a link outside Graph ends the job (the token would go there)."""
        if not link:
            return None
        if not isinstance(link, str) or not is_graph_link(link, self._origin, self._base_path):
            raise _OutsideGraph()
        return link


class _OutsideGraph(ApiError):
    """A paging link that leaves Microsoft Graph: never followed, and retrying can't change it."""
    status, code, title = 502, "report_failed", "The report could not be built"


def _step(name: str, payload: dict[str, Any], work: Callable[[_Reader], dict[str, Any]]) -> dict[str, Any]:
    with logging_setup.correlation_scope():
        reader = _Reader(payload)
        try:
            value = work(reader)
        except _OutsideGraph:
            return _failed(name, "report_failed", "Microsoft Graph returned a paging link outside Graph.", False,
                           None)
        except RetryableError as error:
            return _failed(name, error.code, error.detail, True, error.retry_after)
        except ApiError as error:
            return _failed(name, error.code, error.detail, False, None, error.extra.get("consentUrl"))
        return model.ok({**value, "graphCalls": reader.calls})


def _failed(name: str, code: str, detail: str, retryable: bool, retry_after: float | None,
            consent_url: str | None = None) -> dict[str, Any]:
    logging_setup.log_event("report_activity_failed", activity=name, code=code, retryable=retryable)
    return model.failed(code, detail, retryable=retryable, retry_after=retry_after, consent_url=consent_url)


@bp.activity_trigger(input_name="payload")
def report_profile(payload: dict) -> dict:
    """The signed-in user's own profile (`/me`)."""
    return _step("report_profile", payload,
                 lambda reader: {"user": person(reader.get("/me", {"$select": PROFILE_SELECT}))})


@bp.activity_trigger(input_name="payload")
def report_direct_reports(payload: dict) -> dict:
    """Everyone reporting to the user (`/me/directReports`, all pages)."""
    def work(reader: _Reader) -> dict[str, Any]:
        people: list[dict[str, Any]] = []
        page = reader.get("/me/directReports")
        while True:
            people.extend(person(item) for item in page.get("value") or [] if isinstance(item, dict))
            link = reader.next_link(page.get("@odata.nextLink"))
            if link is None:
                return {"directReports": people}
            page = reader.get(link)

    return _step("report_direct_reports", payload, work)


@bp.activity_trigger(input_name="payload")
def report_manager(payload: dict) -> dict:
    """One step up the chain: the manager of the user (`userId` null) or of `userId`; null at the top."""
    user_id = payload.get("userId")

    def work(reader: _Reader) -> dict[str, Any]:
        try:
            body = reader.get("/me/manager" if not user_id else f"/users/{user_id}/manager")
        except NotFound:
            return {"manager": None}  # the top of the chain
        return {"manager": person(body)}

    return _step("report_manager", payload, work)


@bp.activity_trigger(input_name="payload")
def report_groups_page(payload: dict) -> dict:
    """One page of transitive memberships; `nextLink` null asks for the first page."""
    def work(reader: _Reader) -> dict[str, Any]:
        link = reader.next_link(payload.get("nextLink"))
        body = reader.get(link) if link else reader.get(
            "/me/transitiveMemberOf", {"$top": str(int(payload.get("pageSize") or model.GROUPS_PAGE_SIZE))})
        next_link = reader.next_link(body.get("@odata.nextLink"))
        return {"groups": [membership(item) for item in body.get("value") or [] if isinstance(item, dict)],
                "nextLink": next_link}

    return _step("report_groups_page", payload, work)


@bp.activity_trigger(input_name="payload", activity=model.END_SESSION_ACTIVITY)
def report_end_session(payload: dict) -> dict:
    """The job's last step: delete its long-running session (refresh token included)."""
    with logging_setup.correlation_scope():
        services.current().sessions.end(str(payload.get("session") or ""))
    return model.ok({"ended": True})
