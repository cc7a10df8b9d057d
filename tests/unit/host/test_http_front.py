"""The host's HTTP front end: aiohttp's own error pages replaced by problem responses, Kestrel's limits."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, BadStatusLine, InvalidHeader, LineTooLong

from localdev.host.http_front import (MAX_HEADER_COUNT, MAX_HEADERS_TOTAL, MAX_REQUEST_LINE, HostRunner,
                                      parse_error_problem, parser_limits)

LIMITS = {"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_HEADERS_TOTAL, "max_headers": MAX_HEADER_COUNT}


@pytest.mark.parametrize("exc, status, code", [
    (LineTooLong(b"/x...", MAX_REQUEST_LINE), 414, "uri_too_long"),
    (LineTooLong(b"Bearer eyJ...", MAX_HEADERS_TOTAL), 431, "header_too_large"),
    (BadHttpMessage("Too many headers received"), 431, "header_too_large"),
    (BadHttpMessage("Invalid header value char:\n\n  b'X: a\\x00b'"), 400, "bad_request"),
    (InvalidHeader(b"a\x00b"), 400, "bad_request"),
    (BadStatusLine("GARBAGE"), 400, "bad_request"),
    (BadHttpMethod(error="Received HTTPS traffic on an HTTP port"), 400, "bad_request"),
    (BadHttpMessage("Data after `Connection: close`"), 400, "bad_request"),
])
def test_parse_errors_map_to_stable_codes(exc: Any, status: int, code: str) -> None:
    got_status, got_code, detail = parse_error_problem(exc, **LIMITS)
    assert (got_status, got_code) == (status, code)
    assert "eyJ" not in detail and "\x00" not in detail and "GARBAGE" not in detail


def test_limits_follow_kestrel() -> None:
    assert parser_limits() == {"max_line_size": 8192, "max_field_size": 32768, "max_headers": 100}


# -- in process: a HostRunner in front of a small application ------------------------------------------------

async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internal detail")


async def _forbidden(request: web.Request) -> web.Response:
    raise web.HTTPForbidden(headers={"X-Kept": "yes"})


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/elsewhere")


async def _read(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text=request.headers.get("X-Value", ""))


async def _exchange(*parts: bytes) -> tuple[int, dict[str, str], bytes]:
    app = web.Application(client_max_size=1024)
    app.add_routes([web.get("/boom", _boom), web.get("/forbidden", _forbidden), web.get("/redirect", _redirect),
                    web.post("/read", _read), web.get("/ok", _ok)])
    runner = HostRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index, data in enumerate(parts):
            if index:
                await asyncio.sleep(0.2)  # the handler is reading the body by now
            writer.write(data.replace(b"{port}", str(port).encode()))
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await runner.cleanup()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def exchange(*parts: bytes) -> tuple[int, dict[str, str], bytes]:
    return asyncio.run(_exchange(*parts))


def get(path: str, *lines: bytes) -> bytes:
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            + b"".join(line + b"\r\n" for line in lines) + b"\r\n")


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> dict[str, Any]:
    assert status == expected, body
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == expected and problem["code"] == code and problem["type"] == "about:blank"
    return problem


def test_an_exception_in_host_code_is_a_500_problem_without_details(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="localdev.host.http"):
        status, headers, body = exchange(get("/boom"))
    _problem(status, headers, body, 500, "internal_error")
    assert b"secret" not in body and b"Traceback" not in body and b"RuntimeError" not in body
    # The traceback is for whoever runs the host.
    assert "secret internal detail" in caplog.text


def test_http_exceptions_become_problems_and_keep_their_headers() -> None:
    status, headers, body = exchange(get("/forbidden"))
    _problem(status, headers, body, 403, "forbidden")
    assert headers["x-kept"] == "yes"
    status, headers, body = exchange(get("/nowhere"))
    _problem(status, headers, body, 404, "not_found")
    status, headers, body = exchange(b"PUT /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    _problem(status, headers, body, 405, "method_not_allowed")
    assert "GET" in headers["allow"]


def test_redirects_pass_through() -> None:
    status, headers, _ = exchange(get("/redirect"))
    assert status == 302 and headers["location"] == "/elsewhere"


def test_a_body_over_client_max_size_is_413() -> None:
    body = b"x" * 2048
    status, headers, answer = exchange(b"POST /read HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                                       + str(len(body)).encode() + b"\r\n\r\n" + body)
    _problem(status, headers, answer, 413, "request_too_large")


@pytest.mark.parametrize("split", [False, True], ids=["seen-by-the-parser", "seen-while-reading"])
def test_a_broken_chunked_body_is_400(split: bool, caplog: pytest.LogCaptureFixture) -> None:
    # Split: the handler is already reading the body when the bad chunk size arrives; aiohttp alone would
    # leave it waiting for the rest of the body.
    head = b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    tail = b"zz\r\n\r\n"
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        status, headers, body = exchange(head, tail) if split else exchange(head + tail)
    _problem(status, headers, body, 400, "bad_request")
    assert not split or headers.get("connection") == "close"  # (an HTTP/1.0 answer closes anyway)
    assert "Traceback" not in caplog.text and "Unhandled" not in caplog.text


def test_parser_errors_are_problems_that_do_not_echo_the_request() -> None:
    status, headers, body = exchange(get("/ok", b"Authorization: Bearer " + b"T" * (MAX_HEADERS_TOTAL + 10)))
    _problem(status, headers, body, 431, "header_too_large")
    assert b"TTTT" not in body
    status, headers, body = exchange(get("/ok", b"Authorization: Bearer se\x00cret"))
    _problem(status, headers, body, 400, "bad_request")
    assert b"cret" not in body  # nothing of the value


def test_non_utf8_header_values_are_refused_and_utf8_ones_pass() -> None:
    status, headers, body = exchange(get("/ok", b"X-Value: caf\xe9"))
    assert "X-Value" in _problem(status, headers, body, 400, "bad_request")["detail"]
    status, _, body = exchange(get("/ok", "X-Value: café".encode()))
    assert status == 200 and body.decode() == "café"


def test_the_total_header_budget_is_enforced() -> None:
    lines = [b"X-Part-%d: " % i + b"p" * 9000 for i in range(4)]
    status, headers, body = exchange(get("/ok", *lines))
    _problem(status, headers, body, 431, "header_too_large")
    status, _, _ = exchange(get("/ok", *lines[:3]))
    assert status == 200
