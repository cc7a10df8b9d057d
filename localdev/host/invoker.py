"""Invoke one HTTP-triggered function: aiohttp request in, `func.HttpRequest` to the function, response out.

This mirrors what the Functions host and the Python worker do between them: the function receives an
`azure.functions.HttpRequest` (method, full URL, headers, query params, route params, body bytes) plus any
input binding values it declares, and its `HttpResponse` (or `str`, as the worker's http output converter
accepts) becomes the HTTP response. Synchronous functions run in a thread pool, as the worker does, so one
slow call never blocks the event loop; async functions run on the loop.

The pool is a small one of its own (`_ThreadPool`): worker threads take calls from a `SimpleQueue` and hand
the result straight to an asyncio future with one `call_soon_threadsafe`. `loop.run_in_executor` on a
`ThreadPoolExecutor` plus `asyncio.wait_for` cost ~50 us of CPU per call under the GIL (a
`concurrent.futures.Future` with its `Condition`, future chaining, a second wake-up, the `wait_for` task);
this costs ~10 us. The timeout is a `call_later` on the same future. A synchronous function's response is
encoded on its own thread too, so the event loop only writes it out, and an `InvocationMeter` (`metering.py`,
off unless the host is started with metrics) can attribute handler and encoding to the function.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from localdev.host.app_loader import HttpFunction
from localdev.host.metering import InvocationMeter


class UnsupportedReturnValue(TypeError):
    """The function returned something the http output binding cannot encode."""


class FunctionTimeout(Exception):
    """The function ran longer than host.json's functionTimeout."""


class _TraceContext:
    def __init__(self) -> None:
        self.trace_parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        self.trace_state = ""
        self.attributes: dict[str, str] = {}


class _RetryContext:
    retry_count = 0
    max_retry_count = 0
    exception = None


@dataclass
class InvocationContext:
    """The `context` argument a function may declare (the worker passes a `func.Context`)."""

    function_name: str
    function_directory: str
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thread_local_storage: threading.local = field(default_factory=threading.local)
    trace_context: _TraceContext = field(default_factory=_TraceContext)
    retry_context: _RetryContext = field(default_factory=_RetryContext)


def _flatten(values: Mapping[str, list[str]]) -> dict[str, str]:
    # The host hands a repeated header or query key to the worker as one comma-joined value.
    return {key: ",".join(items) for key, items in values.items()}


def build_http_request(
    method: str, url: str, headers: CIMultiDict[str] | Mapping[str, str], query: Mapping[str, list[str]],
    route_params: Mapping[str, str], body: bytes,
) -> func.HttpRequest:
    grouped: dict[str, list[str]] = {}
    items = headers.items()
    for name, value in items:
        grouped.setdefault(name.lower(), []).append(value)
    # Headers are joined with ", " (RFC 9110 list syntax), query values with "," as the host does.
    flat_headers = {name: ", ".join(values) for name, values in grouped.items()}
    return func.HttpRequest(
        method=method.upper(), url=url, headers=flat_headers, params=_flatten(query),
        route_params=dict(route_params), body=body,
    )


def to_web_response(result: Any) -> web.Response:
    """Encode a function's return value the way the worker's http output converter does."""
    if isinstance(result, str):
        return web.Response(body=result.encode("utf-8"), status=200,
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    if not isinstance(result, func.HttpResponse):
        raise UnsupportedReturnValue(f"function returned {type(result).__name__}, not an HttpResponse")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in result.headers.items():
        headers.add(name, value)
    if "Content-Type" not in headers:
        mimetype = result.mimetype
        headers["Content-Type"] = f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
    return web.Response(body=result.get_body() or b"", status=result.status_code, headers=headers)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # timed out (or the caller went away) meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _time_out(future: asyncio.Future[Any], error: Callable[[], BaseException]) -> None:
    if not future.done():
        future.set_exception(error())


class _ThreadPool:
    """Threads started on demand (up to `max_workers`) running calls queued from the event loop."""

    def __init__(self, max_workers: int, name: str = "function") -> None:
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, loop: asyncio.AbstractEventLoop, call: Callable[[], Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the invoker has been shut down")
            if self._idle == 0 and len(self._threads) < self._max:
                thread = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1 if self._idle else 0
        self._queue.put((loop, future, call))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            loop, future, call = item
            try:
                outcome = (True, call())
            except BaseException as exc:  # handed to the caller, as concurrent.futures does
                outcome = (False, exc)
            del call, item
            try:
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:
                pass  # the loop is closed: nobody waits for this result any more
            del loop, future, outcome
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        while True:  # cancel what has not started
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                loop, future, _ = item
                try:
                    loop.call_soon_threadsafe(future.cancel)
                except RuntimeError:
                    pass
        for _ in threads:
            self._queue.put(None)


class Invoker:
    """Calls functions with their bindings; owns the thread pool for synchronous functions."""

    def __init__(self, *, max_workers: int = 64, function_directory: str = ".",
                 binding_values: Callable[[str], Any] | None = None, timeout: float | None = None,
                 meter: InvocationMeter | None = None) -> None:
        self._pool = _ThreadPool(max_workers)
        self._function_directory = function_directory
        self._binding_values = binding_values
        self._timeout = timeout
        self._meter = meter

    def set_binding_source(self, binding_values: Callable[[str], Any] | None) -> None:
        """`binding_values(binding_type)` supplies input binding data (the durable client JSON)."""
        self._binding_values = binding_values

    def _arguments(self, function: HttpFunction, request: func.HttpRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {function.trigger_name: request}
        for name, binding_type in function.input_bindings:
            if self._binding_values is None:
                raise RuntimeError(f"no value available for the {binding_type} binding {name!r}")
            kwargs[name] = self._binding_values(binding_type)
        if function.wants_context:
            kwargs["context"] = InvocationContext(function.name, self._function_directory)
        return kwargs

    def _timeout_error(self, function: HttpFunction) -> FunctionTimeout:
        return FunctionTimeout(f"{function.name} exceeded functionTimeout ({self._timeout:g} s)")

    async def invoke(self, function: HttpFunction, request: func.HttpRequest) -> web.Response:
        kwargs = self._arguments(function, request)
        if function.is_async:
            if self._meter is not None:
                self._meter.count(function.name)
            try:
                # An async function is cancelled at the timeout.
                result = await asyncio.wait_for(function.handler(**kwargs), self._timeout)
            except asyncio.TimeoutError:
                raise self._timeout_error(function) from None
            return to_web_response(result)
        # A thread cannot be cancelled, so a synchronous function runs on past the timeout, but its caller
        # gets the timeout answer, as from the host.
        loop = asyncio.get_running_loop()
        handler = function.handler

        def call() -> web.Response:
            return to_web_response(handler(**kwargs))

        future = self._pool.submit(loop, call if self._meter is None else self._meter.timed(function.name, call))
        # The error is built only if the timer fires: most calls never need one.
        timer = (loop.call_later(self._timeout, _time_out, future, lambda: self._timeout_error(function))
                 if self._timeout is not None else None)
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()

    def shutdown(self) -> None:
        self._pool.shutdown()
