"""The host's own error answers: RFC 9457 `application/problem+json` with a stable `code`.

Every refusal the host produces itself (routing, App Service authentication, malformed requests, its own
failures) uses this shape, so a client handles the host's answers like the function's:
`{"type": "about:blank", "title", "status", "code", "detail"}`. The detail says what to fix and never echoes
request bytes (headers carry tokens).
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Mapping

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Every code the local stand-ins answer with on their own: the host and the linked-backend emulation (the
# function's codes are function_app/errors.py's). The README's error table lists both, which tests/docs checks.
HOST_CODES = {
    "bad_request": 400, "not_found": 404, "method_not_allowed": 405, "request_too_large": 413,
    "uri_too_long": 414, "header_too_large": 431, "internal_error": 500, "function_timeout": 500,
    "not_implemented": 501, "missing_token": 401, "invalid_token": 401, "token_expired": 401,
    "identity_unavailable": 503, "backend_unavailable": 502, "conflict": 409,
}


def problem_response(status: int, code: str, title: str | None, detail: str,
                     headers: Mapping[str, str] | None = None) -> web.Response:
    if title is None:
        title = _phrase(status)
    body = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_CONTENT_TYPE,
                        headers=dict(headers) if headers else None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
