"""How `GET /api/jobs/{id}` presents an orchestration's Durable status to the SPA."""
from __future__ import annotations

from typing import Any

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from function_app.report import model
from function_app.report.http_api import job_view

PROGRESS = {"completed": 2, "total": 4, "stage": "Reading groups page 2", "graphCalls": 5}


def status(runtime_status: str, output: Any = None, custom_status: Any = PROGRESS) -> DurableOrchestrationStatus:
    return DurableOrchestrationStatus.from_json({
        "name": model.ORCHESTRATOR_NAME, "instanceId": "abc", "runtimeStatus": runtime_status,
        "createdTime": "2026-05-04T10:00:00Z", "lastUpdatedTime": "2026-05-04T10:00:01Z",
        "input": {"owner": {"tenantId": "t", "objectId": "o"}}, "output": output, "customStatus": custom_status})


def test_running_job_shows_progress_only():
    assert job_view("abc", status("Running")) == {"id": "abc", "runtimeStatus": "Running", "progress": PROGRESS}


def test_completed_job_carries_the_result():
    report = {"user": {"displayName": "Priya"}, "managerChain": [], "directReports": [], "groups": [],
              "groupCount": 0, "generatedAt": "2026-05-04T10:00:01Z"}
    view = job_view("abc", status("Completed", report))
    assert view["runtimeStatus"] == "Completed" and view["result"] == report and "error" not in view


def test_expected_failure_is_a_failed_job_with_the_error():
    error = model.job_error("interaction_required", "Sign in again.")
    view = job_view("abc", status("Completed", {"error": error}))
    assert view == {"id": "abc", "runtimeStatus": "Failed", "progress": PROGRESS, "error": error}


def test_crashed_orchestration_hides_the_internal_message():
    view = job_view("abc", status("Failed", "Orchestrator function 'x' failed: KeyError: 'owner' at line 3"))
    assert view["runtimeStatus"] == "Failed"
    assert view["error"]["code"] == "report_failed"
    assert "KeyError" not in str(view) and "line 3" not in str(view)


def test_json_text_from_other_hosts_is_decoded():
    view = job_view("abc", status("Running", custom_status='{"completed": 1, "total": 4, "stage": "x"}'))
    assert view["progress"] == {"completed": 1, "total": 4, "stage": "x"}


def test_owner_of_reads_only_report_inputs():
    assert model.owner_of({"owner": {"tenantId": "t", "objectId": "o"}}) == ("t", "o")
    assert model.owner_of({"something": "else"}) is None
    assert model.owner_of("not a dict") is None
