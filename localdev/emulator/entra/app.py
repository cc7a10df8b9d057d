"""The Entra ID emulator's aiohttp application."""
from __future__ import annotations

from aiohttp import web

from localdev.emulator.admin import AdminApi
from localdev.emulator.entra.authorize import add_authorize_routes
from localdev.emulator.entra.discovery import Discovery
from localdev.emulator.state import EmulatorState
from localdev.emulator.entra.token_endpoint import TokenEndpoint
from localdev.emulator.entra.tokens import TokenIssuer


@web.middleware
async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # No Strict-Transport-Security: HSTS is per host name, and pinning `localhost` to HTTPS would break
    # every http://localhost app (the SPA on :4280, the Functions host on :7071) in the user's browser.
    return response


async def error_page(request: web.Request) -> web.Response:
    code = request.query.get("code", "")
    text = f"AADSTS{code}" if code.isdigit() else "Unknown error"
    return web.Response(text=f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{text}</title>"
                             f"</head><body><main><h1>{text}</h1><p>Error reference for the local Entra ID "
                             "emulator.</p></main></body></html>", content_type="text/html")


def build_entra_app(state: EmulatorState) -> web.Application:
    issuer = TokenIssuer(state)
    app = web.Application(middlewares=[security_headers])
    discovery = Discovery(state)
    token = TokenEndpoint(state, issuer)
    app.add_routes(AdminApi(state, issuer).routes())
    app.add_routes([
        web.get("/common/discovery/instance", discovery.instance),
        web.get("/{tenant}/discovery/instance", discovery.instance),
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", discovery.openid_v2),
        web.get("/{tenant}/.well-known/openid-configuration", discovery.openid_v1),
        web.get("/{tenant}/discovery/v2.0/keys", discovery.keys_v2),
        web.get("/{tenant}/discovery/keys", discovery.keys_v1),
        web.post("/{tenant}/oauth2/v2.0/token", token.handle),
        web.options("/{tenant}/oauth2/v2.0/token", token.preflight),
        web.get("/error", error_page),
    ])
    add_authorize_routes(app, state)
    return app
