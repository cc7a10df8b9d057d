"""Redirect URI matching with Entra's loopback rule: for `http://localhost` and `http://127.0.0.1`
redirect URIs the port is ignored (RFC 8252 section 7.3), so a page on any free port matches
`http://localhost:4280/`. Everything else must match exactly (scheme, host, port, path, query)."""
from __future__ import annotations

from urllib.parse import urlsplit

from localdev.emulator.tenant import App

LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def _key(uri: str, ignore_port: bool) -> tuple[str, str, int | None, str, str]:
    parts = urlsplit(uri)
    try:
        port = None if ignore_port else parts.port
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path or "/", parts.query


def _is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme.lower() == "http" and (parts.hostname or "").lower() in LOOPBACK_HOSTS


def uri_matches(registered: str, requested: str) -> bool:
    loopback = _is_loopback_http(registered) and _is_loopback_http(requested)
    return _key(registered, loopback) == _key(requested, loopback)


def match_redirect(app: App, requested: str) -> str | None:
    """'spa' or 'web' when `requested` is registered on the app (spa wins on a tie), else None."""
    if not requested or "#" in requested:
        return None
    if any(uri_matches(r, requested) for r in app.spa_redirect_uris):
        return "spa"
    if any(uri_matches(r, requested) for r in app.web_redirect_uris):
        return "web"
    return None


def origin_allowed_for_cors(origin: str) -> bool:
    # Entra's token endpoint answers CORS for any web origin; whether a cross-origin redemption is
    # allowed is then decided per redirect URI type (AADSTS9002326 / 9002327).
    scheme = urlsplit(origin).scheme.lower()
    return scheme in ("http", "https")
