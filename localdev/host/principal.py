"""The identity headers App Service authentication gives the app, built from validated token claims.

App Service puts the caller's claims in `X-MS-CLIENT-PRINCIPAL` as base64 JSON
`{"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}`. The claims go through the default
.NET claim mapping first, so some arrive under long schema URIs (`oid` becomes
`http://schemas.microsoft.com/identity/claims/objectidentifier`, `roles` the role claim type, ...), list claims
become one entry per value, and every value is a string. It also sets `X-MS-CLIENT-PRINCIPAL-ID`, `-NAME` and
`-IDP`. Requests can never carry these headers from outside: `strip_platform_headers` removes every
client-supplied `X-MS-*` header, the token store's `X-MS-TOKEN-AAD-*` included.

`auth_typ` and `-IDP` name the provider that accepted the token: `aad` for an Entra token,
`azureStaticWebApps` for the linked Static Web App's platform token.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

AUTH_TYPE = "aad"
STATIC_WEB_APPS_AUTH_TYPE = "azureStaticWebApps"
NAME_CLAIM_TYPE = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_CLAIM_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"

# The inbound claim type map App Service (JwtSecurityTokenHandler's defaults) applies to Entra tokens.
CLAIM_TYPE_MAP: dict[str, str] = {
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "scp": "http://schemas.microsoft.com/identity/claims/scope",
    "roles": ROLE_CLAIM_TYPE,
    "role": ROLE_CLAIM_TYPE,
    "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "unique_name": NAME_CLAIM_TYPE,
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "family_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "amr": "http://schemas.microsoft.com/claims/authnmethodsreferences",
    "idp": "http://schemas.microsoft.com/identity/claims/identityprovider",
    "auth_time": "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationinstant",
}

PRINCIPAL_HEADERS = ("X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL-NAME",
                     "X-MS-CLIENT-PRINCIPAL-IDP")
NAME_SOURCES = ("preferred_username", "upn", "unique_name", "email", "name")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def mapped_claims(claims: Mapping[str, Any]) -> list[dict[str, str]]:
    """Claims as App Service lists them: mapped types, one entry per list item, string values."""
    result: list[dict[str, str]] = []
    for name, value in claims.items():
        claim_type = CLAIM_TYPE_MAP.get(name, name)
        values: Iterable[Any] = value if isinstance(value, list) else [value]
        for item in values:
            if item is None:
                continue
            result.append({"typ": claim_type, "val": _string(item)})
    return result


def principal_name(claims: Mapping[str, Any]) -> str | None:
    for source in NAME_SOURCES:
        value = claims.get(source)
        if isinstance(value, str) and value:
            return value
    return None


def principal_document(claims: Mapping[str, Any], provider: str = AUTH_TYPE) -> dict[str, Any]:
    return {"auth_typ": provider, "claims": mapped_claims(claims), "name_typ": NAME_CLAIM_TYPE,
            "role_typ": ROLE_CLAIM_TYPE}


def principal_headers(claims: Mapping[str, Any], provider: str = AUTH_TYPE) -> dict[str, str]:
    """The X-MS-CLIENT-PRINCIPAL* headers for a caller whose token `provider` validated."""
    document = principal_document(claims, provider)
    encoded = base64.b64encode(json.dumps(document, separators=(",", ":")).encode("utf-8"))
    headers = {"X-MS-CLIENT-PRINCIPAL": encoded.decode("ascii"), "X-MS-CLIENT-PRINCIPAL-IDP": provider}
    object_id = claims.get("oid") or claims.get("sub")
    if isinstance(object_id, str) and object_id:
        headers["X-MS-CLIENT-PRINCIPAL-ID"] = object_id
    name = principal_name(claims)
    if name:
        headers["X-MS-CLIENT-PRINCIPAL-NAME"] = name
    return headers


def auth_me_entry(claims: Mapping[str, Any], provider: str = AUTH_TYPE) -> dict[str, Any]:
    """One `/.auth/me` entry. The token itself is never echoed back (there is no token store locally)."""
    entry: dict[str, Any] = {
        "provider_name": provider,
        "user_id": principal_name(claims) or claims.get("oid") or claims.get("sub"),
        "user_claims": mapped_claims(claims),
    }
    exp = claims.get("exp")
    if isinstance(exp, (int, float)):
        entry["expires_on"] = datetime.fromtimestamp(exp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    return entry


def is_platform_header(name: str) -> bool:
    return name.lower().startswith("x-ms-")


def strip_platform_headers(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    """A copy without any `X-MS-*` header: only the platform may set those."""
    return CIMultiDict((k, v) for k, v in headers.items() if not is_platform_header(k))
