"""Replay the report orchestrator against hand-built Durable histories, exactly as the host invokes it.

The orchestrator function registered on the blueprint takes the context JSON (history, input,
instanceId, ...) and returns the SDK's state JSON (actions, customStatus, output, isDone). Task ids
follow the SDK's sequence numbering, including the timer and rescheduled task of a retried activity.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from function_app.report import bp
from function_app.report import model

TENANT = "51699e8e-eeb2-486e-94da-600eb1357656"
OID = "0b6c9f5e-3f2a-4a53-9a1e-1c1d6a2b7e10"
SESSION = "s" * 43
DEADLINE = 1_900_000_000  # 2030: after every timestamp in these histories
JOB = model.JobInput(TENANT, OID, ("User.Read", "User.ReadBasic.All", "GroupMember.Read.All"), SESSION,
                     DEADLINE).to_json()
T0 = "2026-05-04T10:00:00.000000Z"
T1 = "2026-05-04T10:00:01.000000Z"


def orchestrator():
    for fb in bp._function_builders:
        function = fb.build()
        if function.get_function_name() == model.ORCHESTRATOR_NAME:
            return function.get_user_function()
    raise AssertionError("orchestrator not registered")


class History:
    def __init__(self, job: dict[str, Any] | None = None) -> None:
        self.job = job or JOB
        self.events: list[dict[str, Any]] = []
        self.episode(T0)
        self._add(0, Name=model.ORCHESTRATOR_NAME, Input=json.dumps(self.job), Version=None)

    def _add(self, event_type: int, event_id: int = -1, at: str = T0, **fields: Any) -> "History":
        self.events.append({"EventType": event_type, "EventId": event_id, "IsPlayed": False, "Timestamp": at,
                            **fields})
        return self

    def episode(self, at: str = T1) -> "History":
        if self.events:
            self._add(13, at=at)  # OrchestratorCompleted closes the previous episode
        return self._add(12, at=at)

    def scheduled(self, task_id: int, name: str) -> "History":
        return self._add(4, task_id, Name=name)

    def completed(self, task_id: int, value: Any) -> "History":
        return self._add(5, TaskScheduledId=task_id, Result=json.dumps(value))

    def failed(self, task_id: int, reason: str) -> "History":
        return self._add(6, TaskScheduledId=task_id, Reason=reason, Details="RuntimeError")

    def timer(self, timer_id: int) -> "History":
        return self._add(10, timer_id, FireAt=T1)

    def fired(self, timer_id: int) -> "History":
        return self._add(11, TimerId=timer_id, FireAt=T1)

    def run(self) -> dict[str, Any]:
        context = {"history": self.events, "instanceId": "job-1", "isReplaying": False,
                   "parentInstanceId": None, "input": json.dumps(self.job), "upperSchemaVersion": 2}
        return json.loads(orchestrator()(json.dumps(context)))

    def next_task_id(self) -> int:
        return max((e["EventId"] for e in self.events if e["EventType"] in (4, 10)), default=-1) + 1

    def session_ended(self) -> "History":
        """The last step the orchestration schedules: ending the job's session."""
        task_id = self.next_task_id()
        return self.scheduled(task_id, model.END_SESSION_ACTIVITY).episode().completed(task_id, {"value": {}})


