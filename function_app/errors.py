"""One error hierarchy, and the single place where errors become HTTP responses.

Every error is `application/problem+json` (RFC 9457) with a stable `code`, the request's correlation id,
an RFC 6750 `WWW-Authenticate` challenge on every 401/403 and `Retry-After` on every 429/503.

Decisions:
- `misconfigured` is a 500: it is the operator's fault, not transient, so a retry hint would mislead.
  Its detail names the setting, never a value.
- `interaction_required` carries the claims challenge base64-encoded in `WWW-Authenticate` (as Entra ID
  and Microsoft Graph do); MSAL.js wants the decoded JSON in `request.claims`, so the body also carries
  `claims` already decoded.
- Unexpected exceptions become a 500 `internal_error` with only the correlation id; the stack trace goes
  to the (redacted) log, never to the response.
"""
from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import time
from typing import Any, Callable, ClassVar, Mapping

import azure.functions as func

from . import logging_setup

PROBLEM_TYPE_BASE = "https://errors.profile-api.local/"
DEFAULT_RETRY_AFTER = 5


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        self.detail = detail or self.title
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.detail)

    def challenge(self) -> str | None:
        """RFC 6750 challenge for 401/403 responses."""
        return None


def _quote(value: str) -> str:
    # RFC 6750 error_description: printable ASCII except `"` and `\`.
    cleaned = "".join(c for c in value if 0x20 <= ord(c) <= 0x7E and c not in '"\\')
    return f'"{cleaned[:300]}"'


class AuthError(ApiError):
    """401/403 family; `rfc6750_error` is the challenge's `error` parameter (None: no error parameter)."""
    rfc6750_error: ClassVar[str | None] = "invalid_token"

    def challenge(self) -> str:
        if self.rfc6750_error is None:
            return "Bearer"
        return f"Bearer error={_quote(self.rfc6750_error)}, error_description={_quote(self.detail)}"


class MissingToken(AuthError):
    status, code, title = 401, "missing_token", "No bearer token"
    rfc6750_error = None  # RFC 6750 section 3.1: no error code when the request carried no credentials


class InvalidToken(AuthError):
    status, code, title = 401, "invalid_token", "Invalid token"


class TokenExpired(AuthError):
    status, code, title = 401, "token_expired", "Token expired"


