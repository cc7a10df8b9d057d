"""The HTTP front end: request size limits, malformed requests and the host's own failures as problem responses.

In Azure, Kestrel parses the request before App Service authentication or the function sees it. Its limits
are mirrored here: request line up to 8 KiB (longer: 414), request headers up to 32 KiB in all and at most
100 of them (more: 431). Header values must be UTF-8, as Kestrel decodes them: other bytes (RFC 9110's
obs-text, e.g. a Latin-1 `é`) are refused with 400 instead of reaching the app as undecodable text.

aiohttp answers parser errors and unhandled exceptions with its own `text/plain` pages (and echoes the start
of an offending header, which may be a token). `HostRunner` replaces those: every error the host produces is
`application/problem+json` with a stable `code` -

- 431 `header_too_large`: a header field over 32 KiB, headers over 32 KiB in all, more than 100 fields;
- 414 `uri_too_long`: a request line over 8 KiB;
- 413 `request_too_large`: a body over the application's `client_max_size`;
- 400 `bad_request`: a malformed request line or header, control bytes in a header value, header bytes that
  are not UTF-8, an invalid `Host`, a broken chunked body;
- 500 `internal_error`: an exception in the host's own code (the traceback goes to the host log only);

and an `HTTPException` raised anywhere behind the front end (aiohttp's router, `request.read()`) becomes a
problem response with the same status (redirects pass through unchanged).
"""
from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadStatusLine, HttpProcessingError, InvalidURLError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo
from aiohttp.web_request import BaseRequest

from localdev.host.problems import problem_response

log = logging.getLogger("localdev.host.http")

MAX_REQUEST_LINE = 8 * 1024  # Kestrel's MaxRequestLineSize
MAX_HEADERS_TOTAL = 32 * 1024  # Kestrel's MaxRequestHeadersTotalSize
MAX_HEADER_COUNT = 100  # Kestrel's MaxRequestHeaderCount

# RFC 9110 `uri-host [":" port]`: an IP literal or a reg-name (ASCII only, as Kestrel checks it).
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{0,5})?")

RawHandler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]

# Codes for HTTPExceptions raised behind the front end; any other status gets its reason phrase in snake case.
_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
          414: "uri_too_long", 431: "header_too_large", 500: "internal_error"}
_DETAILS = {
    400: "The request is not valid HTTP.",
    404: "No function matches this path.",
    405: "The method is not allowed here.",
    413: "The request body is larger than the host accepts.",
    500: "The host failed to answer this request; see the host log.",
}
INTERNAL_DETAIL = _DETAILS[500]


def parser_limits() -> dict[str, int]:
    """Keyword arguments for aiohttp's request parser. One field may use the whole header budget; the
    total is checked once the headers are parsed (aiohttp has no total limit of its own)."""
    return {"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_HEADERS_TOTAL,
            "max_headers": MAX_HEADER_COUNT}


def _code_for(status: int) -> str:
    if status in _CODES:
        return _CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_").replace("'", "")
    except ValueError:
        return "error"


