"""What a token header carries, for `/api/diagnostics`: a label from the unverified token, never its value.

Behind a linked Static Web App, `Authorization` holds the platform's token and `X-User-Authorization` the
user's (docs/architecture.md, "Token headers"); the label lets a developer see which arrived where. It reads
the claims without checking the signature, so it describes a token and never vouches for one: only
`TokenValidator` decides whether a token is accepted.
"""
from __future__ import annotations

from typing import Mapping

import jwt

from ..settings import GUID_RE

ENTRA_ACCESS_TOKEN = "entra_access_token"
STATIC_WEB_APPS_PLATFORM_TOKEN = "static_web_apps_platform_token"
OTHER_JWT = "other_jwt"
NOT_A_JWT = "not_a_jwt"


def _claims(value: str) -> Mapping[str, object] | None:
    parts = value.strip().split()
    token = parts[-1] if parts else ""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def token_kind(value: str, authority_host: str) -> str:
    """`entra_access_token` (issued by this API's authority), `static_web_apps_platform_token` (the issuer
    form `https://<site>/.auth` a Static Web App uses), `other_jwt` or `not_a_jwt`."""
    claims = _claims(value)
    if claims is None:
        return NOT_A_JWT
    iss, tid = claims.get("iss"), claims.get("tid")
    if isinstance(tid, str) and GUID_RE.match(tid) and iss in (f"{authority_host}/{tid}/v2.0",
                                                               f"https://sts.windows.net/{tid}/"):
        return ENTRA_ACCESS_TOKEN
    if isinstance(iss, str) and iss.startswith("https://") and iss.endswith("/.auth"):
        return STATIC_WEB_APPS_PLATFORM_TOKEN
    return OTHER_JWT
