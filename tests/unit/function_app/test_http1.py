"""The Graph transport's HTTP/1.1 exchange: what goes out (nothing smuggled through a header or a path) and how
an answer is framed, over a real socket pair whose other end plays the server byte by byte."""
from __future__ import annotations

import http.client
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from function_app import http1

HOST = "graph.example"


def answered(raw: bytes, method: str = "GET", *, pieces: list[int] | None = None,
             close_after: bool = True) -> tuple[http1.Answer, bytes]:
    """Exchange a request on one end of a socket pair while the other end reads it and writes `raw`, split into
    `pieces` sizes (how TLS records and TCP segments split an answer), then closes unless told not to."""
    client, server = socket.socketpair()
    client.settimeout(5)
    seen = bytearray()

    def serve() -> None:
        while b"\r\n\r\n" not in seen:
            chunk = server.recv(65536)
            if not chunk:
                return
            seen.extend(chunk)
        start = 0
        for size in pieces or [len(raw)]:
            server.sendall(raw[start:start + size])
            start += size
        server.sendall(raw[start:])
        if close_after:
            server.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        answer = http1.exchange(client, method, http1.request_bytes(method, "/v1.0/me", HOST, {"Authorization": "Bearer t"}))
    finally:
        thread.join(5)
        client.close()
        server.close()
    return answer, bytes(seen)


def test_the_request_is_one_head_with_host_and_identity_encoding_unless_given():
    sent = http1.request_bytes("GET", "/v1.0/me?$select=id", HOST, {"Authorization": "Bearer abc", "Accept": "application/json"})
    assert sent == (b"GET /v1.0/me?$select=id HTTP/1.1\r\nHost: graph.example\r\nAccept-Encoding: identity\r\n"
                    b"Authorization: Bearer abc\r\nAccept: application/json\r\n\r\n")
    own = http1.request_bytes("HEAD", "/", HOST, {"host": "other:8443", "Accept-Encoding": "gzip"})
    assert own == b"HEAD / HTTP/1.1\r\nhost: other:8443\r\nAccept-Encoding: gzip\r\n\r\n"


@pytest.mark.parametrize(("target", "headers"), [
    ("/v1.0/me\r\nX-Injected: 1", {}),
    ("/v1.0/me HTTP/1.1", {}),
    ("/v1.0/me\x00", {}),
    ("/v1.0/m\u00e9", {}),  # Latin-1, but not ASCII
    ("/v1.0/me", {"Authorization": "Bearer a\r\nX-Injected: 1"}),
    ("/v1.0/me", {"Authorization": "Bearer a\nb"}),
    ("/v1.0/me", {"Bad Name": "x"}),
    ("/v1.0/me", {"X-Name:": "x"}),
    ("/v1.0/me", {"X-Text": "caf\u00e9 \u2603"}),  # not Latin-1
])
def test_nothing_can_be_smuggled_into_the_request(target, headers):
    with pytest.raises(ValueError):
        http1.request_bytes("GET", target, HOST, headers)


def test_a_content_length_answer_on_a_kept_alive_connection():
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\": \"1\"}"
    answer, seen = answered(raw, pieces=[3, 10, 1, 30], close_after=False)
    assert seen.startswith(b"GET /v1.0/me HTTP/1.1\r\nHost: graph.example\r\n")
    assert (answer.status, answer.body, answer.reusable) == (200, b'{"id": "1"}', True)
    assert answer.headers.get("content-type") == answer.headers.get("Content-Type") == "application/json"
    assert answer.headers.get("Retry-After") is None and answer.headers.get("Retry-After", "x") == "x"


def test_a_chunked_answer_with_extensions_and_trailers():
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: dropped\r\n\r\n")
    answer, _ = answered(raw, pieces=[1] * len(raw), close_after=False)
    assert (answer.body, answer.reusable) == (b"Wikipedia", True)


def test_transfer_encoding_wins_over_content_length():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    assert answered(raw, close_after=False)[0].body == b"ok"