class InsufficientScope(AuthError):
    status, code, title = 403, "insufficient_scope", "Insufficient scope"
    rfc6750_error = "insufficient_scope"

    def __init__(self, detail: str | None = None, *, scope: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.scope = scope

    def challenge(self) -> str:
        challenge = super().challenge()
        return f"{challenge}, scope={_quote(self.scope)}" if self.scope else challenge


class ConsentRequired(AuthError):
    """The API app lacks consent for Microsoft Graph (AADSTS65001); an admin must grant it."""
    status, code, title = 403, "consent_required", "Consent required"
    rfc6750_error = "insufficient_scope"

    def __init__(self, detail: str | None = None, *, consent_url: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.extra["consentUrl"] = consent_url


class InteractionRequired(AuthError):
    """The user must sign in again (MFA, conditional access, revoked refresh token)."""
    status, code, title = 401, "interaction_required", "Interaction required"

    def __init__(self, detail: str | None = None, *, claims: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.claims = claims
        if claims:
            self.extra["claims"] = claims

    def challenge(self) -> str:
        if not self.claims:
            return f"Bearer error={_quote('interaction_required')}, error_description={_quote(self.detail)}"
        encoded = base64.b64encode(self.claims.encode("utf-8")).decode("ascii")
        return (f"Bearer error={_quote('insufficient_claims')}, error_description={_quote(self.detail)}, "
                f'claims="{encoded}"')


class RetryableError(ApiError):
    """429/503 family: always carries Retry-After."""

    def __init__(self, detail: str | None = None, *, retry_after: int | float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        seconds = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
        self.retry_after = max(1, min(3600, int(round(seconds))))
        self.headers["Retry-After"] = str(self.retry_after)


class IdentityUnavailable(RetryableError):
    status, code, title = 503, "identity_unavailable", "Identity provider unavailable"


class GraphThrottled(RetryableError):
    status, code, title = 429, "graph_throttled", "Microsoft Graph is throttling requests"


class GraphUnavailable(RetryableError):
    status, code, title = 503, "graph_unavailable", "Microsoft Graph unavailable"


class HeaderTooLarge(ApiError):
    status, code, title = 431, "header_too_large", "Request header too large"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class PhotoNotFound(NotFound):
    code, title = "photo_not_found", "No profile photo"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class Misconfigured(ApiError):
    status, code, title = 500, "misconfigured", "The API is misconfigured"

    def __init__(self, detail: str | None = None, *, setting: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.setting = setting
        if setting:
            self.extra["setting"] = setting


class InternalError(ApiError):
    status, code, title = 500, "internal_error", "Internal error"


def problem_body(error: ApiError, correlation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + error.code,
        "title": error.title,
        "status": error.status,
        "code": error.code,
        "detail": error.detail,
        "correlationId": correlation_id,
    }
    body.update(error.extra)
    return body


def problem_response(error: ApiError, correlation_id: str | None = None) -> func.HttpResponse:
    correlation_id = correlation_id or logging_setup.correlation_id()
    headers = {"Cache-Control": "no-store", "X-Correlation-Id": correlation_id, **error.headers}
    challenge = error.challenge()
    if error.status in (401, 403):
        headers["WWW-Authenticate"] = challenge or "Bearer"
    if error.status in (429, 503) and "Retry-After" not in headers:
        headers["Retry-After"] = str(DEFAULT_RETRY_AFTER)
    return func.HttpResponse(
        json.dumps(problem_body(error, correlation_id)),
        status_code=error.status,
        headers=headers,
        mimetype="application/problem+json",
        charset="utf-8",
    )


Handler = Callable[..., Any]


def http_handler(name: str) -> Callable[[Handler], Handler]:
    """Wrap an HTTP function, sync or async: correlation id in and out, errors to problem+json, one log line per
    request, nothing escaping as a 500 with a trace. The wrapper keeps the function's signature (the Functions
    worker reads its parameters to bind inputs)."""

    def decorate(fn: Handler) -> Handler:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(req: func.HttpRequest, *args: Any, **kwargs: Any) -> func.HttpResponse:
                started = time.perf_counter()
                with logging_setup.correlation_scope(_caller_correlation_id(req)) as correlation_id:
                    try:
                        response = await fn(req, *args, **kwargs)
                    except Exception as exc:  # noqa: BLE001 - every failure becomes a problem response
                        response = _failure(name, exc, correlation_id)
                    return _finish(name, req, response, correlation_id, started)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(req: func.HttpRequest, *args: Any, **kwargs: Any) -> func.HttpResponse:
            started = time.perf_counter()
            with logging_setup.correlation_scope(_caller_correlation_id(req)) as correlation_id:
                try:
                    response = fn(req, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - every failure becomes a problem response
                    response = _failure(name, exc, correlation_id)
                return _finish(name, req, response, correlation_id, started)

        return wrapper

    return decorate


def _caller_correlation_id(req: func.HttpRequest) -> str | None:
    try:
        return logging_setup.request_correlation_id(req.headers)
    except Exception:  # noqa: BLE001 - unreadable headers must not cost the request its answer (a fresh id)
        return None


def _failure(name: str, exc: Exception, correlation_id: str) -> func.HttpResponse:
    if isinstance(exc, ApiError):
        level = logging.WARNING if exc.status >= 500 else logging.INFO
        logging_setup.log_event("request_failed", level, function=name, status=exc.status, code=exc.code,
                                setting=getattr(exc, "setting", None))
        return problem_response(exc, correlation_id)
    logging_setup.logger.error("event=unhandled_exception function=%s correlation_id=%s", name, correlation_id,
                               exc_info=exc)
    return problem_response(InternalError("Unexpected error; quote the correlation id when reporting it."),
                            correlation_id)


def _finish(name: str, req: func.HttpRequest, response: func.HttpResponse, correlation_id: str,
            started: float) -> func.HttpResponse:
    response.headers["X-Correlation-Id"] = correlation_id
    logging_setup.log_event("request", function=name, method=req.method, status=response.status_code,
                            duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return response
