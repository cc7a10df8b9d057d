"""Entra ID's error envelope and the AADSTS codes the emulator produces.

Token endpoint errors are JSON with `error`, `error_description` ("AADSTSnnnnn: message\\r\\nTrace ID:
...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ..."), `error_codes`, `timestamp`, `trace_id`,
`correlation_id`, `error_uri`, and `suberror` / `claims` where Entra sends them.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Code:
    error: str
    status: int
    message: str


# Each AADSTS code the emulator produces, under the `error` and HTTP status Entra answers it with. The message
# is a default; raisers usually pass a specific one.
_MESSAGES_BY_ERROR: dict[tuple[str, int], dict[int, str]] = {
    ("invalid_request", 400): {
        50011: "The redirect URI specified in the request does not match the redirect URIs configured for the "
               "application.",
        50027: "JWT token is invalid or malformed.",
        500113: "No reply address is registered for the application.",
        70021: "No matching federated identity record found for presented assertion.",
        900144: "The request body must contain the following parameter.",
        90009: "Application is requesting a token for itself. This scenario is supported only if resource is "
               "specified using the GUID based App Identifier.",
        90014: "The request body must contain the following parameter.",
        90100: "The parameter is empty or not valid.",
        9002313: "Invalid request. Request is malformed or invalid.",
        9002325: "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        9002326: "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.",
        9002327: "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via "
                 "cross-origin requests.",
        90010: "The grant type is not supported over the /common or /consumers endpoints.",
    },
    ("invalid_grant", 400): {
        50013: "Assertion failed signature validation.",
        500131: "Assertion audience does not match the Client app presenting the assertion.",
        500133: "Assertion is not within its valid time range.",
        50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
               "might have changed or reset their password.",
        50126: "Error validating credentials due to invalid username or password.",
        54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
               "existing refresh token.",
        65001: "The user or administrator has not consented to use the application. Send an interactive "
               "authorization request for this user and resource.",
        70000: "The provided value for the 'code' or 'refresh_token' parameter is not valid.",
        70008: "The provided authorization code or refresh token has expired due to inactivity. Send a new "
               "interactive authorization request for this user and resource.",
        700084: "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited "
                "lifetime of 1.00:00:00, which cannot be extended.",
        501481: "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        240002: "Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant.",
    },
    ("invalid_instance", 400): {
        50049: "Unknown or invalid instance.",
    },
    ("login_required", 400): {
        50058: "A silent sign-in request was sent but no user is signed in.",
    },
    ("interaction_required", 400): {
        50076: "Due to a configuration change made by your administrator, or because you moved to a new location, "
               "you must use multi-factor authentication to access the resource.",
        50079: "Due to a configuration change made by your administrator, or because you moved to a new location, "
               "you must enroll in multi-factor authentication to access the resource.",
    },
    ("invalid_resource", 400): {
        500011: "The resource principal was not found in the tenant.",
    },
    ("access_denied", 400): {
        65004: "User declined to consent to access the app.",
    },
    ("invalid_scope", 400): {
        70011: "The provided request must include a 'scope' input parameter.",
        28000: "Provided value for the input parameter scope is not valid because it contains more than one "
               "resource.",
        1002012: "The provided value for scope is not valid. Client credential flows must have a scope value with "
                 "/.default suffixed to the resource identifier (application ID URI).",
    },
    ("unauthorized_client", 400): {
        700016: "Application was not found in the directory.",
    },
    ("invalid_client", 401): {
        700025: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        700024: "Client assertion is not within its valid time range.",
        700027: "Client assertion failed signature validation.",
        7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                 "secret value, not the client secret ID, for a secret added to app.",
        700213: "No matching federated identity record found for presented assertion subject. Please note that "
                "the matching is done using a case-sensitive comparison. Check your federated identity credential "
                "Subject, Audience and Issuer against the presented assertion.",
        7002138: "No matching federated identity record found for presented assertion subject. The subject "
                 "matches with case-insensitive comparison, but not with case-sensitive comparison.",
        700229: "Only app-only tokens can be used as Federated Identity Credentials for Microsoft Entra issuer.",
        7000218: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        70002: "The client does not exist or is not enabled for consumers.",
    },
    ("invalid_tenant", 400): {
        90002: "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the "
               "correct cloud.",
    },
    ("temporarily_unavailable", 503): {
        90033: "A transient error has occurred. Please try again.",
    },
    ("unsupported_grant_type", 400): {
        70003: "The app requested an unsupported grant type.",
    },
    ("unsupported_response_type", 400): {
        700054: "response_type 'token' is not enabled for the application.",
    },
}
CATALOG: dict[int, Code] = {code: Code(error, status, message)
                            for (error, status), messages in _MESSAGES_BY_ERROR.items()
                            for code, message in messages.items()}


class OAuthError(Exception):
    """An Entra error. `code` is the AADSTS number; everything else defaults from the catalog."""

    def __init__(self, code: int, message: str | None = None, *, error: str | None = None,
                 status: int | None = None, suberror: str | None = None, claims: str | None = None) -> None:
        entry = CATALOG.get(code, Code("invalid_request", 400, "The request failed."))
        self.code = code
        self.error = error or entry.error
        self.status = status or entry.status
        self.message = message or entry.message
        self.suberror = suberror
        self.claims = claims
        super().__init__(f"AADSTS{code}: {self.message}")


def missing_parameter(name: str, code: int = 900144) -> OAuthError:
    """A required request parameter is absent (AADSTS900144; the jwt-bearer grant's own are AADSTS90014)."""
    return OAuthError(code, f"The request body must contain the following parameter: '{name}'.")


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%SZ")


def error_body(err: OAuthError, entra_url: str, correlation_id: str | None = None) -> dict[str, Any]:
    trace_id = str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    stamp = timestamp()
    body: dict[str, Any] = {
        "error": err.error,
        "error_description": (f"AADSTS{err.code}: {err.message}\r\nTrace ID: {trace_id}\r\n"
                              f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"),
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation,
        "error_uri": f"{entra_url}/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    if err.claims:
        body["claims"] = err.claims
    return body


def correlation_of(request: web.Request) -> str | None:
    # MSAL sends its correlation id as client-request-id; Entra echoes it.
    value = request.headers.get("client-request-id") or request.query.get("client-request-id")
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def error_response(err: OAuthError, request: web.Request, entra_url: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = error_body(err, entra_url, correlation_of(request))
    all_headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    if err.status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_client"')
    return web.Response(status=err.status, text=json.dumps(body), content_type="application/json",
                        headers=all_headers)
