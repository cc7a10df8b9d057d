"""Microsoft Graph's error envelope and the errors the Graph emulator raises.

Graph answers every failure with `{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}` and callers (and the product's Graph client) branch on `code`, so the codes and
messages below are the ones Graph v1.0 sends for the same situations.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# Graph's challenge on 401: Entra's v1 authorize endpoint and Graph's own app id, whatever the tenant.
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    f'client_id="{GRAPH_APP_ID}"'
)


class GraphError(Exception):
    """A failure that becomes one Graph error response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        inner: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner = dict(inner or {})


def invalid_token(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


# What Graph says when a CAE-capable token was issued before the user's sessions were revoked.
CAE_REVOKED_MESSAGE = ("Continuous access evaluation resulted in challenge with result: InteractionRequired and code: "
                       "TokenIssuedBeforeRevocationTimestamp")


def revocation_challenge(authorization_uri: str, not_before: int) -> GraphError:
    """Graph's CAE claims challenge: 401 `insufficient_claims` asking for a token issued at or after the
    revocation (`claims` is the base64 of `{"access_token":{"nbf":{"essential":true,"value":"<epoch>"}}}`)."""
    request = {"access_token": {"nbf": {"essential": True, "value": str(not_before)}}}
    claims = base64.b64encode(json.dumps(request, separators=(",", ":")).encode()).decode()
    header = (f'Bearer realm="", authorization_uri="{authorization_uri}", client_id="{GRAPH_APP_ID}", '
              f'error_description="{CAE_REVOKED_MESSAGE}", error="insufficient_claims", claims="{claims}"')
    return GraphError(401, "InvalidAuthenticationToken", CAE_REVOKED_MESSAGE, headers={"WWW-Authenticate": header})


def access_denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unknown_segment(segment: str) -> GraphError:
    return bad_request(f"Resource not found for the segment '{segment}'.")


def resource_not_found(name: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{name}' does not exist or one of its queried reference-property objects are not present.",
    )


def method_not_allowed() -> GraphError:
    return GraphError(
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request uri.",
        headers={"Allow": "GET, HEAD, OPTIONS"},
    )


# Status -> (code, message, innerError code) for injected faults, after Graph's documented error codes
# and its throttling response.
_FAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("BadRequest", "Bad request.", None),
    401: ("InvalidAuthenticationToken", "Access token validation failure.", None),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.", None),
    404: ("itemNotFound", "The resource could not be found.", None),
    409: ("conflict", "The request conflicts with the current state of the resource.", None),
    429: ("TooManyRequests", "Please retry again later.", "activityLimitReached"),
    500: ("generalException", "An unspecified error has occurred.", None),
    501: ("notSupported", "The requested feature isn't implemented.", None),
    502: ("BadGateway", "The upstream service returned an invalid response.", None),
    503: (
        "serviceNotAvailable",
        "The service is temporarily unavailable for maintenance or is overloaded. "
        "You may repeat the request after a delay, which can be specified in a Retry-After header.",
        None,
    ),
    504: ("GatewayTimeout", "The gateway timed out waiting for the upstream service.", None),
}


def fault_error(status: int, retry_after: int | None) -> GraphError:
    code, message, inner_code = _FAULT_ERRORS.get(status, ("UnknownError", "An error occurred.", None))
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    inner = {"code": inner_code, "status": str(status)} if inner_code else None
    return GraphError(status, code, message, headers=headers, inner=inner)


def utc_now_iso() -> str:
    # Graph's innerError.date has whole seconds and no offset.
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def envelope(error: GraphError, request_id: str, client_request_id: str) -> bytes:
    inner: dict[str, Any] = {**error.inner, "date": utc_now_iso(), "request-id": request_id,
                             "client-request-id": client_request_id}
    return json.dumps({"error": {"code": error.code, "message": error.message, "innerError": inner}}).encode()
