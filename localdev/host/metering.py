"""What each function invocation costs the function itself, apart from the local host (off unless asked for).

In Azure the HTTP front end, App Service authentication and routing are the .NET host and native middleware;
only the function runs in the Python worker. The local host runs all of it in one Python process, so its
process CPU time mixes what a user pays for in Azure with what only the stand-in costs. With `--metrics`
(or `LOCALDEV_HOST_METRICS=on`) each host process measures, for every synchronous invocation, on the thread
that runs it:

- `cpu_ms`: `time.thread_time()` of that thread around the handler, everything it calls on that thread, and
  the encoding of its response (which therefore runs on that thread too, metered or not);
- `wall_ms`: `time.perf_counter()` around the same work (waits for Graph, Redis and the GIL included).

Async functions run on the event loop, interleaved with the host's own work, so their thread time can't be
attributed; they are counted but not timed. The figures are served on a listener of their own, on loopback,
never on the app's port: `GET /invocations` returns them, `POST /reset` starts a new run. Totals cover the
whole run; per-invocation samples are kept up to `MAX_SAMPLES` per function (the oldest are dropped).
"""
from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from typing import Any, Callable, TypeVar

from aiohttp import web

MAX_SAMPLES = 200_000

T = TypeVar("T")


class _FunctionCost:
    __slots__ = ("count", "timed", "cpu_s", "wall_s", "samples")

    def __init__(self) -> None:
        self.count = 0
        self.timed = 0
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.samples: deque[tuple[float, float]] = deque(maxlen=MAX_SAMPLES)


class InvocationMeter:
    """Per-function invocation counts, thread CPU time and wall time, safe to record from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._costs: dict[str, _FunctionCost] = {}
        self._since = time.time()

    def timed(self, function_name: str, call: Callable[[], T]) -> Callable[[], T]:
        """`call`, measured on the thread that runs it."""

        def measured() -> T:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return call()
            finally:
                self._record(function_name, time.thread_time() - cpu, time.perf_counter() - wall)

        return measured

    def count(self, function_name: str) -> None:
        """An invocation that can't be timed on a thread of its own (an async function)."""
        with self._lock:
            self._cost(function_name).count += 1

    def _cost(self, function_name: str) -> _FunctionCost:
        cost = self._costs.get(function_name)
        if cost is None:
            cost = self._costs[function_name] = _FunctionCost()
        return cost

    def _record(self, function_name: str, cpu_s: float, wall_s: float) -> None:
        with self._lock:
            cost = self._cost(function_name)
            cost.count += 1
            cost.timed += 1
            cost.cpu_s += cpu_s
            cost.wall_s += wall_s
            cost.samples.append((cpu_s * 1000.0, wall_s * 1000.0))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            functions = {
                name: {"count": cost.count, "timed": cost.timed, "cpu_ms": round(cost.cpu_s * 1000.0, 3),
                       "wall_ms": round(cost.wall_s * 1000.0, 3),
                       "samples": [[round(c, 4), round(w, 4)] for c, w in cost.samples]}
                for name, cost in self._costs.items()}
        return {"pid": os.getpid(), "since": self._since, "process_cpu_ms": round(time.process_time() * 1000.0, 3),
                "functions": functions}

    def reset(self) -> None:
        with self._lock:
            self._costs.clear()
            self._since = time.time()


class MetricsListener:
    """The meter's own loopback listener (port chosen by the system), separate from the app's port."""

    def __init__(self, meter: InvocationMeter) -> None:
        self._meter = meter
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        async def read(_: web.Request) -> web.Response:
            return web.json_response(self._meter.snapshot())

        async def reset(_: web.Request) -> web.Response:
            self._meter.reset()
            return web.json_response({"reset": True})

        app = web.Application()
        app.router.add_get("/invocations", read)
        app.router.add_post("/reset", reset)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