def leaves(state: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            elif "compoundActions" in item:
                walk(item["compoundActions"])
            else:
                out.append(item)
    walk(state["actions"])
    return out


PRIYA = {"id": OID, "displayName": "Priya Natarajan", "userPrincipalName": "priya.natarajan@larkspur.example"}
BOSS = {"id": "m1", "displayName": "Boss One"}
TOP = {"id": "m2", "displayName": "Top Two"}


def ok(value: dict[str, Any]) -> dict[str, Any]:
    return {"value": {**value, "graphCalls": 1}}


def first_wave(history: History) -> History:
    for task_id, name in enumerate(("report_profile", "report_direct_reports", "report_manager",
                                    "report_groups_page")):
        history.scheduled(task_id, name)
    return history


def test_first_episode_fans_out_four_activities_without_any_token():
    state = History().run()
    actions = leaves(state)
    assert state["isDone"] is False
    assert [a["functionName"] for a in actions] == ["report_profile", "report_direct_reports", "report_manager",
                                                     "report_groups_page"]
    assert all(a["actionType"] == 0 for a in actions)  # CallActivity: the orchestration retries by itself
    payload = json.loads(actions[0]["input"])
    assert payload == {"session": SESSION, "scopes": list(JOB["scopes"])}
    assert "eyJ" not in json.dumps(state)
    assert state["customStatus"]["completed"] == 0 and state["customStatus"]["total"] == 4


def transient(code: str = "graph_unavailable", retry_after: float | None = None) -> dict[str, Any]:
    return model.failed(code, "Microsoft Graph is unavailable.", retryable=True, retry_after=retry_after)


def full_history(*, manager_failures: int = 0) -> History:
    h = first_wave(History()).episode()
    h.completed(0, ok({"user": PRIYA})).completed(1, ok({"directReports": [{"id": "r1", "displayName": "Rae"}]}))
    h.completed(2, transient() if manager_failures else ok({"manager": BOSS}))
    h.completed(3, ok({"groups": [{"id": "g1", "displayName": "G1", "kind": "group"}], "nextLink": "https://g/p2"}))
    for failure in range(manager_failures):  # a timer, then the manager step again
        timer = h.next_task_id()
        h.timer(timer).episode().fired(timer)
        retried = h.next_task_id()
        h.scheduled(retried, "report_manager").episode()
        h.completed(retried, transient() if failure < manager_failures - 1 else ok({"manager": BOSS}))
    # wave 2: Boss's manager + groups page 2
    wave = h.next_task_id()
    h.scheduled(wave, "report_manager").scheduled(wave + 1, "report_groups_page").episode()
    h.completed(wave, ok({"manager": TOP}))
    h.completed(wave + 1, ok({"groups": [{"id": "g2", "displayName": "G2", "kind": "group"}], "nextLink": None}))
    # wave 3: Top's manager only: the top of the chain (404 -> null)
    h.scheduled(wave + 2, "report_manager").episode()
    h.completed(wave + 2, ok({"manager": None}))
    return h.session_ended()


def test_full_replay_builds_the_report_and_reports_progress():
    state = full_history().run()
    assert state["isDone"] is True
    output = state["output"]
    assert output["user"] == PRIYA
    assert output["managerChain"] == [BOSS, TOP]
    assert output["directReports"] == [{"id": "r1", "displayName": "Rae"}]
    assert [g["id"] for g in output["groups"]] == ["g1", "g2"] and output["groupCount"] == 2
    assert output["generatedAt"] == "2026-05-04T10:00:01Z"  # from the history, not the wall clock
    assert state["customStatus"] == {"completed": 4, "total": 4, "stage": "Done", "graphCalls": 7}


def test_intermediate_wave_schedules_next_manager_and_next_page_with_progress():
    h = first_wave(History()).episode()
    h.completed(0, ok({"user": PRIYA})).completed(1, ok({"directReports": []}))
    h.completed(2, ok({"manager": BOSS})).completed(3, ok({"groups": [], "nextLink": "https://g/p2"}))
    state = h.run()
    new = leaves(state)[4:]
    assert [(a["functionName"], json.loads(a["input"]).get("userId"), json.loads(a["input"]).get("nextLink"))
            for a in new] == [("report_manager", "m1", None), ("report_groups_page", None, "https://g/p2")]
    assert state["customStatus"]["completed"] == 2
    assert "manager chain level 2" in state["customStatus"]["stage"]
    assert "groups page 2" in state["customStatus"]["stage"]


def test_a_retryable_failure_waits_on_a_durable_timer_then_retries_only_that_step():
    h = first_wave(History()).episode()
    h.completed(0, ok({"user": PRIYA})).completed(1, ok({"directReports": []}))
    h.completed(2, transient(retry_after=7)).completed(3, ok({"groups": [], "nextLink": None}))
    actions = leaves(h.run())[4:]
    assert len(actions) == 1 and actions[0]["actionType"] == 5  # CreateTimer
    fire_at = actions[0]["fireAt"]
    assert fire_at.startswith("2026-05-04T10:00:08")  # Retry-After 7 s after the episode's time (T1)
    timer = h.next_task_id()
    h.timer(timer).episode().fired(timer)
    actions = leaves(h.run())[4:]
    assert [a["functionName"] for a in actions if a["actionType"] == 0] == ["report_manager"]


def test_transient_failure_is_retried_after_the_timer_and_the_job_completes():
    state = full_history(manager_failures=2).run()
    assert state["isDone"] is True
    assert state["output"]["managerChain"] == [BOSS, TOP]


def exhausted(code: str) -> History:
    """The profile step fails with a retryable `code` on every attempt."""
    h = first_wave(History()).episode()
    h.completed(0, transient(code)).completed(1, ok({"directReports": []})).completed(2, ok({"manager": None}))
    h.completed(3, ok({"groups": [], "nextLink": None}))
    for _ in range(model.RETRY_MAX_ATTEMPTS - 1):
        timer = h.next_task_id()
        h.timer(timer).episode().fired(timer)
        retried = h.next_task_id()
        h.scheduled(retried, "report_profile").episode().completed(retried, transient(code))
    return h.session_ended()


@pytest.mark.parametrize("code", ["graph_unavailable", "graph_throttled", "identity_unavailable"])
def test_retry_exhaustion_completes_with_the_steps_own_code(code: str):
    state = exhausted(code).run()
    assert state["isDone"] is True
    error = state["output"]["error"]
    assert error["code"] == code and "try again" in error["detail"]
    assert "Traceback" not in json.dumps(state)
    scheduled = [e for e in exhausted(code).events if e["EventType"] == 4 and e["Name"] == "report_profile"]
    assert len(scheduled) == model.RETRY_MAX_ATTEMPTS


@pytest.mark.parametrize("code", ["interaction_required", "consent_required", "report_failed"])
def test_terminal_activity_error_ends_the_job_with_that_code_at_once(code: str):
    h = first_wave(History()).episode()
    h.completed(0, model.failed(code, "sign in again"))
    h.completed(1, ok({"directReports": []})).completed(2, ok({"manager": None}))
    h.completed(3, ok({"groups": [], "nextLink": None}))
    state = h.session_ended().run()
    assert state["isDone"] is True
    assert state["output"] == {"error": {"code": code, "title": model.ERROR_TITLES[code], "detail": "sign in again"}}
    assert state["customStatus"]["stage"] == "Failed"


def test_an_activity_that_raises_ends_the_job_without_its_text():
    h = first_wave(History()).episode()
    h.failed(0, "Activity function 'report_profile' failed: KeyError: secret-looking internals")
    state = h.session_ended().run()
    assert state["isDone"] is True
    assert state["output"]["error"]["code"] == "report_failed"
    assert "internals" not in json.dumps(state["output"])


def test_manager_cycle_stops_climbing():
    h = first_wave(History()).episode()
    h.completed(0, ok({"user": PRIYA})).completed(1, ok({"directReports": []}))
    h.completed(2, ok({"manager": BOSS})).completed(3, ok({"groups": [], "nextLink": None}))
    h.scheduled(4, "report_manager").episode()
    h.completed(4, ok({"manager": {"id": OID, "displayName": "Priya again"}}))
    state = h.session_ended().run()
    assert state["isDone"] is True
    assert state["output"]["managerChain"] == [BOSS]


def test_replay_is_deterministic():
    history = full_history(manager_failures=1)
    assert history.run() == history.run()


def test_the_last_step_ends_the_session_whatever_the_outcome():
    for history in (full_history(), terminal_failure()):
        history.events = history.events[:-4]  # undo session_ended(): the state before that step
        state = history.run()
        last = leaves(state)[-1]
        assert state["isDone"] is False
        assert last["functionName"] == model.END_SESSION_ACTIVITY
        assert json.loads(last["input"]) == {"session": SESSION}


def terminal_failure() -> History:
    h = first_wave(History()).episode()
    h.completed(0, model.failed("interaction_required", "sign in again"))
    h.completed(1, ok({"directReports": []})).completed(2, ok({"manager": None}))
    h.completed(3, ok({"groups": [], "nextLink": None}))
    return h.session_ended()


def test_a_failure_to_end_the_session_still_completes_the_job():
    h = full_history()
    h.events = h.events[:-4]
    task_id = h.next_task_id()
    h.scheduled(task_id, model.END_SESSION_ACTIVITY).episode()
    h.failed(task_id, "Activity function 'report_end_session' failed: ConnectionError")
    state = h.run()
    assert state["isDone"] is True and state["output"]["managerChain"] == [BOSS, TOP]


def test_a_job_past_its_deadline_fails_and_ends_its_session():
    late = dict(JOB, deadline=1_700_000_000)  # 2023: before the history's first timestamp
    state = History(late).run()
    assert [a["functionName"] for a in leaves(state)] == [model.END_SESSION_ACTIVITY]
    h = History(late).session_ended()
    state = h.run()
    assert state["isDone"] is True and state["output"]["error"]["code"] == "report_timed_out"
