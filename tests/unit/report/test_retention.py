"""The retention purge's decisions: which instances, from which settings (function_app/report/retention.py)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.durable_functions.models.PurgeHistoryResult import PurgeHistoryResult
from azure.functions.timer import TimerRequest

import function_app
from function_app import services
from function_app.errors import Misconfigured
from function_app.settings import load_settings
from tests.unit.function_app.support import base_env, registered_functions


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def purge_instance_history_by(self, **kwargs: Any) -> PurgeHistoryResult:
        self.calls.append(kwargs)
        return PurgeHistoryResult(instancesDeleted=2)


def purge_function():
    """The user function under the durable decorator (which turns the binding's JSON into a client)."""
    for fn in registered_functions(function_app.app):
        if fn.get_function_name() == "purge_report_history":
            return fn.get_user_function().__wrapped__
    raise LookupError("purge_report_history")


def test_retention_setting_defaults_to_a_day_and_refuses_nonsense() -> None:
    assert load_settings(base_env()).report_retention_seconds == 24 * 3600
    assert load_settings(base_env(REPORT_RETENTION_HOURS="1.5")).report_retention_seconds == 5400
    for bad in ("0", "-2", "nan", "inf", "a day", "100000"):
        with pytest.raises(Misconfigured) as caught:
            load_settings(base_env(REPORT_RETENTION_HOURS=bad))
        assert caught.value.setting == "REPORT_RETENTION_HOURS"


def test_the_timer_purges_only_final_instances_older_than_the_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in base_env(REPORT_RETENTION_HOURS="2").items():
        monkeypatch.setenv(name, value)
    services.reset()
    client = RecordingClient()
    before = datetime.now(timezone.utc)
    try:
        asyncio.run(purge_function()(timer=TimerRequest(), client=client))
    finally:
        services.reset()
    (call,) = client.calls
    assert {s.value for s in call["runtime_status"]} == {"Completed", "Failed", "Terminated"}
    assert before - timedelta(hours=2, seconds=5) < call["created_time_to"] <= datetime.now(timezone.utc) - timedelta(hours=2)
    assert call["created_time_from"] < datetime(2021, 1, 1, tzinfo=timezone.utc)


def test_misconfigured_settings_purge_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in base_env(REPORT_RETENTION_HOURS="never").items():
        monkeypatch.setenv(name, value)
    services.reset()
    client = RecordingClient()
    try:
        asyncio.run(purge_function()(timer=TimerRequest(), client=client))
    finally:
        services.reset()
    assert client.calls == []
