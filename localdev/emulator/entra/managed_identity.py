"""The seeded managed identities: their app-only tokens, and a local stand-in for the App Service
managed-identity endpoint (`IDENTITY_ENDPOINT` / `IDENTITY_HEADER`, api-version 2019-08-01), so the
product's federated credential (the identity's token for `api://AzureADTokenExchange` as client assertion)
runs for real against the emulator.

    GET /_emulator/managed-identity?resource=api://AzureADTokenExchange&api-version=2019-08-01&client_id=<id>
    X-IDENTITY-HEADER: <identity_header from /_emulator/config>
"""
from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from localdev.emulator.entra.federated import TOKEN_EXCHANGE_AUDIENCE
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import ManagedIdentity
from localdev.emulator.entra.tokens import TokenIssuer

IDENTITY_PATH = "/_emulator/managed-identity"
IDENTITY_HEADER = "local-identity-header-not-a-secret"


def identity_claims(state: EmulatorState, issuer: TokenIssuer, identity: ManagedIdentity, *, audience: str,
                    expires_in: int) -> dict[str, Any]:
    """An app-only v2 token for the identity, as Entra issues it for `api://AzureADTokenExchange`."""
    now = int(time.time())
    return {"aud": audience, "iss": state.issuer_v2(), "iat": now, "nbf": now, "exp": now + expires_in,
            "azp": identity.client_id, "azpacr": "2", "idtyp": "app", "oid": identity.principal_id,
            "sub": identity.principal_id, "tid": state.tenant.tenant_id, "uti": TokenIssuer.new_correlation(),
            "ver": "2.0"}


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


class IdentityEndpoint:
    def __init__(self, state: EmulatorState, issuer: TokenIssuer) -> None:
        self.state = state
        self.issuer = issuer

    async def token(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return _answer(401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or wrong."})
        resource = request.query.get("resource") or TOKEN_EXCHANGE_AUDIENCE
        key = request.query.get("client_id") or request.query.get("principal_id") or ""
        identity = self.state.tenant.find_managed_identity(key) if key else (
            self.state.tenant.managed_identities[0] if len(self.state.tenant.managed_identities) == 1 else None)
        if identity is None:
            return _answer(400, {"statusCode": 400, "message": "No User Assigned or Delegated Managed Identity found "
                                                               "for specified ClientId/ResourceId/PrincipalId."})
        expires_in = self.issuer.lifetime()
        claims = identity_claims(self.state, self.issuer, identity, audience=resource, expires_in=expires_in)
        return _answer(200, {"access_token": self.issuer.sign(claims), "expires_on": str(claims["exp"]),
                             "resource": resource, "token_type": "Bearer", "client_id": identity.client_id})
