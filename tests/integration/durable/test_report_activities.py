"""Report activities against the Graph emulator over HTTPS, with Graph tokens from the job's long-running
session after a real On-Behalf-Of exchange (what the HTTP starter does before starting a job)."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest

from function_app import services
from function_app.obo.cache_policy import SessionRecord, session_key
from function_app.report import activities, model
from tests.integration.durable.helpers import PRIYA, app_settings, auth_headers, user_token  # noqa: F401

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def job(app_settings: dict[str, str], fresh_emulator: Any) -> dict[str, Any]:
    svc = services.current()
    caller = svc.authenticate(auth_headers(user_token(fresh_emulator, PRIYA)))
    scopes = svc.settings.report_graph_scopes
    session_id = svc.sessions.start(caller.principal, caller.assertion, scopes, model.MAX_RUN_SECONDS)
    return model.JobInput(caller.principal.tenant_id, caller.principal.object_id, tuple(scopes), session_id,
                          int(time.time()) + model.MAX_RUN_SECONDS).activity_input()


def graph_calls(emulator: Any) -> int:
    return sum(emulator.metrics()["graph"].values())


def directory(emulator: Any) -> dict[str, dict[str, Any]]:
    return {u["upn"]: u for u in emulator.config["users"]}


def test_profile_and_direct_reports(job: dict[str, Any], fresh_emulator: Any):
    users = directory(fresh_emulator)
    profile = activities.report_profile(job)["value"]
    assert profile["user"]["userPrincipalName"] == PRIYA
    assert profile["user"]["id"] == users[PRIYA]["oid"]
    reports = activities.report_direct_reports(job)["value"]["directReports"]
    assert {p["userPrincipalName"] for p in reports} == {"sam.whitfield@larkspur.example",
                                                         "lena.hoffmann@larkspur.example"}


def test_manager_steps_climb_to_the_top(job: dict[str, Any], fresh_emulator: Any):
    chain = []
    step = activities.report_manager({**job, "userId": None})["value"]
    while step["manager"] is not None:
        chain.append(step["manager"]["userPrincipalName"])
        step = activities.report_manager({**job, "userId": step["manager"]["id"]})["value"]
    assert chain == ["daniel.reyes@larkspur.example", "mira.okafor@larkspur.example"]


def test_group_pages_follow_next_links(job: dict[str, Any], fresh_emulator: Any):
    pages, groups = 0, []
    link = None
    while True:
        page = activities.report_groups_page({**job, "nextLink": link})["value"]
        pages += 1
        assert len(page["groups"]) <= model.GROUPS_PAGE_SIZE
        groups.extend(page["groups"])
        link = page["nextLink"]
        if not link:
            break
    assert pages >= 3  # ~32 memberships at 10 per page
    assert len(groups) >= 30 and len({g["id"] for g in groups}) == len(groups)
    assert all(g["displayName"] and g["kind"] for g in groups)
    assert fresh_emulator.metrics()["graph"]  # the pages really went to the Graph emulator


def test_activities_make_no_exchange_of_their_own(job: dict[str, Any], fresh_emulator: Any):
    before = fresh_emulator.metrics()["token"].get(OBO_GRANT, 0)
    activities.report_profile(job)
    activities.report_direct_reports(job)
    assert fresh_emulator.metrics()["token"].get(OBO_GRANT, 0) == before


def test_next_link_outside_graph_is_refused(job: dict[str, Any]):
    result = activities.report_groups_page({**job, "nextLink": "https://attacker.example/v1.0/me/x"})
    assert result["error"]["code"] == "report_failed"


@pytest.mark.parametrize("status, code", [(503, "graph_unavailable"), (429, "graph_throttled")])
def test_transient_graph_errors_are_retryable_failures(job: dict[str, Any], fresh_emulator: Any, status: int,
                                                       code: str):
    fresh_emulator.fault(endpoint="graph", status=status, retry_after=3, count=1)
    result = activities.report_profile(job)
    assert result["error"]["code"] == code and result["error"]["retryable"] is True
    assert result["error"]["retryAfter"] == 3
    assert graph_calls(fresh_emulator) == 1  # one attempt: the orchestration retries, not the activity
    assert activities.report_profile(job)["value"]["user"]["userPrincipalName"] == PRIYA  # the retry works


def test_graph_forbidden_is_a_terminal_consent_problem(job: dict[str, Any], fresh_emulator: Any):
    fresh_emulator.fault(endpoint="graph", status=403, count=1)
    error = activities.report_profile(job)["error"]
    assert error["code"] == "consent_required" and error["retryable"] is False


def test_an_ended_session_means_interaction_required(job: dict[str, Any]):
    assert activities.report_end_session({"session": job["session"]}) == {"value": {"ended": True}}
    result = activities.report_profile(job)
    assert result["error"]["code"] == "interaction_required"
    assert "eyJ" not in json.dumps(result)


def test_revoked_refresh_token_means_interaction_required(job: dict[str, Any], fresh_emulator: Any):
    """Access token expired and the refresh token revoked: silent acquisition fails cleanly."""
    store = services.current().store
    key = session_key(job["session"])
    record = SessionRecord.parse(store.load(key) or "")
    assert record is not None
    cache = json.loads(record.msal_cache)
    for entry in cache.get("AccessToken", {}).values():
        entry["expires_on"] = entry["extended_expires_on"] = "1"
    store.save(key, SessionRecord(json.dumps(cache), record.deadline).serialize(), 3600)
    fresh_emulator.fault(endpoint="token", status=400, aadsts=50173, count=None)
    result = activities.report_profile(job)
    assert result["error"]["code"] == "interaction_required"