def parse_error_problem(exc: HttpProcessingError, *, max_line_size: int, max_field_size: int,
                        max_headers: int) -> tuple[int, str, str]:
    """(status, code, detail) for an error from aiohttp's request parser. The detail never quotes the request."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else None
        if limit == max_line_size and max_line_size != max_field_size:
            return 414, "uri_too_long", f"The request line is longer than {max_line_size} bytes."
        return 431, "header_too_large", (f"A request header is larger than {max_field_size} bytes; the request "
                                         f"headers may take {MAX_HEADERS_TOTAL} bytes in all.")
    message = (exc.message or "").lower()
    if isinstance(exc, BadHttpMessage) and "too many headers" in message:
        return 431, "header_too_large", f"The request has more than {max_headers} header fields."
    if isinstance(exc, (BadStatusLine, InvalidURLError)):
        return 400, "bad_request", "The request line is malformed."
    if "header" in message:
        return 400, "bad_request", ("A request header is malformed or contains a character that is not allowed "
                                    "(such as NUL, CR or LF).")
    if 400 <= exc.code < 500 and exc.code != 400:
        return exc.code, _code_for(exc.code), _DETAILS.get(exc.code, "The request is not valid HTTP.")
    return 400, "bad_request", "The request is not valid HTTP/1.1."


class HostRequestHandler(RequestHandler):
    """aiohttp's connection handler with problem responses instead of its text error pages."""

    def data_received(self, data: bytes) -> None:
        queued = len(self._messages)
        super().data_received(data)
        # When a body turns out malformed after its handler started reading it (a bad chunk size in a later
        # packet), aiohttp's parser queues the error behind the request but leaves that request's body stream
        # open: the handler would wait for the rest of the body until the client gives up. End the body with
        # an error instead; the front end answers it with a 400.
        request = self._current_request
        if request is not None and len(self._messages) > queued and isinstance(self._messages[-1][0], _ErrInfo):
            if not request.content.is_eof():
                request.content.set_exception(RequestPayloadError("malformed request body"))
                self._lingering_time = 0.0  # nothing more to drain: the connection closes after the answer

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # Called for parser errors (before any handler ran) and for exceptions that escaped the handler.
        if request.writer.output_size > 0:
            # Part of a response went out already: the connection can only be dropped.
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if isinstance(exc, HttpProcessingError):
            status, code, detail = parse_error_problem(exc, max_line_size=self.max_line_size,
                                                       max_field_size=self.max_field_size,
                                                       max_headers=self.max_headers)
            log.info("refused a malformed request from %s: %d %s (%s)", request.remote, status, code,
                     type(exc).__name__)
        else:
            if isinstance(exc, ConnectionError):
                log.debug("client went away during %s %r", request.method, request.raw_path)
            else:
                log.error("unhandled error in the host answering %s %r", request.method, request.raw_path,
                          exc_info=exc)
            status, code, detail = 500, "internal_error", INTERNAL_DETAIL
        response = problem_response(status, code, None, detail)
        response.force_close()
        return response


class HostServer(web.Server):
    def __call__(self) -> RequestHandler:
        return HostRequestHandler(self, loop=self._loop, **self._kwargs)


def check_request_head(request: BaseRequest) -> web.Response | None:
    """The checks Kestrel makes after parsing: total header size, UTF-8 header values, a valid Host."""
    total = 0
    for name, value in request.raw_headers:
        total += len(name) + len(value) + 4  # ": " and CRLF
        if not (value.isascii() and name.isascii()):
            try:
                name.decode("ascii")
                value.decode("utf-8")
            except UnicodeDecodeError:
                shown = name.decode("ascii", "replace")
                return problem_response(400, "bad_request", None,
                                        f"The {shown} header is not valid UTF-8; header values must be UTF-8 "
                                        f"text (percent- or base64-encode anything else).")
    if total > MAX_HEADERS_TOTAL:
        return problem_response(431, "header_too_large", None,
                                f"The request headers take {total} bytes; at most {MAX_HEADERS_TOTAL} are "
                                f"accepted.")
    host = request.headers.get("Host")
    if host:
        valid = _HOST.fullmatch(host) is not None
        if valid:
            try:
                request.url  # noqa: B018 - the URL the function gets; a port over 65535 fails here
            except ValueError:
                valid = False
        if not valid:
            return problem_response(400, "bad_request", None, "The Host header is not a valid host[:port].")
    return None


def http_exception_problem(exc: web.HTTPException) -> web.Response:
    status = exc.status
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return problem_response(status, _code_for(status), None, _DETAILS.get(status, f"{_phrase(status)}."), headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def guard(handler: RawHandler) -> RawHandler:
    """Wraps the application: refuses what Kestrel would, turns HTTPExceptions into problem responses."""

    async def guarded(request: BaseRequest) -> web.StreamResponse:
        refused = check_request_head(request)
        if refused is not None:
            return refused
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return http_exception_problem(exc)
        except RequestPayloadError:
            # A broken chunked or compressed body: the connection cannot be reused.
            response = problem_response(400, "bad_request", None, "The request body could not be read.")
            response.force_close()
            return response

    return guarded


class HostRunner(web.AppRunner):
    """`web.AppRunner` with Kestrel's limits and problem responses for everything aiohttp would answer itself."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        for key, value in parser_limits().items():
            kwargs.setdefault(key, value)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return HostServer(guard(server.request_handler), request_factory=server.request_factory,
                          handler_cancellation=server.handler_cancellation, loop=server._loop, **server._kwargs)
