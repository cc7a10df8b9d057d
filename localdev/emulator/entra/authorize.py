"""`/{tenant}/oauth2/v2.0/authorize`, `/logout` and `/adminconsent`: the browser-facing endpoints.

Flow: validate client and redirect URI (errors shown as a page, never redirected to an unregistered
URI) -> validate the rest (errors redirected as OAuth errors) -> sign-in (account picker, or the
session cookie; `prompt=none` never shows UI) -> MFA approval when a Conditional Access policy covers
the requested resource or the `claims` parameter asks for it -> consent when the client lacks it
(`knownClientApplications` bundles the resource app's own permissions) -> code to the redirect URI.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from aiohttp import web

from localdev.emulator.entra.errors import OAuthError, correlation_of, error_body
from localdev.emulator.faults_http import take_fault, fault_to_error
from localdev.emulator.entra.grants import CODE_LIFETIME_S, INTERACTION_LIFETIME_S, SESSION_LIFETIME_S, AuthCode, Interaction, Session
from localdev.emulator.entra.pages import consent_page, error_page, form_post_page, mfa_page, sign_in_page, signed_out_page
from localdev.emulator.entra.policy import claims_request_mfa, mfa_policy_ids, missing_consent, static_scopes
from localdev.emulator.entra.redirects import match_redirect, uri_matches
from localdev.emulator.entra.scopes import ScopeRequest, parse_scopes
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App, Resource
from localdev.emulator.entra.tokens import client_info

SESSION_COOKIE = "ESTSAUTH"
PROMPTS = {"none", "login", "select_account", "consent", "create"}
RESPONSE_MODES = {"query", "fragment", "form_post"}


class PageError(Exception):
    """An error Entra shows on its own page because the redirect URI cannot be trusted."""

    def __init__(self, err: OAuthError) -> None:
        super().__init__(str(err))
        self.err = err


class AuthorizeEndpoint:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # ------------------------------------------------------------------ HTTP handlers
    async def authorize(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            form = await request.post()
            if form.get("ctx"):
                return await self._interaction_step(request, {k: str(v) for k, v in form.items()})
            params = {k: str(v) for k, v in form.items()}
        else:
            params = dict(request.query)
        self.state.metrics.record("authorize")
        fault = await take_fault(self.state, "authorize", request)
        try:
            app, redirect_uri, redirect_type = self._validate_client(request.match_info["tenant"], params)
        except PageError as exc:
            return self._error_page(request, exc.err)
        interaction = Interaction(params=params, tenant_segment=request.match_info["tenant"],
                                  expires_at=time.time() + INTERACTION_LIFETIME_S)
        interaction.extra.update(client_id=app.client_id, redirect_uri=redirect_uri, spa=redirect_type == "spa",
                                 force_consent=params.get("prompt", "").lower() == "consent")
        if fault is not None and (faulted := fault_to_error(fault)) is not None:
            err, _ = faulted
            return self._error_redirect(request, interaction, err)
        try:
            scope_request = self._validate_request(app, redirect_type, params)
        except OAuthError as err:
            return self._error_redirect(request, interaction, err)
        interaction.mfa_required = claims_request_mfa(params.get("claims"))
        prompt = params.get("prompt", "").lower()
        session = self._session(request)
        hint = (params.get("login_hint") or "").strip().lower()
        session_user = self.state.tenant.find_user(session.user_oid) if session else None
        hint_mismatch = bool(hint and session_user and hint not in (session_user["userPrincipalName"].lower(),
                                                                     session_user["id"].lower()))
        if prompt == "none":
            if session_user is None or hint_mismatch:
                return self._error_redirect(request, interaction, OAuthError(
                    50058, "A silent sign-in request was sent but no user is signed in. The cookies used to "
                           "represent the user's session were not sent in the request to Azure AD.",
                    error="login_required"))
            interaction.user_oid, interaction.amr = session_user["id"], list(session.amr)  # type: ignore[union-attr]
            return self._advance(request, interaction, app, scope_request, interactive=False)
        if session_user is None or prompt in ("login", "select_account") or hint_mismatch:
            return self._show_sign_in(request, interaction, app)
        interaction.user_oid, interaction.amr = session_user["id"], list(session.amr)  # type: ignore[union-attr]
        return self._advance(request, interaction, app, scope_request, interactive=True,
                             force_consent=prompt == "consent")

    async def _interaction_step(self, request: web.Request, form: dict[str, str]) -> web.Response:
        interaction = self.state.interactions.get(form["ctx"])
        if interaction is None or interaction.expires_at < time.time():
            return self._error_page(request, OAuthError(
                9002313, "Invalid request. The sign-in session expired or was already completed; start again."))
        app = self.state.tenant.find_app(interaction.extra["client_id"])
        assert app is not None
        if interaction.extra.get("kind") == "adminconsent":
            return self._admin_consent_step(request, interaction, app, form)
        scope_request = parse_scopes(self.state.tenant, interaction.params.get("scope"))
        action = form.get("action")
        if action == "signin":
            user = self.state.tenant.find_user(form.get("user", ""))
            if user is None:
                return self._show_sign_in(request, interaction, app)
            interaction.user_oid, interaction.amr = user["id"], ["pwd"]
            interaction.extra["new_session"] = True
        elif action == "approve" and interaction.user_oid:
            interaction.amr = sorted(set(interaction.amr) | {"mfa"})
            interaction.extra["new_session"] = True
        elif action == "deny":
            self.state.interactions.pop(form["ctx"])
            return self._error_redirect(request, interaction, OAuthError(
                500121, "Authentication failed during strong authentication request.", error="access_denied"))
        elif action == "accept" and interaction.user_oid:
            user = self.state.tenant.find_user(interaction.user_oid)
            assert user is not None
            for client_id, resource, scopes in self._consent_plan(app, user, scope_request,
                                                                  interaction.extra.get("force_consent", False)):
                self.state.consent.grant(client_id, resource.app_id, scopes, user["id"])
            interaction.extra["consented"] = True
        elif action == "cancel":
            self.state.interactions.pop(form["ctx"])
            return self._error_redirect(request, interaction, OAuthError(
                65004, "User declined to consent to access the app.", error="access_denied"))
        else:
            return self._show_sign_in(request, interaction, app)
        self.state.interactions.pop(form["ctx"])
        return self._advance(request, interaction, app, scope_request, interactive=True,
                             force_consent=interaction.extra.get("force_consent", False)
                             and not interaction.extra.get("consented"))

    async def logout(self, request: web.Request) -> web.Response:
        handle = request.cookies.get(SESSION_COOKIE)
        if handle:
            self.state.sessions.pop(handle)
        target = request.query.get("post_logout_redirect_uri")
        registered = [uri for app in self.state.tenant.apps for uri in app.spa_redirect_uris + app.web_redirect_uris]
        if target and any(uri_matches(uri, target) or _same_loopback_origin(uri, target) for uri in registered):
            extra = {"state": request.query["state"]} if request.query.get("state") else {}
            response = web.Response(status=302, headers={"Location": _with_query(target, extra)})
        else:
            response = web.Response(text=signed_out_page(), content_type="text/html")
        response.del_cookie(SESSION_COOKIE, path="/", secure=True, samesite="None")
        return response

    async def admin_consent(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        try:
            self._default_reply_url(request.match_info["tenant"], params)
            app, redirect_uri, redirect_type = self._validate_client(request.match_info["tenant"], params)
        except PageError as exc:
            return self._error_page(request, exc.err)
        interaction = Interaction(params={**params, "response_mode": "query"},
                                  tenant_segment=request.match_info["tenant"],
                                  expires_at=time.time() + INTERACTION_LIFETIME_S)
        interaction.extra.update(client_id=app.client_id, redirect_uri=redirect_uri, spa=redirect_type == "spa",
                                 kind="adminconsent")
        ctx = self.state.interactions.add(interaction)
        permissions = [(self._resource_label(key), name) for key, grant in app.required_access.items()
                       for name in grant.get("scopes", []) + grant.get("roles", [])]
        return _html(consent_page(request.path, ctx, app.display_name, None, permissions, admin=True))

    # ------------------------------------------------------------------ validation
    def _default_reply_url(self, tenant_segment: str, params: dict[str, str]) -> None:
        """Admin consent without `redirect_uri` returns to the app's web reply URL; with none registered,
        Entra can only show AADSTS500113."""
        app = self.state.tenant.find_app(params.get("client_id", ""))
        if params.get("redirect_uri") or app is None or not self.state.tenant.knows_tenant(tenant_segment):
            return  # _validate_client names the real problem
        if not app.web_redirect_uris:
            raise PageError(OAuthError(500113, "No reply address is registered for the application."))
        params["redirect_uri"] = app.web_redirect_uris[0]

    def _validate_client(self, tenant_segment: str, params: dict[str, str]) -> tuple[App, str, str]:
        if not self.state.tenant.knows_tenant(tenant_segment):
            raise PageError(OAuthError(90002, f"Tenant '{tenant_segment}' not found. Check to make sure you have "
                                              "the correct tenant ID and are signing into the correct cloud."))
        client_id = params.get("client_id", "")
        app = self.state.tenant.find_app(client_id)
        if app is None or app.client_id != client_id.lower():
            raise PageError(OAuthError(700016, f"Application with identifier '{client_id}' was not found in the "
                                               f"directory '{self.state.tenant.display_name}'."))
        redirect_uri = params.get("redirect_uri", "")
        redirect_type = match_redirect(app, redirect_uri)
        if redirect_type is None:
            raise PageError(OAuthError(50011, f"The redirect URI '{redirect_uri}' specified in the request does not "
                                              "match the redirect URIs configured for the application "
                                              f"'{app.client_id}'. Make sure the redirect URI sent in the request "
                                              "matches one added to your application in the Azure portal."))
        return app, redirect_uri, redirect_type

    def _validate_request(self, app: App, redirect_type: str, params: dict[str, str]) -> ScopeRequest:
        if params.get("response_type") != "code":
            raise OAuthError(700054, f"response_type '{params.get('response_type')}' is not enabled for the "
                                     "application; this emulator issues authorization codes only.",
                             error="unsupported_response_type")
        if params.get("response_mode", "query") not in RESPONSE_MODES:
            raise OAuthError(900144, f"The response_mode '{params.get('response_mode')}' is not supported.")
        prompt = params.get("prompt", "").lower()
        if prompt and prompt not in PROMPTS:
            raise OAuthError(900144, f"Invalid value for the 'prompt' parameter: '{prompt}'.")
        challenge = params.get("code_challenge")
        if challenge:
            if params.get("code_challenge_method", "plain") != "S256":
                raise OAuthError(900144, "Invalid code_challenge_method: only 'S256' is supported.")
        elif redirect_type == "spa":
            raise OAuthError(9002325)
        return parse_scopes(self.state.tenant, params.get("scope"))

    # ------------------------------------------------------------------ the state machine
    def _advance(self, request: web.Request, interaction: Interaction, app: App, scope_request: ScopeRequest,
                 *, interactive: bool, force_consent: bool = False) -> web.Response:
        user = self.state.tenant.find_user(interaction.user_oid or "")
        assert user is not None
        resource = scope_request.resource
        needs_mfa = interaction.mfa_required or bool(resource and mfa_policy_ids(self.state, user, resource))
        if needs_mfa and "mfa" not in interaction.amr:
            if not interactive:
                return self._error_redirect(request, interaction, OAuthError(
                    50076, "Due to a configuration change made by your administrator, or because you moved to a "
                           "new location, you must use multi-factor authentication.", error="interaction_required"))
            ctx = self.state.interactions.add(interaction)
            return _html(mfa_page(request.path, ctx, user))
        missing = missing_consent(self.state, app, user, scope_request)
        if missing or force_consent:
            if not interactive:
                return self._error_redirect(request, interaction, OAuthError(
                    65001, f"The user or administrator has not consented to use the application with ID "
                           f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization "
                           "request for this user and resource.", error="consent_required"))
            plan = self._consent_plan(app, user, scope_request, force_consent)
            permissions = [(self._resource_label(resource_.key), name) for _, resource_, names in plan
                           for name in names]
            ctx = self.state.interactions.add(interaction)
            return _html(consent_page(request.path, ctx, app.display_name, user, permissions))
        return self._issue_code(request, interaction, app, user)

    def _consent_plan(self, app: App, user: dict[str, Any], scope_request: ScopeRequest,
                      force: bool) -> list[tuple[str, Resource, list[str]]]:
        """(client_id, resource, scopes) grants that accepting the consent page creates."""
        resource = scope_request.resource
        if resource is None:
            return []
        wanted = static_scopes(app, resource) if scope_request.default else list(scope_request.scopes)
        plan = [(app.client_id, resource, wanted if force else missing_consent(self.state, app, user, scope_request)
                 or wanted)]
        resource_app = self.state.tenant.find_app(resource.app_id)
        if resource_app and app.client_id in resource_app.known_client_apps:
            # Combined consent: consenting to the client for the API also consents to the API's permissions.
            for key, grant in resource_app.required_access.items():
                downstream = self.state.tenant.resources.get(key)
                if downstream and grant.get("scopes"):
                    plan.append((resource_app.client_id, downstream, list(grant["scopes"])))
        return [(c, r, [s for s in scopes if s != ".default"]) for c, r, scopes in plan]

    def _issue_code(self, request: web.Request, interaction: Interaction, app: App,
                    user: dict[str, Any]) -> web.Response:
        params = interaction.params
        now = time.time()
        session_handle = request.cookies.get(SESSION_COOKIE)
        session = self.state.sessions.get(session_handle)
        headers: dict[str, str] = {}
        if session is None or interaction.extra.get("new_session") or session.user_oid != user["id"]:
            session_handle = self.state.sessions.add(Session(user["id"], list(interaction.amr), int(now),
                                                             now + SESSION_LIFETIME_S))
            headers["Set-Cookie"] = _cookie(session_handle)
        code = self.state.codes.add(AuthCode(
            client_id=app.client_id, redirect_uri=interaction.extra["redirect_uri"], user_oid=user["id"],
            scopes=(params.get("scope") or "").split(), spa=interaction.extra["spa"], amr=list(interaction.amr),
            nonce=params.get("nonce"), code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            auth_time=session.auth_time if session and not interaction.extra.get("new_session") else int(now),
            session_id=session_handle, expires_at=now + CODE_LIFETIME_S))
        fields = {"code": code}
        if params.get("client_info") == "1":
            fields["client_info"] = client_info(user, self.state.tenant.tenant_id)
        if params.get("state") is not None:
            fields["state"] = params["state"]
        fields["session_state"] = session_handle[:36] if session_handle else ""
        return self._respond(interaction, fields, headers)

    # ------------------------------------------------------------------ responses
    def _respond(self, interaction: Interaction, fields: dict[str, str], headers: dict[str, str]) -> web.Response:
        target = interaction.extra["redirect_uri"]
        mode = interaction.params.get("response_mode", "query")
        if mode == "form_post":
            return _html(form_post_page(target, fields), headers)
        if mode == "fragment":
            location = target.split("#")[0] + "#" + urlencode(fields)
        else:
            location = _with_query(target, fields)
        return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store", **headers})

    def _error_redirect(self, request: web.Request, interaction: Interaction, err: OAuthError) -> web.Response:
        body = error_body(err, self.state.entra_url, correlation_of(request))
        fields = {"error": body["error"], "error_description": body["error_description"],
                  "error_uri": body["error_uri"]}
        if err.suberror:
            fields["suberror"] = err.suberror
        if err.claims:
            fields["claims"] = err.claims
        if interaction.params.get("state") is not None:
            fields["state"] = interaction.params["state"]
        return self._respond(interaction, fields, {})

    def _error_page(self, request: web.Request, err: OAuthError) -> web.Response:
        body = error_body(err, self.state.entra_url, correlation_of(request))
        return _html(error_page(err.code, err.message, body["error_description"]), status=err.status)

    def _show_sign_in(self, request: web.Request, interaction: Interaction, app: App) -> web.Response:
        ctx = self.state.interactions.add(interaction)
        return _html(sign_in_page(request.path, ctx, app.display_name, self.state.tenant.users,
                                  interaction.params.get("login_hint")))

    def _session(self, request: web.Request) -> Session | None:
        handle = request.cookies.get(SESSION_COOKIE)
        session = self.state.sessions.get(handle)
        if session is None or session.expires_at < time.time():
            return None
        if self.state.revocations.revoked(session.user_oid, session.started_at):
            self.state.sessions.pop(handle or "")  # revoked sessions: the user signs in again
            return None
        return session

    def _resource_label(self, key: str) -> str:
        resource = self.state.tenant.resources.get(key)
        return resource.display_name if resource and resource.key != "graph" else "Microsoft Graph"

    def _admin_consent_step(self, request: web.Request, interaction: Interaction, app: App,
                            form: dict[str, str]) -> web.Response:
        self.state.interactions.pop(form["ctx"])
        if form.get("action") != "accept":
            return self._error_redirect(request, interaction, OAuthError(
                65004, "The admin declined to consent to access the app.", error="access_denied"))
        for key, grant in app.required_access.items():
            resource = self.state.tenant.resources.get(key)
            if resource is None:
                continue
            self.state.consent.grant(app.client_id, resource.app_id, grant.get("scopes", []))
            self.state.consent.grant_roles(app.client_id, resource.app_id, grant.get("roles", []))
        fields = {"admin_consent": "True", "tenant": self.state.tenant.tenant_id}
        if interaction.params.get("state") is not None:
            fields["state"] = interaction.params["state"]
        return self._respond(interaction, fields, {})


def _cookie(handle: str) -> str:
    # SameSite=None so the session reaches hidden-iframe (prompt=none) requests from the app's origin.
    return f"{SESSION_COOKIE}={handle}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={SESSION_LIFETIME_S}"


def _html(text: str, headers: dict[str, str] | None = None, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store", **(headers or {})})


def _with_query(url: str, fields: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(fields.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _same_loopback_origin(registered: str, target: str) -> bool:
    a, b = urlsplit(registered), urlsplit(target)
    return a.scheme == b.scheme == "http" and a.hostname == b.hostname and a.hostname in ("localhost", "127.0.0.1")


def add_authorize_routes(app: web.Application, state: EmulatorState) -> None:
    endpoint = AuthorizeEndpoint(state)
    app.add_routes([
        web.get("/{tenant}/oauth2/v2.0/authorize", endpoint.authorize),
        web.post("/{tenant}/oauth2/v2.0/authorize", endpoint.authorize),
        web.get("/{tenant}/oauth2/v2.0/logout", endpoint.logout),
        web.get("/{tenant}/adminconsent", endpoint.admin_consent),
        web.get("/{tenant}/v2.0/adminconsent", endpoint.admin_consent),
        web.post("/{tenant}/adminconsent", endpoint.authorize),
        web.post("/{tenant}/v2.0/adminconsent", endpoint.authorize),
    ])
