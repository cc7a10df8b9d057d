"""NCRONTAB schedules and the timer scheduler of the local host (localdev/host/timers.py)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from localdev.host.timers import Schedule, ScheduleError, TimerFunction, TimerScheduler

T0 = datetime(2026, 3, 14, 10, 7, 30, 500_000, tzinfo=timezone.utc)  # a Saturday


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(("expression", "expected"), [
    ("* * * * * *", at(2026, 3, 14, 10, 7, 31)),
    ("0 */15 * * * *", at(2026, 3, 14, 10, 15, 0)),
    ("0 0 * * * *", at(2026, 3, 14, 11, 0, 0)),
    ("30 7 10 * * *", at(2026, 3, 15, 10, 7, 30)),  # exactly now is not "after now"
    ("0 0 9 * * Mon-Fri", at(2026, 3, 16, 9, 0, 0)),
    ("0 0 9 * * 1-5", at(2026, 3, 16, 9, 0, 0)),
    ("0 0 0 * * 0", at(2026, 3, 15, 0, 0, 0)),
    ("0 0 0 * * 7", at(2026, 3, 15, 0, 0, 0)),  # 7 is Sunday too
    ("0 0 0 1 * *", at(2026, 4, 1, 0, 0, 0)),
    ("0 0 0 1 Jan *", at(2027, 1, 1, 0, 0, 0)),
    ("0 0 0 29 2 *", at(2028, 2, 29, 0, 0, 0)),
    ("0 0 12 13 * Fri", at(2026, 11, 13, 12, 0, 0)),  # both day fields restricted: both must match
    ("5/20 * * * * *", at(2026, 3, 14, 10, 7, 45)),
    ("0,10,40 * * * * *", at(2026, 3, 14, 10, 7, 40)),
])
def test_next_occurrence(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(T0) == expected


def test_schedule_from_an_app_setting() -> None:
    assert Schedule.parse("%PURGE_SCHEDULE%", {"PURGE_SCHEDULE": "0 */5 * * * *"}).expression == "0 */5 * * * *"
    with pytest.raises(ScheduleError):
        Schedule.parse("%UNSET_SCHEDULE%", {})


@pytest.mark.parametrize("expression", ["* * * * *", "00:05:00", "60 * * * * *", "* * 24 * * *", "* * * 0 * *",
                                        "* * * * 13 *", "*/0 * * * * *", "5-1 * * * * *", "x * * * * *",
                                        "0 0 0 30 2 *"])
def test_invalid_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(expression).next_after(T0)


def test_scheduler_runs_each_occurrence_and_run_now_refuses_overlap() -> None:
    calls: list[bool] = []
    release = asyncio.Event()

    async def handler(timer) -> None:
        calls.append(timer.past_due)
        await release.wait()

    async def scenario() -> None:
        function = TimerFunction("tick", Schedule.parse("* * * * * *"), False, "timer", handler, ())
        scheduler = TimerScheduler([function])
        await scheduler.start()
        await asyncio.sleep(1.3)
        assert calls == [False]                       # one occurrence started ...
        assert scheduler.run_now("tick") is False     # ... and still running: no second copy
        release.set()
        await asyncio.sleep(1.2)
        assert len(calls) >= 2 and scheduler.runs["tick"] == len(calls)
        await scheduler.stop()

    asyncio.run(scenario())


def test_input_bindings_come_from_the_binding_source() -> None:
    seen: list[str] = []

    def handler(timer, client) -> None:  # a synchronous function runs on a thread
        seen.append(client)

    async def scenario() -> None:
        function = TimerFunction("purge", Schedule.parse("0 0 0 1 1 *"), True, "timer", handler,
                                 (("client", "durableClient"),))
        scheduler = TimerScheduler([function], binding_values=lambda kind: f"binding:{kind}")
        await scheduler.start()  # runOnStartup
        await asyncio.sleep(0.2)
        await scheduler.stop()

    asyncio.run(scenario())
    assert seen == ["binding:durableClient"]
