"""Signed tokens with Entra ID's claim sets.

- v2 access tokens (the `api` app): aud = client id GUID, iss `{entra}/{tid}/v2.0`, azp/azpacr.
- v1 access tokens (Microsoft Graph): aud `https://graph.microsoft.com`, iss `https://sts.windows.net/{tid}/`,
  appid/appidacr, upn/unique_name.
- App-only tokens carry `idtyp: app`, `roles` and no `scp`.
- `sub` is pairwise: unique per user *and* audience app, as in Entra.
- User tokens carry `amr` in both versions (Entra only puts it in v1 tokens); the OBO grant reads it
  to decide whether a Conditional Access MFA requirement is met.
- A request whose `claims` declare the `cp1` capability gets `xms_cc: ["CP1"]` (CAE-capable).
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import time
import uuid
from typing import Any, Sequence

import jwt

from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App, Resource

ID_TOKEN_LIFETIME_S = 3600


def _opaque(length: int = 16) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).rstrip(b"=").decode()


def pairwise_sub(oid: str, app_id: str, tenant_id: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}:{app_id}:{oid}".lower().encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:43]


def client_info(user: dict[str, Any], tenant_id: str) -> str:
    payload = json.dumps({"uid": user["id"], "utid": tenant_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def client_auth_strength(method: str) -> str:
    """azpacr/appidacr: 0 public client, 1 client secret, 2 certificate/assertion."""
    return {"none": "0", "secret": "1", "assertion": "2"}[method]


class TokenIssuer:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def lifetime(self) -> int:
        low, high = self.state.tenant.lifetime_minutes
        return random.randint(low * 60, max(low, high) * 60)

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.state.keys.current
        return jwt.encode(claims, key.private_key, algorithm="RS256",
                          headers={"typ": "JWT", "kid": key.kid, "x5t": key.kid})

    def _base(self, expires_in: int) -> dict[str, Any]:
        now = int(time.time())
        return {"iat": now, "nbf": now, "exp": now + expires_in, "aio": _opaque(40), "uti": _opaque(16)}

    @staticmethod
    def _rh() -> str:
        return "0.A" + _opaque(40) + "."

    # ------------------------------------------------------------------ user access tokens
    def user_access_claims(self, *, user: dict[str, Any], client: App | None, client_id: str,
                           resource: Resource, scopes: list[str], amr: list[str], auth_method: str,
                           expires_in: int, version: str | None = None,
                           capabilities: Sequence[str] = ()) -> dict[str, Any]:
        tid = self.state.tenant.tenant_id
        version = version or ("2.0" if resource.token_version == 2 else "1.0")
        claims = self._base(expires_in)
        common = {
            "name": user.get("displayName"), "oid": user["id"], "rh": self._rh(),
            "scp": " ".join(scopes), "sub": pairwise_sub(user["id"], resource.app_id, tid), "tid": tid,
            "amr": list(amr),
        }
        if version == "2.0":
            claims.update({"aud": resource.app_id, "iss": self.state.issuer_v2(), "azp": client_id,
                           "azpacr": client_auth_strength(auth_method),
                           "preferred_username": user["userPrincipalName"], **common, "ver": "2.0"})
        else:
            aud = self.state.graph_resource if resource.app_id == self.state.graph_app_id else resource.identifier_uri
            claims.update({
                "aud": aud, "iss": self.state.issuer_v1(), "acct": 0, "acr": "1",
                "app_displayname": client.display_name if client else None, "appid": client_id,
                "appidacr": client_auth_strength(auth_method), "family_name": user.get("surname"),
                "given_name": user.get("givenName"), "idtyp": "user", "ipaddr": "127.0.0.1", **common,
                "unique_name": user["userPrincipalName"], "upn": user["userPrincipalName"], "ver": "1.0",
            })
        if capabilities:
            # The client's declared capabilities (a claims request for xms_cc), as a list: ["CP1"].
            claims["xms_cc"] = list(capabilities)
        return {k: v for k, v in claims.items() if v is not None}

    # ------------------------------------------------------------------ app-only access tokens
    def app_access_claims(self, *, client: App, resource: Resource, roles: list[str], auth_method: str,
                          expires_in: int, version: str | None = None) -> dict[str, Any]:
        tid = self.state.tenant.tenant_id
        version = version or ("2.0" if resource.token_version == 2 else "1.0")
        claims = self._base(expires_in)
        claims.update({"idtyp": "app", "oid": client.service_principal_id, "rh": self._rh(),
                       "sub": client.service_principal_id, "tid": tid})
        if roles:
            claims["roles"] = sorted(roles)
        if version == "2.0":
            claims.update({"aud": resource.app_id, "iss": self.state.issuer_v2(), "azp": client.client_id,
                           "azpacr": client_auth_strength(auth_method), "ver": "2.0"})
        else:
            aud = self.state.graph_resource if resource.app_id == self.state.graph_app_id else resource.identifier_uri
            claims.update({"aud": aud, "iss": self.state.issuer_v1(), "app_displayname": client.display_name,
                           "appid": client.client_id, "appidacr": client_auth_strength(auth_method),
                           "idp": self.state.issuer_v1(), "ver": "1.0"})
        return claims

    # ------------------------------------------------------------------ id tokens
    def id_token(self, *, user: dict[str, Any], client_id: str, nonce: str | None, auth_time: int,
                 amr: list[str]) -> str:
        tid = self.state.tenant.tenant_id
        claims = self._base(ID_TOKEN_LIFETIME_S)
        del claims["uti"]
        claims.update({
            "aud": client_id, "iss": self.state.issuer_v2(), "name": user.get("displayName"),
            "oid": user["id"], "preferred_username": user["userPrincipalName"], "rh": self._rh(),
            "sub": pairwise_sub(user["id"], client_id, tid), "tid": tid, "uti": _opaque(16), "ver": "2.0",
            "auth_time": auth_time,
            # Entra's opaque login_hint claim lets MSAL.js sign the same account out/in silently.
            "login_hint": _opaque(24),
        })
        if nonce:
            claims["nonce"] = nonce
        return self.sign(claims)

    @staticmethod
    def new_correlation() -> str:
        return str(uuid.uuid4())
