"""Invoke one HTTP-triggered function: aiohttp request in, `func.HttpRequest` to the function, response out.

This mirrors what the Functions host and the Python worker do between them: the function receives an
`azure.functions.HttpRequest` (method, full URL, headers, query params, route params, body bytes) plus any
input binding values it declares, and its `HttpResponse` (or `str`, as the worker's http output converter
accepts) becomes the HTTP response. Synchronous functions run in a thread pool, as the worker does, so one
slow call never blocks the event loop; async functions run on the loop.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from localdev.host.app_loader import HttpFunction


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


class Invoker:
    """Calls functions with their bindings; owns the thread pool for synchronous functions."""

    def __init__(self, *, max_workers: int = 64, function_directory: str = ".",
                 binding_values: Callable[[str], Any] | None = None, timeout: float | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="function")
        self._function_directory = function_directory
        self._binding_values = binding_values
        self._timeout = timeout

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

    async def invoke(self, function: HttpFunction, request: func.HttpRequest) -> web.Response:
        kwargs = self._arguments(function, request)
        if function.is_async:
            call: Any = function.handler(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(self._pool, lambda: function.handler(**kwargs))
        try:
            # An async function is cancelled at the timeout; a thread cannot be, so a synchronous one runs on
            # but its caller gets the timeout answer, as from the host.
            result = await asyncio.wait_for(call, self._timeout)
        except asyncio.TimeoutError:
            raise FunctionTimeout(f"{function.name} exceeded functionTimeout ({self._timeout:g} s)") from None
        return to_web_response(result)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
