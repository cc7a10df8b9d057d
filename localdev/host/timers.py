"""Timer triggers for the local host: the NCRONTAB schedules Azure Functions uses, run while the host runs.

What is emulated, and no more: six-field NCRONTAB expressions (`{second} {minute} {hour} {day} {month}
{day-of-week}`, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; month and
day names `Jan`..`Dec`, `Sun`..`Sat`; day-of-week 0-6 with 7 also Sunday; when both day fields are restricted a
time must match both, as in NCrontab), `%SETTING%` schedules read from the app settings, `runOnStartup`, and the
host's admin endpoint to run a non-HTTP function now (`POST /admin/functions/{name}`, 202, as the Functions host
and Core Tools offer). Times are UTC (Azure's default without `WEBSITE_TIME_ZONE`). Not emulated: the
schedule monitor (`useMonitor` keeps no state here, so `past_due` is always false) and singleton locking across
instances (there is one local instance). Each due occurrence runs once; one still running when the next is due
makes that occurrence skip, as one instance of a timer function runs at a time in Azure.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from aiohttp import web
from azure.functions.timer import TimerRequest

from localdev.host.problems import problem_response

log = logging.getLogger("localdev.host")

ADMIN_FUNCTIONS_PREFIX = "/admin/functions"
_NAMES = {"month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
          "dow": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
           ("dow", 0, 7))
_SETTING_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
MAX_SEARCH_DAYS = 366 * 5


class ScheduleError(ValueError):
    """The schedule is not an NCRONTAB expression this host understands."""


def _value(text: str, field: str, low: int, high: int) -> int:
    names = _NAMES.get(field)
    if names and text.lower()[:3] in names and not text.isdigit():
        return names.index(text.lower()[:3]) + (1 if field == "month" else 0)
    if not text.isdigit():
        raise ScheduleError(f"{field}: {text!r} is not a number")
    number = int(text)
    if not low <= number <= high:
        raise ScheduleError(f"{field}: {number} is outside {low}-{high}")
    return number


def _field(text: str, field: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, field, low, high), _value(last, field, low, high)
            if start > end:
                raise ScheduleError(f"{field}: range {base!r} runs backwards")
        else:
            start = _value(base, field, low, high)
            end = high if step_text else start  # `5/15`: from 5 in steps of 15, as NCrontab reads it
        values.update(range(start, end + 1, step))
    if field == "dow" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str, settings: Mapping[str, str] | None = None) -> "Schedule":
        env = os.environ if settings is None else settings
        resolved = _SETTING_RE.sub(lambda m: env.get(m.group(1)) or m.group(0), expression.strip())
        if "%" in resolved:
            raise ScheduleError(f"the schedule {expression!r} names an app setting that is not set")
        parts = resolved.split()
        if len(parts) != 6:
            raise ScheduleError(f"{resolved!r}: NCRONTAB needs six fields (second minute hour day month "
                                f"day-of-week); TimeSpan schedules are not supported")
        fields = [_field(part, name, low, high) for part, (name, low, high) in zip(parts, _FIELDS)]
        return cls(resolved, *fields)

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # Python: Monday = 0; NCRONTAB: Sunday = 0
        return moment.day in self.days and weekday in self.weekdays and moment.month in self.months

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (an aware datetime)."""
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + timedelta(days=MAX_SEARCH_DAYS)
        while candidate <= limit:
            if not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0, second=0)
            elif candidate.minute not in self.minutes:
                candidate = (candidate + timedelta(minutes=1)).replace(second=0)
            elif candidate.second not in self.seconds:
                candidate += timedelta(seconds=1)
            else:
                return candidate
        raise ScheduleError(f"{self.expression!r} never occurs")


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: Schedule
    run_on_startup: bool
    trigger_name: str
    handler: Callable[..., Any]
    input_bindings: tuple[tuple[str, str], ...]  # (parameter name, binding type)


def describe_timer_function(function: Any, settings: Mapping[str, str] | None = None) -> TimerFunction | None:
    trigger = function.get_trigger()
    if trigger is None or trigger.type != "timerTrigger":
        return None
    handler = function.get_user_function()
    parameters = inspect.signature(handler).parameters
    inputs = tuple((b.name, b.type) for b in function.get_bindings() if b is not trigger and b.name in parameters)
    name = function.get_function_name() or handler.__name__
    try:
        schedule = Schedule.parse(str(trigger.schedule), settings)
    except ScheduleError as exc:
        raise ScheduleError(f"timer function {name}: {exc}") from None
    return TimerFunction(name=name, schedule=schedule, run_on_startup=bool(getattr(trigger, "run_on_startup", False)),
                         trigger_name=trigger.name, handler=handler, input_bindings=inputs)


class TimerScheduler:
    """Runs each timer function at its occurrences; `run_now` runs one on request (the admin endpoint)."""

    def __init__(self, functions: list[TimerFunction], *, binding_values: Callable[[str], Any] | None = None,
                 timeout: float | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.functions = {f.name.lower(): f for f in functions}
        self._binding_values = binding_values
        self._timeout = timeout
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._loops: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self.runs: dict[str, int] = {name: 0 for name in self.functions}

    async def start(self) -> None:
        for function in self.functions.values():
            if function.run_on_startup:
                self.run_now(function.name)
            self._loops.append(asyncio.create_task(self._loop(function), name=f"timer-{function.name}"))
            log.info("timer function %s scheduled (%s, next %s)", function.name, function.schedule.expression,
                     function.schedule.next_after(self._clock()).isoformat())

    async def stop(self) -> None:
        tasks = [*self._loops, *self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        self._running.clear()

    async def _loop(self, function: TimerFunction) -> None:
        while True:
            due = function.schedule.next_after(self._clock())
            await asyncio.sleep(max(0.0, (due - self._clock()).total_seconds()))
            if not self.run_now(function.name):
                log.warning("timer function %s still running at %s: occurrence skipped", function.name,
                            due.isoformat())

    def run_now(self, name: str) -> bool:
        """Start the function unless an invocation of it is still running; False when it was."""
        function = self.functions[name.lower()]
        current = self._running.get(function.name)
        if current is not None and not current.done():
            return False
        self._running[function.name] = asyncio.create_task(self._invoke(function), name=f"run-{function.name}")
        return True

    async def _invoke(self, function: TimerFunction) -> None:
        kwargs: dict[str, Any] = {function.trigger_name: TimerRequest(past_due=False)}
        for parameter, binding_type in function.input_bindings:
            if self._binding_values is None:
                log.error("timer function %s needs a %s binding the host cannot provide", function.name,
                          binding_type)
                return
            kwargs[parameter] = self._binding_values(binding_type)
        self.runs[function.name] += 1
        try:
            if inspect.iscoroutinefunction(function.handler):
                await asyncio.wait_for(function.handler(**kwargs), self._timeout)
            else:
                await asyncio.wait_for(asyncio.to_thread(function.handler, **kwargs), self._timeout)
        except asyncio.CancelledError:
            raise
        except Exception:  # logged like the host logs a failed invocation; the schedule goes on
            log.exception("timer function %s failed", function.name)
        else:
            log.info("timer function %s ran", function.name)

    def routes(self) -> list[web.RouteDef]:
        async def invoke(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            if name.lower() not in self.functions:
                return problem_response(404, "not_found", "Not Found", "No timer function has this name.")
            if not self.run_now(name):
                return problem_response(409, "conflict", "Conflict", "The function is still running.")
            return web.Response(status=202)

        return [web.post(ADMIN_FUNCTIONS_PREFIX + "/{name}", invoke)]
