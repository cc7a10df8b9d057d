"""Requests aiohttp's parser or the host's front end refuse are answered with problem+json, never a 5xx.

Sent byte for byte over a raw socket: `requests`/http.client refuse to send NUL bytes, non-UTF-8 header
values, oversized request lines. Each case runs against the host with App Service authentication emulation
and against the host without it (`--no-auth`), since the two take different paths to the function.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, start_host
from tests.integration.host.issuer import LocalIssuer

APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def hosts(issuer: LocalIssuer) -> Iterator[dict[str, HostHandle]]:
    auth = start_host(APP, env=issuer.env(), auth_settings=AUTH_SETTINGS)
    try:
        direct = start_host(APP, auth=False)
    except Exception:
        auth.stop()
        raise
    yield {"auth": auth, "direct": direct}
    auth.stop()
    direct.stop()


@pytest.fixture(scope="module")
def token(issuer: LocalIssuer) -> str:
    return issuer.mint()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def problem(self, status: int | set[int], code: str | None = None) -> dict[str, Any]:
        statuses = {status} if isinstance(status, int) else status
        assert self.status in statuses, (self.status, self.body[:300])
        assert self.headers.get("Content-Type", "").startswith("application/problem+json"), (
            self.headers.get("Content-Type"), self.body[:300])
        body = json.loads(self.body)
        assert set(body) == {"type", "title", "status", "code", "detail"}, body
        assert body["status"] == self.status and body["title"] and body["detail"]
        if code is not None:
            assert body["code"] == code, body
        return body


def send(url: str, *data: bytes, timeout: float = 15) -> Answer:
    """Write `data` as is (several parts: 0.2 s apart) and parse the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        for index, part in enumerate(data):
            if index:
                time.sleep(0.2)
            sock.sendall(part)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, response.headers, response.read())


def request(host: HostHandle, path: str, lines: list[bytes] = (), method: bytes = b"GET",  # type: ignore[assignment]
            host_header: bytes | None = None) -> Answer:
    netloc = urlsplit(host.url).netloc.encode() if host_header is None else host_header
    head = (method + b" " + path.encode() + b" HTTP/1.1\r\nHost: " + netloc + b"\r\nConnection: close\r\n"
            + b"".join(line + b"\r\n" for line in lines) + b"\r\n")
    return send(host.url, head)


def bearer(token: str) -> bytes:
    return b"Authorization: Bearer " + token.encode()


HOSTS = ["auth", "direct"]


# -- sizes: Kestrel's limits (32 KiB of headers, 100 fields, 8 KiB request line) -----------------------------

@pytest.mark.parametrize("name", HOSTS)
def test_a_header_field_over_32_kib_is_431(name: str, hosts: dict[str, HostHandle], token: str) -> None:
    answer = request(hosts[name], "/api/echo", [bearer(token), b"X-User-Authorization: Bearer " + b"A" * 40_000])
    body = answer.problem(431, "header_too_large")
    assert "AAAA" not in body["detail"]


@pytest.mark.parametrize("name", HOSTS)
def test_headers_over_32_kib_in_all_are_431(name: str, hosts: dict[str, HostHandle], token: str) -> None:
    lines = [bearer(token)] + [b"X-Part-%d: " % i + b"B" * 9_000 for i in range(4)]
    request(hosts[name], "/api/echo", lines).problem(431, "header_too_large")


@pytest.mark.parametrize("name", HOSTS)
def test_more_than_100_header_fields_are_431(name: str, hosts: dict[str, HostHandle], token: str) -> None:
    lines = [bearer(token)] + [b"X-Field-%d: v" % i for i in range(110)]
    request(hosts[name], "/api/echo", lines).problem(431, "header_too_large")


def test_a_20_kib_header_still_reaches_the_function(hosts: dict[str, HostHandle], token: str) -> None:
    # Larger than aiohttp's default 8190-byte field limit, within App Service's: the function decides.
    value = "Bearer " + "C" * 20_000
    answer = request(hosts["auth"], "/api/echo", [bearer(token), b"X-User-Authorization: " + value.encode()])
    assert answer.status == 200, answer.body[:300]
    assert json.loads(answer.body)["headers"]["x-user-authorization"] == value


@pytest.mark.parametrize("name", HOSTS)
def test_a_request_line_over_8_kib_is_414(name: str, hosts: dict[str, HostHandle]) -> None:
    request(hosts[name], "/api/echo?q=" + "x" * 9_000).problem(414, "uri_too_long")


# -- bytes a header may not carry --------------------------------------------------------------------------

