"""HTTP functions: the user's Graph profile and photo, the SPA's public config, and safe diagnostics.

Handlers are thin: authenticate, get a Graph token On-Behalf-Of the user, call Graph. Every error goes
through `errors.http_handler`, so any failure is a problem+json response with a stable code.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import azure.functions as func

from . import services
from . import settings as settings_module
from .auth.extract import AUTHORIZATION, CLIENT_PRINCIPAL_HEADER, TOKEN_STORE_HEADER
from .auth.token_kind import token_kind
from .errors import ApiError, Misconfigured, NotFound, http_handler
from .graph import GraphClient
from .settings import Settings

bp = func.Blueprint()
T = TypeVar("T")


def _json(body: Any, status: int = 200, cache: str = "no-store") -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": cache})


def _as_caller(req: func.HttpRequest, read: Callable[[GraphClient], Callable[[str], T]]) -> T:
    """One Graph read (`read` picks it from the client) as the request's authenticated caller, with a Graph token
    On-Behalf-Of their token and graph_access's rules for Graph's 401/403."""
    svc = services.current()
    return svc.delegated_graph.call(svc.caller_tokens(svc.authenticate(req.headers)), read(svc.graph))


@bp.function_name("get_profile")
@bp.route(route="get-profile", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_profile")
def get_profile(req: func.HttpRequest) -> func.HttpResponse:
    return _json(_as_caller(req, lambda graph: graph.me))


@bp.function_name("get_profile_photo")
@bp.route(route="get-profile/photo", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_profile_photo")
def get_profile_photo(req: func.HttpRequest) -> func.HttpResponse:
    photo = _as_caller(req, lambda graph: graph.photo)
    return func.HttpResponse(photo.content, status_code=200, mimetype=photo.content_type,
                             headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})


@bp.function_name("get_config")
@bp.route(route="config", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_config")
def get_config(req: func.HttpRequest) -> func.HttpResponse:
    settings = services.current().settings
    if not settings.spa_client_id:
        raise Misconfigured("SPA_CLIENT_ID is required to publish the SPA configuration.",
                           setting="SPA_CLIENT_ID")
    return _json({
        "clientId": settings.spa_client_id,
        "authority": settings.authority,
        "apiScope": f"api://{settings.api_client_id}/{settings.api_scope}",
        "knownAuthorities": [settings.authority_netloc],
        "userTokenHeader": settings.user_token_header,
        # False everywhere the Static Web App (or its local emulation) replaces Authorization on the way.
        "sendsAuthorization": settings.spa_sends_authorization,
    }, cache="public, max-age=300")


@bp.function_name("get_diagnostics")
@bp.route(route="diagnostics", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@http_handler("get_diagnostics")
def get_diagnostics(req: func.HttpRequest) -> func.HttpResponse:
    """The tutorials' /debug route, done safely: presence of settings and headers, never their values; the JWKS
    and Graph reachability probes are cached (function_app/diagnostics.py)."""
    if not settings_module.diagnostics_enabled():
        raise NotFound("Diagnostics are disabled (DIAGNOSTICS_ENABLED).")
    report: dict[str, Any] = {"settings": settings_module.settings_presence()}
    try:
        svc = services.current()
    except ApiError as error:
        report["settingsValid"] = False
        report["settingsError"] = {"code": error.code, "detail": error.detail,
                                   "setting": getattr(error, "setting", None)}
        return _json(report)
    settings = svc.settings
    report["settingsValid"] = True
    report["credential"] = type(settings.credential).__name__ if settings.credential else None
    report["tokenCache"] = settings.token_cache
    report["headers"] = _header_report(req.headers, settings)
    try:
        auth = svc.authenticate(req.headers)
    except ApiError as error:
        report["token"] = {"valid": False, "code": error.code, "detail": error.detail}
    else:
        report["token"] = {"valid": True, "header": auth.header_name, "claims": auth.principal.public_claims()}
    # Cached for a minute and never a forced key refresh: the route is anonymous (diagnostics.py).
    report["jwks"] = svc.probes.keys()
    report["graph"] = svc.probes.graph()
    return _json(report)


def _header_report(headers: Mapping[str, str], settings: Settings) -> dict[str, dict[str, Any]]:
    """Per header: present or not and, for token headers, what kind of token it carries (never its value)."""
    present = {k.lower(): v for k, v in headers.items()}
    report: dict[str, dict[str, Any]] = {}
    for name in (settings.user_token_header, AUTHORIZATION, TOKEN_STORE_HEADER, CLIENT_PRINCIPAL_HEADER):
        value = present.get(name.lower())
        entry: dict[str, Any] = {"present": value is not None}
        if value is not None and name != CLIENT_PRINCIPAL_HEADER:
            entry["carries"] = token_kind(value, settings.authority_host)
        report[name] = entry
    return report


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
