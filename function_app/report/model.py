"""The report job's data: orchestration input, activity envelopes, progress and the result shape.

Nothing here may hold a credential: the orchestration input, activity inputs/outputs, custom status and
output are persisted in the task hub's history. The job carries the id of its long-running session
(`obo.sessions`) instead: random, unrelated to the user, and useless without the token store's keys.
Activities obtain Graph tokens from that session only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ORCHESTRATOR_NAME = "profile_report_orchestrator"
SECTIONS = ("profile", "directReports", "managerChain", "groups")
GROUPS_PAGE_SIZE = 10        # small on purpose: the report exercises @odata.nextLink paging
MAX_MANAGER_DEPTH = 25       # a guard against a cyclic manager chain in the directory
RETRY_FIRST_INTERVAL_MS = 1000
RETRY_MAX_ATTEMPTS = 4
MAX_RETRY_DELAY_SECONDS = 60
# A job that runs longer than this fails; its session (refresh token included) never outlives it.
MAX_RUN_SECONDS = 3600
END_SESSION_ACTIVITY = "report_end_session"


@dataclass(frozen=True)
class JobInput:
    tenant_id: str
    object_id: str
    scopes: tuple[str, ...]
    session_id: str
    deadline: int  # Unix seconds: the orchestration gives up after it (replay-safe: it is input, not a clock)

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session_id,
                "owner": {"tenantId": self.tenant_id, "objectId": self.object_id},
                "scopes": list(self.scopes), "deadline": self.deadline}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "JobInput":
        owner = data["owner"]
        return cls(tenant_id=owner["tenantId"], object_id=owner["objectId"], scopes=tuple(data.get("scopes") or ()),
                   session_id=str(data.get("session") or ""), deadline=int(data.get("deadline") or 0))

    def activity_input(self, **params: Any) -> dict[str, Any]:
        return {"session": self.session_id, "scopes": list(self.scopes), **params}


def session_of(job_input: Any) -> str | None:
    """The session id recorded in an orchestration input, or None."""
    try:
        session = job_input["session"]
    except (KeyError, TypeError):
        return None
    return session if isinstance(session, str) and session else None


def owner_of(job_input: Any) -> tuple[str, str] | None:
    """(tenant id, object id) recorded in an orchestration input, or None if it is not a report job."""
    try:
        owner = job_input["owner"]
        return str(owner["tenantId"]), str(owner["objectId"])
    except (KeyError, TypeError):
        return None


# Activity results are envelopes: {"value": ...} or {"error": {"code", "detail", "retryable", "retryAfter"}}.
# Failures are returned, never raised: the history records them as data, and the orchestration retries the
# retryable ones itself (durable timers), deciding on `retryable` rather than on exception text.
def ok(value: Any) -> dict[str, Any]:
    return {"value": value}


def failed(code: str, detail: str, *, retryable: bool = False, retry_after: float | None = None,
           consent_url: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "detail": detail, "retryable": retryable}
    if retry_after is not None:
        error["retryAfter"] = retry_after
    if consent_url:
        error["consentUrl"] = consent_url
    return {"error": error}


def retry_delay_seconds(error: dict[str, Any], attempt: int) -> float:
    """How long to wait before attempt `attempt + 1`: doubling from the first interval, at least Retry-After."""
    backoff = RETRY_FIRST_INTERVAL_MS / 1000 * 2 ** (attempt - 1)
    try:
        asked = float(error.get("retryAfter") or 0)
    except (TypeError, ValueError):
        asked = 0.0
    return min(MAX_RETRY_DELAY_SECONDS, max(backoff, asked))


def progress(completed: int, stage: str, graph_calls: int) -> dict[str, Any]:
    return {"completed": completed, "total": len(SECTIONS), "stage": stage, "graphCalls": graph_calls}


ERROR_TITLES = {
    "interaction_required": "Sign in again to build the report",
    "graph_throttled": "Microsoft Graph is throttling requests",
    "graph_unavailable": "Microsoft Graph is unavailable",
    "identity_unavailable": "The identity provider is unavailable",
    "consent_required": "Consent is required to read Microsoft Graph",
    "report_failed": "The report could not be built",
    "report_timed_out": "The report took too long",
}


def job_error(code: str, detail: str, consent_url: str | None = None) -> dict[str, Any]:
    """The `error` object of a job: the problem+json fields the SPA reads (code, title, detail, consentUrl)."""
    error = {"code": code, "title": ERROR_TITLES.get(code, ERROR_TITLES["report_failed"]), "detail": detail}
    if consent_url:
        error["consentUrl"] = consent_url
    return error
