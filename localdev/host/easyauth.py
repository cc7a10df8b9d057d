"""App Service authentication ("Easy Auth") in front of the local host, configured from authsettingsV2.

What it does for every request, as the platform module does before the app sees it:

1. Removes every client-supplied `X-MS-*` header (`X-MS-CLIENT-PRINCIPAL*`, `X-MS-TOKEN-AAD-*`, ...): only
   the platform may set them, and the app trusts them.
2. Validates a bearer token in `Authorization` with the provider it belongs to: the linked Static Web App's
   platform token with `azureStaticWebApps` (static_web_apps), any other token as the Microsoft provider would
   (token_validation). A valid token adds the `X-MS-CLIENT-PRINCIPAL*` headers; an invalid one is rejected with
   401 (403 when only the authorization policy fails), except on excluded paths, where it is ignored.
3. Applies `globalValidation`: with `requireAuthentication`, a request without a token to a path that is not
   in `excludedPaths` gets the `unauthenticatedClientAction` (Return401, Return403, RedirectToLoginPage,
   AllowAnonymous).

Rejections are `application/problem+json` with the same `code`s the function uses (`missing_token`,
`invalid_token`, `token_expired`) and a `WWW-Authenticate: Bearer` header. App Service itself answers with an
empty 401; the local host says why, because locally the person reading the response is the developer
debugging their token, and the reasons reveal nothing a caller could not see by decoding their own JWT.

`requireHttps` is not enforced: the host only listens on loopback, where there is no network to protect.
The Durable runtime's own HTTP API (called by the SDK's client from inside the app) is not behind
authentication, as in Azure, where the SDK reaches it through the host's internal endpoint: exactly the
`/runtime/webhooks/durabletask` segment and what is below it, never a path that merely starts with those
characters. Redirect targets of `/.auth/login/aad` and `/.auth/logout` are checked as App Service checks them
(redirects.py).
"""
from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlencode

from aiohttp import web

from localdev.host.authsettings import AuthSettings
from localdev.host.problems import problem_response
from localdev.host.principal import auth_me_entry, principal_headers, strip_platform_headers
from localdev.host.static_web_apps import PlatformTokenValidator
from localdev.host.redirects import MalformedRedirect, RedirectPolicy
from localdev.host.token_validation import (KeysUnavailable, Rejection, TokenValidator, Validated, missing_token,
                                            token_digest)

