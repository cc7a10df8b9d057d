"""HTTP functions: the user's Graph profile and photo, the SPA's public config, and safe diagnostics.

Handlers are thin: authenticate, get a Graph token On-Behalf-Of the user, call Graph. Every error goes
through `errors.http_handler`, so any failure is a problem+json response with a stable code.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypeVar

import azure.functions as func

from . import settings as settings_module
from .auth.extract import AUTHORIZATION, CLIENT_PRINCIPAL_HEADER, TOKEN_STORE_HEADER
from .auth.request import AuthenticatedRequest, authenticate, get_validator
from .errors import ApiError, ConsentRequired, Misconfigured, NotFound, http_handler
from .graph import GraphTokenRejected, get_graph_client
from .obo import get_obo_client
from .settings import get_settings

bp = func.Blueprint()

T = TypeVar("T")


def _json(body: Any, status: int = 200, cache: str = "no-store") -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": cache})


def _with_graph_token(auth: AuthenticatedRequest, call: Callable[[str], T]) -> T:
    """Run a Graph call with the user's delegated token; if Graph rejects a cached token, re-exchange once."""
    obo = get_obo_client()
    token = obo.graph_token(auth.principal, auth.assertion)
    try:
        return call(token)
    except GraphTokenRejected:
        obo.forget(auth.principal.partition_key)
        return call(obo.graph_token(auth.principal, auth.assertion))
    except ConsentRequired:
        # Consent was revoked while a token was cached: drop it so the next call asks the identity provider.
        obo.forget(auth.principal.partition_key)
        raise


@bp.function_name("get_profile")
@bp.route(route="get-profile", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_profile")
def get_profile(req: func.HttpRequest) -> func.HttpResponse:
    auth = authenticate(req)
    profile = _with_graph_token(auth, get_graph_client().me)
    return _json(profile)


@bp.function_name("get_profile_photo")
@bp.route(route="get-profile/photo", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_profile_photo")
def get_profile_photo(req: func.HttpRequest) -> func.HttpResponse:
    auth = authenticate(req)
    photo = _with_graph_token(auth, get_graph_client().photo)
    return func.HttpResponse(photo.content, status_code=200, mimetype=photo.content_type,
                             headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})


@bp.function_name("get_config")
@bp.route(route="config", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_config")
def get_config(req: func.HttpRequest) -> func.HttpResponse:
    settings = get_settings()
    if not settings.spa_client_id:
        raise Misconfigured("SPA_CLIENT_ID is required to publish the SPA configuration.",
                           setting="SPA_CLIENT_ID")
    return _json({
        "clientId": settings.spa_client_id,
        "authority": settings.authority,
        "apiScope": f"api://{settings.api_client_id}/{settings.api_scope}",
        "knownAuthorities": [settings.authority_netloc],
        "userTokenHeader": settings.user_token_header,
    }, cache="public, max-age=300")


@bp.function_name("get_diagnostics")
@bp.route(route="diagnostics", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_diagnostics")
def get_diagnostics(req: func.HttpRequest) -> func.HttpResponse:
    """The tutorials' /debug route, done safely: presence of settings and headers, never their values."""
    if not settings_module.diagnostics_enabled():
        raise NotFound("Diagnostics are disabled (DIAGNOSTICS_ENABLED).")
    report: dict[str, Any] = {"settings": settings_module.settings_presence()}
    try:
        settings = get_settings()
    except ApiError as error:
        report["settingsValid"] = False
        report["settingsError"] = {"code": error.code, "detail": error.detail,
                                   "setting": getattr(error, "setting", None)}
        return _json(report)
    report["settingsValid"] = True
    report["credential"] = type(settings.credential).__name__ if settings.credential else None
    report["tokenCache"] = settings.token_cache
    report["headers"] = {name: name.lower() in {k.lower() for k in req.headers.keys()} for name in
                         (settings.user_token_header, AUTHORIZATION, TOKEN_STORE_HEADER, CLIENT_PRINCIPAL_HEADER)}
    try:
        auth = authenticate(req)
    except ApiError as error:
        report["token"] = {"valid": False, "code": error.code, "detail": error.detail}
    else:
        report["token"] = {"valid": True, "header": auth.header_name, "claims": auth.principal.public_claims()}
    jwks = get_validator().jwks.probe()
    report["jwks"] = {"reachable": jwks.last_error is None and jwks.keys > 0, "keys": jwks.keys,
                      "error": jwks.last_error}
    report["graph"] = get_graph_client().probe()
    return _json(report)


@lru_cache(maxsize=1)
def _openapi_document() -> bytes:
    # Read on first request, not at import: cold start stays free of file I/O the host doesn't need.
    return (Path(__file__).with_name("openapi.json")).read_bytes()


@bp.function_name("get_openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_openapi")
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI description of this API (function_app/openapi.json)."""
    return func.HttpResponse(_openapi_document(), status_code=200, mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": "public, max-age=300"})
