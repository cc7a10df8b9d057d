"""The token a Static Web App puts in `Authorization` on every request it proxies to its linked backend.

The shape follows a platform token a linked backend received in Azure (quoted in docs/emulator.md, "The
linked-backend hop"): RS256 with a `kid`, `iss` = `https://<site host>/.auth`, `aud` = the backend's URL,
`sub`, `prn` (the Static Web App's client principal), and a five-minute lifetime. No document specifies it;
the local App Service authentication emulation (localdev/host/static_web_apps.py) checks exactly what is
minted here.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, Mapping

import jwt

from localdev.linked_backend.keys import PlatformKey

LIFETIME_SECONDS = 300


def issuer_for(site_host: str) -> str:
    """The platform issuer for a site; `site_host` is also the `azureStaticWebApps` provider's client id."""
    return f"https://{site_host}/.auth"


def anonymous_principal() -> str:
    """The Static Web App's client principal for a caller who did not sign in to the site itself (base64 JSON)."""
    document = {"identityProvider": "anonymous", "userId": "", "userDetails": "", "userRoles": ["anonymous"]}
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode("utf-8")).decode("ascii")


def site_subject(site_host: str) -> str:
    # A GUID, as in the tokens seen in Azure; stable per site, because what the platform puts there is unknown.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, issuer_for(site_host)))


def claims_for(site_host: str, audience: str, principal: str, now: float | None = None,
               lifetime: int = LIFETIME_SECONDS) -> dict[str, Any]:
    issued = int(time.time() if now is None else now)
    return {"prn": principal, "sub": site_subject(site_host), "iss": issuer_for(site_host), "aud": audience,
            "nbf": issued, "iat": issued, "exp": issued + lifetime}


def mint(key: PlatformKey, claims: Mapping[str, Any]) -> str:
    return jwt.encode(dict(claims), key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})