log = logging.getLogger("localdev.host.easyauth")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AUTH_PREFIX = "/.auth/"


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The credentials of `Authorization: Bearer <token>`; only SP and HTAB separate them (RFC 9110 5.6.3)."""
    value = headers.get("Authorization", "").strip(" \t")
    scheme, _, token = value.replace("\t", " ").partition(" ")
    token = token.strip(" \t")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def problem(status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return problem_response(status, code, title, detail, headers)


def rejection_response(rejection: Rejection) -> web.Response:
    headers: dict[str, str] = {}
    if rejection.status == 401:
        if rejection.code == "missing_token":
            headers["WWW-Authenticate"] = "Bearer"
        else:
            description = rejection.detail.replace('"', "'")
            headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{description}"'
    return problem(rejection.status, rejection.code, rejection.title, rejection.detail, headers)


def keys_unavailable_response() -> web.Response:
    return problem(503, "identity_unavailable", "Identity provider unavailable",
                   "The token signing keys could not be fetched; try again shortly.", {"Retry-After": "5"})


class EasyAuth:
    def __init__(self, settings: AuthSettings, validator: TokenValidator, *,
                 platform: PlatformTokenValidator | None = None, bypass_prefixes: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.validator = validator
        self.platform = platform
        # Where an accepted token's validation is kept, for the providers that are on.
        self._caches = tuple(cache for cache in (platform.cache if platform is not None else None,
                                                 validator.cache if settings.aad_enabled else None)
                             if cache is not None)
        self._bypass = tuple(p.lower().rstrip("/") for p in bypass_prefixes)
        self.redirects = RedirectPolicy(settings.allowed_external_redirect_urls)

    @classmethod
    def from_file(cls, path: Path, environ: Mapping[str, str], *,
                  bypass_prefixes: tuple[str, ...] = ()) -> "EasyAuth":
        settings = AuthSettings.load(path, environ)
        platform = PlatformTokenValidator.from_environment(settings, environ) if settings.swa_enabled else None
        if settings.enabled:
            log.info("App Service authentication emulation on (%s, action %s, issuer %s, Static Web Apps "
                     "platform issuer %s)", path, settings.unauthenticated_action, settings.issuer,
                     platform.issuer if platform else "none")
        else:
            log.warning("%s has platform.enabled=false: authentication emulation is off", path)
        return cls(settings, TokenValidator(settings, environ), platform=platform, bypass_prefixes=bypass_prefixes)

    async def close(self) -> None:
        await self.validator.close()

    @property
    def enforcing(self) -> bool:
        return (self.settings.require_authentication
                and self.settings.unauthenticated_action != "AllowAnonymous")

    async def authenticate(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        """Claims for a valid bearer token, None without one; raises Rejection / KeysUnavailable."""
        entry = await self._validated(headers)
        return None if entry is None else entry.claims

    async def _validated(self, headers: Mapping[str, str]) -> Validated | None:
        token = bearer_token(headers)
        if token is None:
            return None
        # A token either provider validated before is one hash and a lookup away; picking the provider below
        # decodes the token, which costs more than the whole cached path.
        digest = token_digest(token)
        for cache in self._caches:
            entry = cache.get(digest)
            if entry is not None:
                return entry
        if self.platform is not None and self.platform.handles(token):
            return self.platform.validated(token)
        if not self.settings.aad_enabled:
            return None
        return await self.validator.validated(token)

    @staticmethod
    def _principal_headers(entry: Validated) -> dict[str, str]:
        # Built once per cached token (base64 JSON of every claim), like the validation itself.
        built = entry.derived.get("principal_headers")
        if built is None:
            built = entry.derived["principal_headers"] = principal_headers(entry.claims, entry.provider)
        return built

    def _bypassed(self, lowered_path: str) -> bool:
        """The path is a bypass prefix or below it, segment by segment (`/durabletaskX` is not `/durabletask`)."""
        return any(lowered_path == prefix or lowered_path.startswith(prefix + "/") for prefix in self._bypass)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.settings.enabled:
            return await handler(request)
        path = request.path
        lowered = path.lower()
        if self._bypassed(lowered):
            return await handler(request)
        headers = strip_platform_headers(request.headers)
        if lowered.startswith(AUTH_PREFIX):
            return await handler(request.clone(headers=headers))
        excluded = self.settings.is_excluded(path)
        try:
            entry = await self._validated(headers)
        except Rejection as rejection:
            if not excluded:
                log.info("rejected %s %s: %s", request.method, path, rejection.code)
                return rejection_response(rejection)
            entry = None
        except KeysUnavailable as exc:
            if not excluded:
                log.warning("cannot validate tokens: %s", exc)
                return keys_unavailable_response()
            entry = None
        if entry is not None:
            headers.update(self._principal_headers(entry))
        elif self.enforcing and not excluded:
            return self._unauthenticated(request)
        return await handler(request.clone(headers=headers))

    def _unauthenticated(self, request: web.Request) -> web.StreamResponse:
        action = self.settings.unauthenticated_action
        if action == "Return403":
            rejection = missing_token()
            return problem(403, rejection.code, "Forbidden", rejection.detail)
        if action == "RedirectToLoginPage" and request.headers.get("X-Requested-With", "") != "XMLHttpRequest":
            # Like App Service: browsers are sent to sign in; script requests (XHR) get a 401 instead.
            raise web.HTTPFound(self.login_url(request, request.path_qs))
        return rejection_response(missing_token())

    def login_url(self, request: web.Request, post_login_redirect: str) -> str:
        settings = self.settings
        query = urlencode({
            "client_id": settings.client_id,
            "response_type": "code id_token",
            "response_mode": "form_post",
            "redirect_uri": f"{request.scheme}://{request.host}/.auth/login/aad/callback",
            "scope": "openid profile email",
            "state": f"redir={post_login_redirect}",
            "nonce": secrets.token_urlsafe(16),
        })
        return f"{settings.authority_host}/{settings.tenant_id}/oauth2/v2.0/authorize?{query}"

    # /.auth endpoints -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/.auth/me", self.me),
            web.get("/.auth/login/aad", self.login),
            web.route("*", "/.auth/login/aad/callback", self.login_callback),
            web.get("/.auth/logout", self.logout),
        ]

    async def me(self, request: web.Request) -> web.Response:
        try:
            entry = await self._validated(request.headers)
        except Rejection as rejection:
            return rejection_response(rejection)
        except KeysUnavailable:
            return keys_unavailable_response()
        if entry is None:
            return rejection_response(missing_token())
        return web.json_response([auth_me_entry(entry.claims, entry.provider)])

    def _redirect_target(self, request: web.Request, parameter: str) -> str | web.Response:
        """The checked redirect parameter, "/" when absent or not allowed (as App Service, with a warning), or
        a 400 problem when it is malformed."""
        target = request.query.get(parameter)
        if target is None or target == "":
            return "/"
        try:
            allowed = self.redirects.check(target, scheme=request.scheme, host=request.host)
        except MalformedRedirect as exc:
            log.warning("refused %s on %s: %s", parameter, request.path, exc)
            return problem(400, "bad_request", "Bad Request",
                           f"{parameter} must be a path on this site or an allowed external redirect URL, without "
                           f"control characters or backslashes.")
        if not allowed:
            log.warning("ignored %s on %s: not this site and not in allowedExternalRedirectUrls", parameter,
                        request.path)
            return "/"
        return target

    async def login(self, request: web.Request) -> web.Response:
        target = self._redirect_target(request, "post_login_redirect_uri")
        if isinstance(target, web.Response):
            return target
        raise web.HTTPFound(self.login_url(request, target))

    async def login_callback(self, request: web.Request) -> web.Response:
        return problem(501, "not_implemented", "Server-side sign-in is not emulated",
                       "The local host validates bearer tokens only; sign in from the SPA with MSAL.js and "
                       "send the access token in the Authorization header.")

    async def logout(self, request: web.Request) -> web.Response:
        target = self._redirect_target(request, "post_logout_redirect_uri")
        if isinstance(target, web.Response):
            return target
        raise web.HTTPFound(target)