def test_without_length_the_body_runs_to_the_end_and_the_connection_is_not_reused():
    answer, _ = answered(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
    assert (answer.body, answer.reusable) == (b"all of it", False)
    gzip_only = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw"
    assert answered(gzip_only)[0].body == b"raw"  # a final coding other than chunked: up to the end


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_answers_leave_the_connection_reusable(status):
    answer, _ = answered(f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n".encode(), close_after=False)
    assert (answer.status, answer.body, answer.reusable) == (status, b"", True)


def test_head_reads_no_body_whatever_the_length_says():
    answer, _ = answered(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method="HEAD", close_after=False)
    assert (answer.body, answer.reusable) == (b"", True)


def test_informational_answers_are_skipped():
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    answer, _ = answered(raw, close_after=False)
    assert (answer.status, answer.body) == (404, b"")
    assert answer.headers.get("Link") is None


@pytest.mark.parametrize(("head", "reusable"), [
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", False),
    (b"HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 2\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", True),
])
def test_the_connection_is_kept_as_the_answer_says(head, reusable):
    assert answered(head + b"ok", close_after=False)[0].reusable is reusable


def test_repeated_fields_are_joined_and_values_trimmed():
    raw = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer a=1\r\nwww-authenticate:  Bearer b=2 \r\nContent-Length: 0\r\n\r\n"
    assert answered(raw, close_after=False)[0].headers.get("WWW-Authenticate") == "Bearer a=1, Bearer b=2"


def test_an_answer_followed_by_more_bytes_in_the_same_read_is_not_reused():
    client, server = socket.socketpair()
    with client, server:
        server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        answer = http1.exchange(client, "GET", http1.request_bytes("GET", "/", HOST, {}))
    assert (answer.body, answer.reusable) == (b"ok", False)


def test_a_connection_closed_before_any_answer_is_no_answer():
    client, server = socket.socketpair()
    with client:
        server.close()
        with pytest.raises(http1.NoAnswer):
            http1.exchange(client, "GET", http1.request_bytes("GET", "/", HOST, {}))


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                 # body cut short
    b"HTTP/1.1 200 OK\r\nContent-Len",                                       # head cut short
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",          # chunk cut short
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",           # chunk size not hex
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",  # chunk without CRLF
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: \xd9\xa3\r\n\r\nabc",              # not ASCII digits
    b"HTTP/1.1 200 OK\r\n folded: value\r\nContent-Length: 0\r\n\r\n",      # obsolete line folding
    b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
    b"HTTP/2 200\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
])
def test_answers_that_cannot_be_framed_are_protocol_errors(raw):
    with pytest.raises(http.client.HTTPException) as caught:
        answered(raw)
    assert not isinstance(caught.value, http1.NoAnswer)


def test_repeated_identical_content_lengths_frame_the_body():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"
    assert answered(raw, close_after=False)[0].body == b"ok"


field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
field_values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=40)


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=3000),
       chunks=st.lists(st.integers(min_value=1, max_value=700), max_size=8),
       pieces=st.lists(st.integers(min_value=1, max_value=900), max_size=8),
       chunked=st.booleans(),
       fields=st.dictionaries(field_names.filter(lambda n: n.lower() not in {"content-length", "transfer-encoding", "connection"}),
                              field_values, max_size=6))
def test_any_split_of_any_framing_reads_the_same_answer(body, chunks, pieces, chunked, fields):
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    if chunked:
        encoded, start = b"", 0
        for size in chunks + [len(body)]:
            part = body[start:start + size]
            start += len(part)
            if part:
                encoded += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        raw = f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode() + encoded + b"0\r\n\r\n"
    else:
        raw = f"HTTP/1.1 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    answer, _ = answered(raw, pieces=pieces, close_after=False)
    assert answer.body == body and answer.reusable
    for name, value in fields.items():
        assert answer.headers.get(name.upper()) is not None
        assert value.strip() in answer.headers.get(name)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(
    st.binary(max_size=400),
    st.builds(lambda head, rest: head + rest,
              st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 204 X\r\n", b"HTTP/1.1 100 C\r\n\r\nHTTP/1.1 200 OK\r\n"]),
              st.lists(st.sampled_from([b"Content-Length: ", b"Transfer-Encoding: chunked", b"Connection: close",
                                        b"\r\n", b"\r\n\r\n", b"0", b"5", b"ff", b";x", b" ", b":", b"\n", b"\xff",
                                        b"abcde", b"-1", b"1, 2"]), max_size=24).map(b"".join)),
))
def test_whatever_arrives_is_an_answer_or_a_protocol_error(raw):
    """Nothing Graph (or anything on the path) sends makes the parser fail in another way: the transport maps
    protocol errors to a Graph failure, while any other exception would escape it."""
    try:
        answer, _ = answered(raw)
    except http.client.HTTPException:
        return
    assert 100 <= answer.status <= 999 and isinstance(answer.body, bytes)