@pytest.mark.parametrize("header", [b"X-User-Authorization", b"Authorization", b"X-Anything"])
@pytest.mark.parametrize("name", HOSTS)
def test_nul_and_control_bytes_in_a_header_are_400(header: bytes, name: str, hosts: dict[str, HostHandle],
                                                   token: str) -> None:
    for bad in (b"\x00", b"\x01", b"\x7f"):
        value = b"Bearer " + token[:20].encode() + bad + token[20:].encode()
        lines = [header + b": " + value] + ([bearer(token)] if header != b"Authorization" else [])
        body = request(hosts[name], "/api/get-profile", lines).problem(400, "bad_request")
        assert token[:20] not in json.dumps(body)


NON_UTF8 = [b"X-User-Authorization: Bearer \xa0", b"Authorization: Bearer \xe9t\xe9", b"X-Anything: caf\xe9",
            b"X-MS-CLIENT-PRINCIPAL-NAME: \xff\xfe", b"X-Anything: \xc3\x28"]


@pytest.mark.parametrize("line", NON_UTF8, ids=["user-header", "authorization", "other", "platform", "bad-sequence"])
@pytest.mark.parametrize("path", ["/api/echo", "/api/config", "/api/whoami", "/api/nothing-here", "/.auth/me"])
@pytest.mark.parametrize("name", HOSTS)
def test_header_bytes_that_are_not_utf8_are_400_before_anything_else(
        line: bytes, path: str, name: str, hosts: dict[str, HostHandle], token: str) -> None:
    lines = [line] + ([bearer(token)] if not line.startswith(b"Authorization") else [])
    body = request(hosts[name], path, lines).problem(400, "bad_request")
    header_name = line.partition(b":")[0].decode()
    assert header_name in body["detail"] and "UTF-8" in body["detail"]


@pytest.mark.parametrize("name", HOSTS)
def test_utf8_header_values_reach_the_function_intact(name: str, hosts: dict[str, HostHandle], token: str) -> None:
    answer = request(hosts[name], "/api/echo", [bearer(token), "X-Anything: café ✓".encode()])
    assert answer.status == 200, answer.body[:300]
    assert json.loads(answer.body)["headers"]["x-anything"] == "café ✓"


# -- malformed requests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET /api/echo HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /api/echo\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/echo HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
    b"GET /api/echo HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
], ids=["not-http", "version", "target-bytes", "header-name", "obs-fold", "chunk-size", "two-lengths", "tls"])
@pytest.mark.parametrize("name", HOSTS)
def test_malformed_requests_are_400_problems(data: bytes, name: str, hosts: dict[str, HostHandle]) -> None:
    body = send(hosts[name].url, data).problem({400, 505}, None)
    assert body["code"] in {"bad_request", "http_version_not_supported"}


@pytest.mark.parametrize("name", HOSTS)
def test_a_chunked_body_that_breaks_while_the_host_reads_it_is_400(name: str, hosts: dict[str, HostHandle],
                                                                  token: str) -> None:
    head = (b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + bearer(token)
            + b"\r\n\r\n3\r\nabc\r\n")
    send(hosts[name].url, head, b"zz\r\n\r\n", timeout=10).problem(400, "bad_request")


@pytest.mark.parametrize("host_header", [b"a b", b"[::1", "é".encode(), b"example.test:99999", b"x/y"])
@pytest.mark.parametrize("name", HOSTS)
def test_an_invalid_host_header_is_400(host_header: bytes, name: str, hosts: dict[str, HostHandle],
                                       token: str) -> None:
    request(hosts[name], "/api/echo", [bearer(token)], host_header=host_header).problem(400, "bad_request")


@pytest.mark.parametrize("path", ["/api/echo%0A", "/api/anything%0Aelse", "/api/items/1%0A"])
def test_an_encoded_newline_in_the_path_is_a_404_problem(path: str, hosts: dict[str, HostHandle], token: str) -> None:
    for name in HOSTS:
        request(hosts[name], path, [bearer(token)]).problem(404, "not_found")


def test_the_host_keeps_serving_and_logs_no_traceback(hosts: dict[str, HostHandle], token: str) -> None:
    for name in HOSTS:
        request(hosts[name], "/api/echo", [b"X-Anything: \xff"]).problem(400, "bad_request")
        send(hosts[name].url, b"GARBAGE\r\n\r\n").problem(400, "bad_request")
        answer = request(hosts[name], "/api/echo", [bearer(token)])
        assert answer.status == 200, answer.body[:300]
        logs = hosts[name].logs()
        assert "Traceback" not in logs and "Error handling request" not in logs, logs[-2000:]
        assert token not in logs
