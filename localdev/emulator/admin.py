"""The test and admin API under `/_emulator/` (loopback callers only); ADMIN_CALLS lists it, and
`GET /_emulator/config` repeats that list as `admin_api`."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from localdev.emulator.faults import FaultSpecError, parse_fault
from localdev.emulator.entra.federated import TOKEN_EXCHANGE_AUDIENCE
from localdev.emulator.entra.managed_identity import IDENTITY_HEADER, IDENTITY_PATH, IdentityEndpoint, identity_claims
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import Resource
from localdev.emulator.entra.tokens import TokenIssuer

ADMIN_CALLS = {
    "GET /_emulator/config": "tenant, URLs, CA bundle, users, apps (with local credentials), managed identities",
    "POST /_emulator/token": "mint a signed user, app-only or managed-identity token; `claims` overrides, "
                             "null removes",
    "POST /_emulator/consent": "grant or revoke delegated permissions (tenant-wide or for one user) or roles",
    "POST /_emulator/revoke": "revoke a user's sessions {user}: refresh tokens, browser sessions, codes, OBO "
                              "assertions and CAE-capable Graph tokens issued before it stop working",
    "POST /_emulator/keys/rotate": "new signing key; the previous one stays published (GET /_emulator/keys lists)",
    "POST /_emulator/faults": "inject a fault; GET lists them; DELETE clears them",
    "GET /_emulator/metrics": "request counters",
    "POST /_emulator/reset": "back to the seed (consent, faults, metrics, keys, sessions, grants, revocations)",
    f"GET {IDENTITY_PATH}": "App Service managed-identity endpoint (X-IDENTITY-HEADER, resource, client_id)",
}


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def code(self) -> str:
        return "not_found" if self.status == 404 else "bad_request"


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _scope_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AdminError("scopes must be a list of strings or a space-separated string")


def _strip_prefix(resource: Resource, scope: str) -> str:
    for prefix in resource.scope_prefixes():
        if scope.lower().startswith(prefix.lower()):
            return scope[len(prefix):]
    return scope


class AdminApi:
    def __init__(self, state: EmulatorState, issuer: TokenIssuer) -> None:
        self.state = state
        self.issuer = issuer

    def routes(self) -> list[web.RouteDef]:
        wrap = self._wrap
        return [
            web.get("/_emulator/config", wrap(self.config)),
            web.post("/_emulator/token", wrap(self.mint)),
            web.post("/_emulator/consent", wrap(self.consent)),
            web.post("/_emulator/keys/rotate", wrap(self.rotate)),
            web.get("/_emulator/keys", wrap(self.keys)),
            web.post("/_emulator/faults", wrap(self.add_fault)),
            web.get("/_emulator/faults", wrap(self.list_faults)),
            web.delete("/_emulator/faults", wrap(self.clear_faults)),
            web.get("/_emulator/metrics", wrap(self.metrics)),
            web.post("/_emulator/reset", wrap(self.reset)),
            web.post("/_emulator/revoke", wrap(self.revoke)),
            web.get(IDENTITY_PATH, wrap(IdentityEndpoint(self.state, self.issuer).token)),
        ]

    def _wrap(self, handler: Callable[[web.Request], Awaitable[web.Response]]
              ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def guarded(request: web.Request) -> web.Response:
            if not _is_loopback(request.remote):
                return _json({"error": "forbidden", "message": "the admin API answers loopback callers only"}, 403)
            try:
                return await handler(request)
            except AdminError as err:
                return _json({"error": err.code, "message": str(err)}, err.status)
        return guarded

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise AdminError("body must be JSON")
        if not isinstance(body, dict):
            raise AdminError("body must be a JSON object")
        return body

    # ------------------------------------------------------------------ config
    def config_document(self) -> dict[str, Any]:
        state = self.state
        tenant = state.tenant
        apps = []
        for app in tenant.apps:
            entry: dict[str, Any] = {"name": app.name, "kind": app.kind, "client_id": app.client_id,
                                     "display_name": app.display_name}
            if app.client_secret:
                entry["client_secret"] = app.client_secret
            if app.identifier_uri:
                entry["identifier_uri"] = app.identifier_uri
                entry["scopes"] = list(app.scopes)
            if app.spa_redirect_uris or app.web_redirect_uris:
                entry["redirect_uris"] = {"spa": app.spa_redirect_uris, "web": app.web_redirect_uris}
            cert = state.client_certificates.get(app.client_id)
            if cert:
                entry["certificate"] = {"cert_path": str(cert.cert_path), "key_path": str(cert.key_path),
                                        "thumbprint": cert.thumbprint, "thumbprint_sha256": cert.thumbprint_sha256}
            if app.federated_credentials:
                entry["federated_credentials"] = [
                    {"name": c.name, "issuer": c.issuer.replace("{issuer_v2}", state.issuer_v2()),
                     "subject": c.subject, "audiences": list(c.audiences)} for c in app.federated_credentials]
            apps.append(entry)
        return {
            "tenant_id": tenant.tenant_id,
            "authority": state.authority,
            "entra_url": state.entra_url,
            "graph_base_url": state.graph_url,
            "ca_bundle": str(state.ca_bundle),
            "issuer_v2": state.issuer_v2(),
            "issuer_v1": state.issuer_v1(),
            "jwks_uri": f"{state.authority}/discovery/v2.0/keys",
            "instance_discovery_url": f"{state.entra_url}/common/discovery/instance",
            "graph": {"app_id": state.graph_app_id, "resource": state.graph_resource},
            "users": [{"oid": u["id"], "upn": u["userPrincipalName"], "displayName": u["displayName"],
                       "tenant_id": tenant.tenant_id} for u in tenant.users],
            "apps": apps,
            "conditional_access": [{"id": p.id, "displayName": p.display_name, "users": sorted(p.users),
                                    "resources": sorted(p.resources), "grantControls": sorted(p.grant_controls)}
                                   for p in tenant.policies],
            "managed_identities": [{"name": m.name, "display_name": m.display_name, "client_id": m.client_id,
                                    "principal_id": m.principal_id} for m in tenant.managed_identities],
            "identity_endpoint": f"{state.entra_url}{IDENTITY_PATH}",
            "identity_header": IDENTITY_HEADER,
            "admin_api": dict(ADMIN_CALLS),
        }

    async def config(self, request: web.Request) -> web.Response:
        return _json(self.config_document())

    # ------------------------------------------------------------------ token minting
    def _resource(self, value: Any) -> Resource:
        if value is None:
            return self.state.tenant.resources["api"]
        resource = self.state.tenant.find_resource(str(value))
        if resource is None:
            raise AdminError(f"unknown audience/resource {value!r}: use a resource app id, its identifier URI "
                             "or https://graph.microsoft.com")
        return resource

    async def mint(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        tenant = self.state.tenant
        resource = self._resource(None if body.get("managed_identity") is not None else body.get("audience"))
        client_id = str(body.get("client_id") or tenant.find_app("spa").client_id).lower()  # type: ignore[union-attr]
        client = tenant.find_app(client_id)
        if client is not None and client.client_id != client_id:
            client = None  # a name or URI was given; only GUIDs name clients
        version = body.get("version")
        if version not in (None, "1.0", "2.0"):
            raise AdminError('version must be "1.0" or "2.0"')
        expires_in = body.get("expires_in")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
            raise AdminError("expires_in must be an integer number of seconds")
        lifetime = self.issuer.lifetime() if expires_in is None else expires_in
        if body.get("managed_identity") is not None:
            identity = tenant.find_managed_identity(str(body["managed_identity"]))
            if identity is None:
                raise AdminError(f"unknown managed identity {body['managed_identity']!r}")
            claims = identity_claims(self.state, self.issuer, identity,
                                     audience=str(body.get("audience") or TOKEN_EXCHANGE_AUDIENCE), expires_in=lifetime)
        elif body.get("user") is None:
            if client is None:
                raise AdminError("an app-only token needs a registered client_id")
            roles = _scope_list(body.get("roles"))
            claims = self.issuer.app_access_claims(client=client, resource=resource, roles=roles,
                                                   auth_method="secret", expires_in=lifetime, version=version)
        else:
            user = tenant.find_user(str(body["user"]))
            if user is None:
                raise AdminError(f"unknown user {body['user']!r}")
            raw_scopes = body.get("scopes")
            scopes = ([_strip_prefix(resource, s) for s in _scope_list(raw_scopes)] if raw_scopes is not None
                      else sorted(resource.scopes & {"user_impersonation", "User.Read"}) or sorted(resource.scopes))
            amr = _scope_list(body.get("amr")) or ["pwd"]
            claims = self.issuer.user_access_claims(
                user=user, client=client, client_id=client_id, resource=resource, scopes=scopes, amr=amr,
                auth_method="none" if client is None or client.is_public else "secret", expires_in=lifetime,
                version=version)
        if lifetime <= 0:  # an already-expired token: issued an hour before it expired
            claims["iat"] = claims["nbf"] = claims["exp"] - 3600
        overrides = body.get("claims") or {}
        if not isinstance(overrides, dict):
            raise AdminError("claims must be an object")
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return _json({"access_token": self.issuer.sign(claims), "expires_in": lifetime,
                      "expires_on": int(time.time()) + lifetime})

    # ------------------------------------------------------------------ consent
    async def consent(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        tenant = self.state.tenant
        client = tenant.find_app(str(body.get("client_id", "")))
        if client is None:
            raise AdminError(f"unknown client_id {body.get('client_id')!r}")
        resource = self._resource(body.get("resource") or "https://graph.microsoft.com")
        user_oid = None
        if body.get("user") is not None:
            user = tenant.find_user(str(body["user"]))
            if user is None:
                raise AdminError(f"unknown user {body['user']!r}")
            user_oid = user["id"]
        scopes = [_strip_prefix(resource, s) for s in _scope_list(body.get("scopes"))]
        unknown = [s for s in scopes if s not in resource.scopes]
        if unknown:
            raise AdminError(f"{', '.join(unknown)} not defined on {resource.identifier_uri}")
        roles = _scope_list(body.get("roles"))
        unknown = [r for r in roles if r not in resource.app_roles]
        if unknown:
            raise AdminError(f"application permission(s) {', '.join(unknown)} not defined on "
                             f"{resource.identifier_uri}")
        if roles and user_oid:
            raise AdminError("application permissions (roles) are granted tenant-wide, not per user")
        granted = body.get("granted", True)
        consent = self.state.consent
        if granted:
            consent.grant(client.client_id, resource.app_id, scopes, user_oid)
            consent.grant_roles(client.client_id, resource.app_id, roles)
        else:
            if scopes or not roles:
                consent.revoke(client.client_id, resource.app_id, scopes or None, user_oid)
            if roles or (not scopes and not user_oid):
                consent.revoke_roles(client.client_id, resource.app_id, roles or None)
        return _json({"client_id": client.client_id, "resource": resource.app_id, "user": user_oid,
                      "scopes": sorted(consent.scopes(client.client_id, resource.app_id, user_oid)),
                      "roles": sorted(consent.roles(client.client_id, resource.app_id))})

    # ------------------------------------------------------------------ keys, faults, metrics, reset
    async def rotate(self, request: web.Request) -> web.Response:
        previous = self.state.keys.current.kid
        fresh = self.state.keys.rotate()
        return _json({"kid": fresh.kid, "previous_kid": previous,
                      "published": [k.kid for k in self.state.keys.published()]})

    async def keys(self, request: web.Request) -> web.Response:
        return _json({"current": self.state.keys.current.kid,
                      "published": [k.kid for k in self.state.keys.published()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = parse_fault(await self._body(request))
        except FaultSpecError as err:
            raise AdminError(str(err))
        self.state.faults.add(fault)
        return _json({"fault": fault.as_dict()}, 201)

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": [f.as_dict() for f in self.state.faults.active()]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.state.faults.clear()
        return _json({"faults": []})

    async def metrics(self, request: web.Request) -> web.Response:
        return _json(self.state.metrics.snapshot())

    async def revoke(self, request: web.Request) -> web.Response:
        """Like Graph's revokeSignInSessions. Answers once the clock has passed the cutoff, so that anything
        issued after the answer is valid and anything issued before the call is revoked."""
        body = await self._body(request)
        key = body.get("user")
        if not isinstance(key, str) or not key.strip():
            raise AdminError("user must be a UPN or object id")
        user = self.state.tenant.find_user(key)
        if user is None:
            raise AdminError(f"unknown user {key!r}", 404)
        cutoff = self.state.revocations.revoke(user["id"])
        self.state.metrics.record("revoke")
        while (remaining := cutoff - time.time()) > 0:
            await asyncio.sleep(remaining + 0.001)
        return _json({"user": user["id"], "revokedBefore": cutoff})

    async def reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return _json({"reset": True})
