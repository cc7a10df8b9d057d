"""Requests and responses convert the way the Python worker converts them."""
from __future__ import annotations

import asyncio

import azure.functions as func
import pytest
from multidict import CIMultiDict

from localdev.host.app_loader import HttpFunction
from localdev.host.invoker import Invoker, UnsupportedReturnValue, build_http_request, to_web_response


def test_request_conversion_joins_repeated_headers_and_query_values() -> None:
    headers = CIMultiDict([("Accept", "a"), ("accept", "b"), ("X-One", "1")])
    request = build_http_request("post", "http://h/api/x?q=1&q=2", headers, {"q": ["1", "2"], "z": [""]},
                                 {"id": "7"}, b"body")
    assert request.method == "POST"
    assert request.url == "http://h/api/x?q=1&q=2"
    assert request.headers["accept"] == "a, b"
    assert request.headers["X-ONE"] == "1"
    assert dict(request.params) == {"q": "1,2", "z": ""}
    assert dict(request.route_params) == {"id": "7"}
    assert request.get_body() == b"body"


def test_response_conversion_keeps_status_headers_and_content_type() -> None:
    response = to_web_response(func.HttpResponse(b"\x00\x01", status_code=201, mimetype="application/octet-stream",
                                                 headers={"Set-Cookie": "a=1", "X-A": "b"}))
    assert response.status == 201
    assert response.body == b"\x00\x01"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-A"] == "b"
    text = to_web_response(func.HttpResponse("hé", charset="utf-8"))
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.body == "hé".encode()
    explicit = to_web_response(func.HttpResponse("{}", headers={"Content-Type": "application/problem+json"},
                                                 mimetype="application/json"))
    assert explicit.headers["Content-Type"] == "application/problem+json"


def test_unsupported_return_value() -> None:
    with pytest.raises(UnsupportedReturnValue):
        to_web_response({"not": "a response"})


def _function(handler, *, is_async: bool, inputs=(), context=False) -> HttpFunction:
    return HttpFunction(name="f", route="f", methods=None, auth_level="anonymous", trigger_name="req",
                        handler=handler, is_async=is_async, input_bindings=tuple(inputs), wants_context=context)


def test_invoker_passes_bindings_and_context_to_sync_and_async_functions() -> None:
    seen: dict[str, object] = {}

    def sync_handler(req, client, context):
        seen["sync"] = (req.method, client, context.function_name)
        return func.HttpResponse("ok")

    async def async_handler(req, client):
        seen["async"] = (req.method, client)
        return "ok"

    invoker = Invoker(max_workers=2, binding_values=lambda binding_type: f"value-for-{binding_type}")
    request = build_http_request("GET", "http://h/api/f", {}, {}, {}, b"")

    async def run() -> None:
        await invoker.invoke(_function(sync_handler, is_async=False, inputs=[("client", "durableClient")],
                                       context=True), request)
        await invoker.invoke(_function(async_handler, is_async=True, inputs=[("client", "durableClient")]), request)

    try:
        asyncio.run(run())
    finally:
        invoker.shutdown()
    assert seen["sync"] == ("GET", "value-for-durableClient", "f")
    assert seen["async"] == ("GET", "value-for-durableClient")


def test_sync_functions_time_out_raise_and_run_at_most_max_workers_at_once() -> None:
    import threading
    import time

    from localdev.host.invoker import FunctionTimeout

    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def slow(req):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)
            return func.HttpResponse("ok")
        finally:
            with lock:
                running[0] -= 1

    def failing(req):
        raise ValueError("boom")

    def stuck(req):
        release.wait(5)
        return func.HttpResponse("late")

    request = build_http_request("GET", "http://h/api/f", {}, {}, {}, b"")

    async def run() -> None:
        invoker = Invoker(max_workers=3)
        try:
            responses = await asyncio.gather(*[invoker.invoke(_function(slow, is_async=False), request)
                                               for _ in range(12)])
            assert [r.status for r in responses] == [200] * 12
            with pytest.raises(ValueError, match="boom"):
                await invoker.invoke(_function(failing, is_async=False), request)
        finally:
            invoker.shutdown()
        timed = Invoker(max_workers=2, timeout=0.1)
        try:
            started = time.perf_counter()
            with pytest.raises(FunctionTimeout):
                await timed.invoke(_function(stuck, is_async=False), request)
            assert time.perf_counter() - started < 2
            release.set()
            assert (await timed.invoke(_function(slow, is_async=False), request)).status == 200
        finally:
            timed.shutdown()

    asyncio.run(run())
    assert 1 <= peak[0] <= 3


def test_a_shut_down_invoker_refuses_new_calls() -> None:
    invoker = Invoker(max_workers=1)
    invoker.shutdown()
    request = build_http_request("GET", "http://h/api/f", {}, {}, {}, b"")
    with pytest.raises(RuntimeError):
        asyncio.run(invoker.invoke(_function(lambda req: func.HttpResponse("ok"), is_async=False), request))


def test_the_meter_times_sync_calls_with_their_response_encoding_on_the_functions_thread() -> None:
    import threading
    import time

    from localdev.host.metering import InvocationMeter

    threads: dict[str, str] = {}

    def busy(req):
        threads["handler"] = threading.current_thread().name
        deadline = time.thread_time() + 0.02  # 20 ms of this thread's CPU
        while time.thread_time() < deadline:
            pass
        time.sleep(0.05)  # waiting costs wall time, not CPU
        return func.HttpResponse("ok")

    async def waiting(req):
        return func.HttpResponse("ok")

    meter = InvocationMeter()
    invoker = Invoker(max_workers=2, meter=meter)
    request = build_http_request("GET", "http://h/api/f", {}, {}, {}, b"")

    async def run() -> None:
        for _ in range(3):
            assert (await invoker.invoke(_function(busy, is_async=False), request)).status == 200
        await invoker.invoke(_function(waiting, is_async=True), request)

    try:
        asyncio.run(run())
    finally:
        invoker.shutdown()
    cost = meter.snapshot()["functions"]["f"]
    assert cost["count"] == 4 and cost["timed"] == 3  # the async call is counted, not timed
    assert all(19.0 <= cpu < 45.0 and wall >= 65.0 for cpu, wall in cost["samples"])
    assert threads["handler"].startswith("function_")
    meter.reset()
    assert meter.snapshot()["functions"] == {}
