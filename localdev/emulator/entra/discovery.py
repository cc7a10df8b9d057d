"""OpenID Connect discovery (v2 and v1), JWKS and instance discovery, shaped like Entra's."""
from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import web

from localdev.emulator.entra.errors import OAuthError, error_response
from localdev.emulator.faults_http import fault_error
from localdev.emulator.state import EmulatorState

CACHEABLE = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}


class Discovery:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _tenant_or_error(self, request: web.Request) -> str:
        segment = request.match_info["tenant"]
        if not self.state.tenant.knows_tenant(segment):
            raise OAuthError(90002, f"Tenant '{segment}' not found. Check to make sure you have the correct tenant "
                                    "ID and are signing into the correct cloud.", error="invalid_tenant")
        return segment

    def _issuer_tenant(self, segment: str) -> str:
        # Multi-tenant documents publish the issuer as a template, as Entra does.
        return "{tenantid}" if segment.lower() in ("common", "organizations") else self.state.tenant.tenant_id

    async def _guard(self, endpoint: str, request: web.Request) -> web.Response | None:
        self.state.metrics.record(endpoint)
        faulted = await fault_error(self.state, endpoint, request)
        if faulted is not None:
            err, headers = faulted
            return error_response(err, request, self.state.entra_url, headers)
        return None

    def _json(self, body: object) -> web.Response:
        return web.Response(text=json.dumps(body), content_type="application/json", headers=CACHEABLE)

    async def _tenant_document(self, endpoint: str, request: web.Request,
                               document: Callable[[str], dict[str, Any]]) -> web.Response:
        """A per-tenant document: an injected fault, or Entra's error for an unknown tenant, or `document(segment)`."""
        if (faulted := await self._guard(endpoint, request)) is not None:
            return faulted
        try:
            segment = self._tenant_or_error(request)
        except OAuthError as err:
            return error_response(err, request, self.state.entra_url)
        return self._json(document(segment))

    async def openid_v2(self, request: web.Request) -> web.Response:
        return await self._tenant_document("discovery", request, lambda segment: self._openid(segment, v2=True))

    async def openid_v1(self, request: web.Request) -> web.Response:
        return await self._tenant_document("discovery", request, lambda segment: self._openid(segment, v2=False))

    def _openid(self, segment: str, *, v2: bool) -> dict[str, Any]:
        """What both versions publish, then what only one of them does, as Entra's two documents differ."""
        base = f"{self.state.entra_url}/{segment}"
        tid = self._issuer_tenant(segment)
        oauth2 = f"{base}/oauth2/v2.0" if v2 else f"{base}/oauth2"
        common = {
            "token_endpoint": f"{oauth2}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_endpoint": f"{oauth2}/authorize",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{oauth2}/logout",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(self.state.graph_url).netloc,
            "rbac_url": "https://pas.windows.net",
        }
        claims = ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                  "msgraph_host", "aud", "exp", "iat", "auth_time", "acr"]
        if not v2:
            return {**common,
                    "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                    "scopes_supported": ["openid"],
                    "issuer": self.state.issuer_v1(tid),
                    "microsoft_multi_refresh_token": True,
                    "claims_supported": [*claims, "amr", "nonce", "email", "given_name", "family_name", "nickname"]}
        return {**common,
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.state.issuer_v2(tid),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.state.graph_url.rsplit('/v1.0', 1)[0]}/oidc/userinfo",
                "device_authorization_endpoint": f"{oauth2}/devicecode",
                "claims_supported": [*claims, "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
                                     "c_hash", "email"],
                "kerberos_endpoint": f"{base}/kerberos"}

    async def _keys(self, request: web.Request, v2: bool) -> web.Response:
        def key_set(segment: str) -> dict[str, Any]:
            issuer = self.state.issuer_v2(self._issuer_tenant(segment)) if v2 else None
            return {"keys": [k.jwk(issuer) for k in self.state.keys.published()]}

        return await self._tenant_document("jwks", request, key_set)

    async def keys_v2(self, request: web.Request) -> web.Response:
        return await self._keys(request, v2=True)

    async def keys_v1(self, request: web.Request) -> web.Response:
        return await self._keys(request, v2=False)

    async def instance(self, request: web.Request) -> web.Response:
        """`/common/discovery/instance?api-version=1.1&authorization_endpoint=...` (what MSAL calls)."""
        if (faulted := await self._guard("discovery", request)) is not None:
            return faulted
        endpoint = request.query.get("authorization_endpoint", "")
        own_parts = urlsplit(self.state.entra_url)
        own = own_parts.netloc.lower()
        aliases = [own, own.replace("localhost:", "127.0.0.1:")]
        parts = urlsplit(endpoint)
        # MSAL Python sends the authority's host without its port, so a port-less host matches too.
        same_host = parts.hostname in ("localhost", "127.0.0.1") and parts.port in (None, own_parts.port)
        if endpoint and not same_host:
            return error_response(OAuthError(50049, "Unknown or invalid instance.", error="invalid_instance"),
                                  request, self.state.entra_url)
        segments = [s for s in parts.path.split("/") if s]
        tenant = segments[0] if segments else "common"
        return self._json({
            "tenant_discovery_endpoint": f"{self.state.entra_url}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": request.query.get("api-version", "1.1"),
            "metadata": [{"preferred_network": own, "preferred_cache": own, "aliases": aliases}],
        })
