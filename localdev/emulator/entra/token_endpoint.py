"""`/{tenant}/oauth2/v2.0/token`: authorization_code (PKCE), refresh_token, client_credentials and the
jwt-bearer On-Behalf-Of grant, with Entra's client-type rules for cross-origin (SPA) redemption."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from localdev.emulator.entra import jws
from localdev.emulator.entra.claims_request import ClaimsRequest, parse_claims
from localdev.emulator.entra.client_auth import ClientAuth, authenticate_client
from localdev.emulator.entra.errors import OAuthError, error_response, missing_parameter
from localdev.emulator.faults_http import fault_error
from localdev.emulator.entra.grants import REFRESH_LIFETIME_S, SPA_REFRESH_LIFETIME_S, RefreshGrant
from localdev.emulator.entra.policy import enforce_conditional_access, granted_scopes, target_resource
from localdev.emulator.entra.redirects import origin_allowed_for_cors
from localdev.emulator.entra.revocation import revoked_grant
from localdev.emulator.entra.scopes import ScopeRequest, parse_scopes
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App, Resource
from localdev.emulator.entra.tokens import TokenIssuer, client_info

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOG = logging.getLogger("localdev.emulator.token")


def cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if not origin or not origin_allowed_for_cors(origin):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": "client-request-id, x-ms-request-id"}


def _required(form: MultiDictProxy[str], name: str, code: int = 900144) -> str:
    value = form.get(name)
    if not value:
        raise missing_parameter(name, code)
    return str(value)


class TokenEndpoint:
    def __init__(self, state: EmulatorState, issuer: TokenIssuer) -> None:
        self.state = state
        self.issuer = issuer

    async def preflight(self, request: web.Request) -> web.Response:
        headers = cors_headers(request)
        if headers:
            headers.update({"Access-Control-Allow-Methods": "POST, OPTIONS",
                            "Access-Control-Allow-Headers": request.headers.get(
                                "Access-Control-Request-Headers", "content-type"),
                            "Access-Control-Max-Age": "86400"})
        return web.Response(status=204, headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        cors = cors_headers(request)
        form = await request.post()
        grant_type = form.get("grant_type", "")
        self.state.metrics.record_token(str(grant_type))
        faulted = await fault_error(self.state, "token", request)
        if faulted is not None:
            err, headers = faulted
            return error_response(err, request, self.state.entra_url, {**cors, **headers})
        try:
            if not self.state.tenant.knows_tenant(request.match_info["tenant"]):
                raise OAuthError(90002, f"Tenant '{request.match_info['tenant']}' not found. Check to make sure "
                                        "you have the correct tenant ID and are signing into the correct cloud.")
            body = self._dispatch(str(grant_type), form, request)
        except OAuthError as err:
            return error_response(err, request, self.state.entra_url, cors)
        except Exception:  # an emulator bug: answer like Entra's own server errors, keep the trace in the log
            LOG.exception("token request failed (grant_type=%s)", grant_type)
            return error_response(OAuthError(90033, "An internal error occurred in the emulator.",
                                             error="server_error", status=500), request, self.state.entra_url, cors)
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **cors}
        return web.Response(text=json.dumps(body), content_type="application/json", headers=headers)

    def _dispatch(self, grant_type: str, form: MultiDictProxy[str], request: web.Request) -> dict[str, Any]:
        handlers = {"authorization_code": self._authorization_code, "refresh_token": self._refresh_token,
                    "client_credentials": self._client_credentials, OBO_GRANT: self._on_behalf_of}
        if not grant_type:
            raise missing_parameter("grant_type")
        handler = handlers.get(grant_type)
        if handler is None:
            raise OAuthError(70003, f"The app requested an unsupported grant type '{grant_type}'.")
        client = authenticate_client(self.state, form, request.headers.get("Authorization"))
        return handler(client, form, request)

    # ------------------------------------------------------------------ grants
    def _authorization_code(self, client: ClientAuth, form: MultiDictProxy[str],
                            request: web.Request) -> dict[str, Any]:
        code = self.state.codes.get(_required(form, "code"))
        if code is None or code.client_id != client.app.client_id:
            raise OAuthError(70000, "The provided value for the 'code' parameter is not valid.")
        if code.redeemed:
            raise OAuthError(54005)
        self._refuse_revoked(code.user_oid, code.issued_at)
        if code.expires_at < time.time():
            raise OAuthError(70008, "The provided authorization code or refresh token has expired due to "
                                    "inactivity. Send a new interactive authorization request for this user "
                                    "and resource.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(50011, f"The redirect URI '{form.get('redirect_uri')}' specified in the request does "
                                    "not match the redirect URI used in the authorization request.")
        self._check_cross_origin(request, code.spa)
        if code.code_challenge:
            verifier = form.get("code_verifier") or ""
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or not hmac.compare_digest(digest, code.code_challenge):
                raise OAuthError(501481, "The Code_Verifier does not match the code_challenge supplied in the "
                                         "authorization request for PKCE.")
        claims = parse_claims(form.get("claims"))
        code.redeemed = True
        user = self._user(code.user_oid)
        scope_request = parse_scopes(self.state.tenant, form.get("scope") or " ".join(code.scopes))
        return self.user_tokens(client, user, scope_request, amr=code.amr, auth_time=code.auth_time,
                                spa=code.spa, nonce=code.nonce, form=form, claims=claims)

    def _refresh_token(self, client: ClientAuth, form: MultiDictProxy[str],
                       request: web.Request) -> dict[str, Any]:
        grant = self.state.refresh_tokens.get(_required(form, "refresh_token"))
        if grant is None or grant.client_id != client.app.client_id:
            raise OAuthError(70000, "The provided value for the 'refresh_token' parameter is not valid. "
                                    "The refresh token is malformed, revoked or was issued to another client.")
        if grant.expires_at < time.time():
            if grant.spa:
                raise OAuthError(700084)
            raise OAuthError(70008)
        self._check_cross_origin(request, grant.spa)
        self._refuse_revoked(grant.user_oid, grant.issued_at)
        user = self._user(grant.user_oid)
        scope_request = parse_scopes(self.state.tenant, form.get("scope"))
        claims = parse_claims(form.get("claims"))
        self._require_mfa_if_asked(claims, grant.amr, form)
        return self.user_tokens(client, user, scope_request, amr=grant.amr, auth_time=grant.auth_time,
                                spa=grant.spa, nonce=None, form=form, refresh_expires_at=grant.expires_at,
                                claims=claims)

    def _client_credentials(self, client: ClientAuth, form: MultiDictProxy[str],
                            request: web.Request) -> dict[str, Any]:
        raw_scope = form.get("scope") or ""
        if client.method == "none":
            raise OAuthError(7000218)
        parse_claims(form.get("claims"))  # validated; app-only tokens carry no capability here
        items = raw_scope.split()
        if len(items) != 1 or not items[0].lower().endswith("/.default"):
            raise OAuthError(1002012, f"The provided value for scope {raw_scope} is not valid. Client credential "
                                      "flows must have a scope value with /.default suffixed to the resource "
                                      "identifier (application ID URI).", error="invalid_scope")
        scope_request = parse_scopes(self.state.tenant, raw_scope)
        resource = target_resource(self.state, scope_request)
        self._reject_self_by_uri(client.app, resource, raw_scope)
        roles = sorted(self.state.consent.roles(client.app.client_id, resource.app_id) & set(resource.app_roles))
        expires_in = self.issuer.lifetime()
        claims = self.issuer.app_access_claims(client=client.app, resource=resource, roles=roles,
                                               auth_method=client.method, expires_in=expires_in)
        return {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                "access_token": self.issuer.sign(claims)}

    def _on_behalf_of(self, client: ClientAuth, form: MultiDictProxy[str], request: web.Request) -> dict[str, Any]:
        if client.method == "none":
            raise OAuthError(7000218)
        if form.get("requested_token_use") != "on_behalf_of":
            raise OAuthError(90014, "The request body must contain the following parameter: "
                                    "'requested_token_use' with value 'on_behalf_of'.")
        assertion = _required(form, "assertion", code=90014)
        claims = self._verify_user_assertion(assertion, client.app)
        iat = claims.get("iat")
        issued_at = float(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None
        # Emulation choice: an assertion issued before the user's sessions were revoked is refused like a
        # revoked grant, so the caller needs a fresh sign-in (docs/emulator.md, "Revoking sessions").
        self._refuse_revoked(claims["oid"], issued_at)
        user = self._user(claims["oid"])
        raw_scope = form.get("scope")
        scope_request = parse_scopes(self.state.tenant, raw_scope)
        self._reject_self_by_uri(client.app, target_resource(self.state, scope_request), raw_scope or "")
        requested = parse_claims(form.get("claims"))
        amr = [a for a in claims.get("amr", []) if isinstance(a, str)] if isinstance(claims.get("amr"), list) else []
        self._require_mfa_if_asked(requested, amr, form)
        now = int(time.time())
        auth_time = int(issued_at) if issued_at is not None and 0 < issued_at <= now else now
        return self.user_tokens(client, user, scope_request, amr=amr, auth_time=auth_time, spa=False, nonce=None,
                                form=form, claims=requested)

    # ------------------------------------------------------------------ helpers
    def _verify_user_assertion(self, assertion: str, client: App) -> dict[str, Any]:
        try:
            header = jws.split(assertion)[0]
        except jws.JwsError:
            raise OAuthError(50027, "JWT token is invalid or malformed.")
        key = self.state.keys.find(str(header.get("kid")))
        if key is None:
            raise OAuthError(50013, "Assertion failed signature validation. [Reason - The key was not found., "
                                    f"Thumbprint of key used by client: '{header.get('kid')}']")
        try:
            claims = jws.verify_rs256(assertion, key.public_key)
        except jws.JwsError as exc:
            if exc.malformed:
                raise OAuthError(50027, "JWT token is invalid or malformed.")
            raise OAuthError(50013, "Assertion failed signature validation. [Reason - The provided signature "
                                    "value did not match the expected signature value.]")
        tid = self.state.tenant.tenant_id
        if claims.get("iss") not in (self.state.issuer_v2(tid), self.state.issuer_v1(tid)):
            raise OAuthError(50013, f"Assertion failed signature validation. [Reason - The issuer "
                                    f"'{claims.get('iss')}' is not valid for tenant '{tid}'.]")
        now = int(time.time())
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or exp <= now or (isinstance(nbf, (int, float)) and nbf > now + 300):
            raise OAuthError(500133, "Assertion is not within its valid time range. Ensure that the access token "
                                     "is not expired before using it for user assertion, or request a new token. "
                                     f"Current time: {_iso(now)}, expiry time of assertion {_iso(exp)}.")
        if "azp" not in claims and "appid" not in claims:
            raise OAuthError(240002)
        if claims.get("idtyp") == "app" or "scp" not in claims and "roles" in claims:
            raise OAuthError(50013, "Assertion failed signature validation. [Reason - The assertion is an "
                                    "app-only token; On-Behalf-Of requires a token issued to a user.]")
        audience = claims.get("aud")
        if isinstance(audience, str) and audience.lower().rstrip("/") in (self.state.graph_resource,
                                                                          self.state.graph_app_id):
            # Only Graph can validate its own tokens' signatures, so Entra refuses one as an assertion this way.
            raise OAuthError(50013, "Assertion failed signature validation. [Reason - The assertion is a token for "
                                    "Microsoft Graph; send a token for this application's own scope instead.]")
        accepted = {client.client_id, (client.identifier_uri or "").lower()}
        if not isinstance(audience, str) or audience.lower().rstrip("/") not in accepted:
            raise OAuthError(500131, f"Assertion audience does not match the Client app presenting the assertion. "
                                     f"The audience in the assertion was '{audience}' and the expected audience is "
                                     f"'{client.client_id}' or one of the Application Uris of this application with "
                                     f"App ID '{client.client_id}'({client.display_name}). The downstream client "
                                     "must request a token for the expected audience (the application that made "
                                     "the OBO request) and this application should use that token as the "
                                     "assertion.")
        if claims.get("tid") != tid or not isinstance(claims.get("oid"), str):
            raise OAuthError(50013, "Assertion failed signature validation. [Reason - The assertion does not "
                                    "name a user of this tenant.]")
        return claims

    def _refuse_revoked(self, user_oid: str, issued_at: float | None) -> None:
        cutoff = self.state.revocations.cutoff(user_oid)
        if cutoff is not None and (issued_at is None or issued_at < cutoff):
            raise revoked_grant(issued_at or 0, cutoff)

    @staticmethod
    def _require_mfa_if_asked(claims: ClaimsRequest, amr: list[str], form: MultiDictProxy[str]) -> None:
        if claims.mfa and "mfa" not in amr:
            # A claims challenge asking for MFA cannot be met by a grant or assertion without MFA.
            raise OAuthError(50076, "Due to a configuration change made by your administrator, or because you "
                                    "moved to a new location, you must use multi-factor authentication.",
                             suberror="basic_action", claims=str(form.get("claims")))

    def _user(self, oid: str) -> dict[str, Any]:
        user = self.state.tenant.find_user(oid)
        if user is None:
            raise OAuthError(50013, f"Assertion failed validation. [Reason - user '{oid}' does not exist.]")
        return user

    @staticmethod
    def _check_cross_origin(request: web.Request, spa: bool) -> None:
        origin = request.headers.get("Origin")
        if origin and not spa:
            raise OAuthError(9002326, "Cross-origin token redemption is permitted only for the 'Single-Page "
                                      f"Application' client-type. Request origin: '{origin}'.")
        if spa and not origin:
            raise OAuthError(9002327)

    @staticmethod
    def _reject_self_by_uri(client: App, resource: Resource, raw_scope: str) -> None:
        if resource.app_id != client.client_id or not client.identifier_uri:
            return
        if any(item.lower().startswith(client.identifier_uri.lower()) for item in raw_scope.split()):
            raise OAuthError(90009, "Application is requesting a token for itself. This scenario is supported "
                                    "only if resource is specified using the GUID based App Identifier.")

    def user_tokens(self, client: ClientAuth, user: dict[str, Any], scope_request: ScopeRequest, *,
                    amr: list[str], auth_time: int, spa: bool, nonce: str | None, form: MultiDictProxy[str],
                    claims: ClaimsRequest, refresh_expires_at: float | None = None) -> dict[str, Any]:
        resource = target_resource(self.state, scope_request)
        scopes = granted_scopes(self.state, client.app, user, scope_request)
        enforce_conditional_access(self.state, user, resource, amr)
        is_graph = resource.app_id == self.state.graph_app_id
        oidc_in_token = sorted(scope_request.oidc - {"offline_access"}) if is_graph else []
        token_scopes = scopes + [s for s in oidc_in_token if s not in scopes]
        expires_in = self.issuer.lifetime()
        claims = self.issuer.user_access_claims(user=user, client=client.app, client_id=client.app.client_id,
                                                resource=resource, scopes=token_scopes, amr=amr,
                                                auth_method=client.method, expires_in=expires_in,
                                                capabilities=claims.capabilities)
        if is_graph:
            reported = token_scopes
        else:
            prefix = (resource.identifier_uri or resource.app_id).rstrip("/")
            reported = [f"{prefix}/{s}" for s in scopes]
        body: dict[str, Any] = {"token_type": "Bearer", "scope": " ".join(reported), "expires_in": expires_in,
                                "ext_expires_in": expires_in, "access_token": self.issuer.sign(claims)}
        if scope_request.wants_refresh_token:
            now = time.time()
            expires_at = refresh_expires_at or now + (SPA_REFRESH_LIFETIME_S if spa else REFRESH_LIFETIME_S)
            body["refresh_token"] = self.state.refresh_tokens.add(RefreshGrant(
                client_id=client.app.client_id, user_oid=user["id"], spa=spa, amr=list(amr),
                auth_time=auth_time, expires_at=expires_at))
            if spa:
                body["refresh_token_expires_in"] = max(0, int(expires_at - now))
        if scope_request.wants_id_token:
            body["id_token"] = self.issuer.id_token(user=user, client_id=client.app.client_id, nonce=nonce,
                                                    auth_time=auth_time, amr=amr)
        if form.get("client_info") == "1":
            body["client_info"] = client_info(user, self.state.tenant.tenant_id)
        return body


def _iso(epoch: object) -> str:
    if not isinstance(epoch, (int, float)):
        return "unknown"
    try:
        return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return str(epoch)
