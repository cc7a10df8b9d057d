"""One HTTP/1.1 exchange on a connected (TLS) socket: the request written in one send, the answer read with a
small parser. The Graph transport uses it on its kept-alive connections instead of `http.client`'s request
and response objects, whose header handling (`putheader` checks, then the `email` package parsing the
answer's headers into a message object) was most of the Python work of a cached get-profile's Graph call
(docs/performance.md, "The function's own cost").

What it keeps from `http.client`: the request line and header values are checked for control characters
(no header or request can be smuggled in through a token or a path), `Host` and `Accept-Encoding: identity`
are sent unless given, informational (1xx) answers are skipped, and the body is framed as RFC 9112 section
6.3 says: none for HEAD, 1xx, 204 and 304; chunked when the last transfer coding is chunked; else
`Content-Length`; else up to the end of the connection. Limits: 64 KiB for the status line and headers, 100
header fields, 64 KiB per chunk-size line. Line endings must be CRLF.

It raises `http.client.HTTPException` subclasses for answers it cannot frame, `OSError` for the socket's
failures (timeouts included), and `NoAnswer` when the connection ended before any byte of the answer (what
a kept-alive connection the server closed looks like).
"""
from __future__ import annotations

import http.client
import re
import socket
from dataclasses import dataclass
from typing import Mapping

MAX_HEAD_BYTES = 65536
MAX_HEADER_FIELDS = 100
MAX_LINE_BYTES = 65536
_RECV_BYTES = 65536

# RFC 9110 token characters for a field name; a value may hold anything but CR, LF and NUL.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\0]")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")

# How a body ends when it is not a known length (`_framing`).
_CHUNKED = "chunked"
_TO_END = "to the end of the connection"


class NoAnswer(http.client.HTTPException):
    """The connection ended before any byte of the answer arrived."""


class Headers(dict):
    """An answer's header fields: lower-cased names, repeated fields joined with ", "; `get` takes any case."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes
    reusable: bool  # the connection may carry another request


def request_bytes(method: str, target: str, host: str, headers: Mapping[str, str]) -> bytes:
    """The request head (no body is ever sent). ValueError for a control character in the target or a header,
    or a header name that is not a token, as `http.client` refuses them."""
    if not target.isascii() or _BAD_TARGET.search(target):
        raise ValueError("the request target holds a control character, a space or a non-ASCII character")
    lines = [f"{method} {target} HTTP/1.1"]
    given = {name.lower() for name in headers}
    if "host" not in given:
        lines.append(f"Host: {host}")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError("a header name is not a token")
        if _BAD_VALUE.search(value):
            raise ValueError(f"the {name} header holds a line break or NUL")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")  # UnicodeEncodeError (a ValueError) as http.client's


def exchange(sock: socket.socket, method: str, request: bytes) -> Answer:
    """Send `request` (from `request_bytes`, with this `method`) on `sock` and read its whole answer."""
    try:
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise NoAnswer("the connection was closed before the request was sent") from exc
    reader = _Reader(sock)
    while True:
        version, status, fields = reader.head()
        if not 100 <= status < 200 or status == 101:
            break
    headers_read = _parse_fields(fields)
    keep_alive = _keeps_alive(version, headers_read)
    framing = None if method == "HEAD" or status in (204, 304) else _framing(headers_read)
    if framing is None:
        body = b""
    elif framing is _CHUNKED:
        body = reader.chunked()
    elif framing is _TO_END:
        body, keep_alive = reader.to_end(), False
    else:
        body = reader.exactly(framing)
    return Answer(status, headers_read, body, keep_alive and not reader.buffer)


class _Reader:
    """Buffered reads from the socket; what it read beyond the answer stays in `buffer` (then the connection
    is not reused: the server sent more than one answer)."""

    __slots__ = ("sock", "buffer", "answered")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.answered = False

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(_RECV_BYTES)
        except ConnectionResetError as exc:
            if not self.answered:
                raise NoAnswer("the connection was reset before the answer") from exc
            raise
        if chunk:
            self.answered = True
            self.buffer += chunk
        return bool(chunk)

    def _until(self, marker: bytes, limit: int, what: str) -> bytes:
        start = 0
        while (end := self.buffer.find(marker, start)) < 0:
            if len(self.buffer) > limit:
                raise http.client.LineTooLong(what)
            start = max(0, len(self.buffer) - len(marker) + 1)
            if not self._fill():
                if not self.answered:
                    raise NoAnswer("the connection ended before the answer")
                raise http.client.IncompleteRead(bytes(self.buffer))
        if end > limit:
            raise http.client.LineTooLong(what)
        data = bytes(self.buffer[:end])
        del self.buffer[:end + len(marker)]
        return data

    def head(self) -> tuple[int, int, list[bytes]]:
        """(minor version, status, header lines) of the next answer head."""
        lines = self._until(b"\r\n\r\n", MAX_HEAD_BYTES, "status line and headers").split(b"\r\n")
        matched = _STATUS_LINE.fullmatch(lines[0])
        if matched is None:
            raise http.client.BadStatusLine(lines[0][:100].decode("latin-1"))
        if len(lines) - 1 > MAX_HEADER_FIELDS:
            raise http.client.HTTPException(f"got more than {MAX_HEADER_FIELDS} headers")
        return int(matched.group(1)), int(matched.group(2)), lines[1:]

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self._fill():
                raise http.client.IncompleteRead(bytes(self.buffer), count - len(self.buffer))
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def chunked(self) -> bytes:
        parts = []
        while True:
            size_line = self._until(b"\r\n", MAX_LINE_BYTES, "chunk size")
            size_text = size_line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise http.client.HTTPException("invalid chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            parts.append(self.exactly(size))
            if self.exactly(2) != b"\r\n":
                raise http.client.HTTPException("a chunk does not end with CRLF")
        while self._until(b"\r\n", MAX_LINE_BYTES, "trailer"):  # trailer fields, read and dropped
            pass
        return b"".join(parts)

    def to_end(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _parse_fields(lines: list[bytes]) -> Headers:
    fields: dict[str, str] = {}
    for raw in lines:
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise http.client.HTTPException("a header line is not a field")  # obsolete folding included
        key, value = name.lower(), value.strip(" \t")
        previous = fields.get(key)
        fields[key] = value if previous is None else f"{previous}, {value}"
    return Headers(fields)


def _tokens(value: str | None) -> list[str]:
    return [token.strip().lower() for token in (value or "").split(",") if token.strip()]


def _keeps_alive(minor_version: int, headers: Headers) -> bool:
    connection = _tokens(headers.get("connection"))
    if "close" in connection:
        return False
    return minor_version == 1 or "keep-alive" in connection


def _framing(headers: Headers) -> int | str:
    """How the body ends: `_CHUNKED`, `_TO_END` or its length. Transfer-Encoding wins over Content-Length; a
    final coding other than chunked reads to the end (RFC 9112 section 6.3)."""
    codings = _tokens(headers.get("transfer-encoding"))
    if codings:
        return _CHUNKED if codings[-1] == "chunked" else _TO_END
    length = headers.get("content-length")
    return _TO_END if length is None else _content_length(length)


def _content_length(value: str) -> int:
    # Repeated identical values arrive joined ("12, 12"); differing ones cannot frame the body.
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1 or not (text := values.pop()).isdigit() or not text.isascii():
        raise http.client.HTTPException("invalid Content-Length")
    return int(text)
