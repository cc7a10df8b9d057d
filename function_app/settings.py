"""Application settings: read once from the environment into one frozen object.

This is the only module that reads `os.environ`. Nothing is read at import time: `load_environment()` reads
and validates when the services are first built (`services.py`), so a missing setting becomes a `misconfigured` problem naming the setting
instead of an import failure the Functions host would only show as "0 functions found".
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping
from urllib.parse import quote, urlsplit

from .errors import Misconfigured
from .setting_values import (GUID_RE, ClientCertificate, ClientSecret, Credential, ManagedIdentityAssertion, boolean,
                             credential, guid, hours, https_url, is_guid, listed, parse_issuer, reply_url,
                             token_cache_keys, value_of, whole_number)

__all__ = ["GUID_RE", "ClientCertificate", "ClientSecret", "Credential", "ManagedIdentityAssertion", "Settings",
           "is_guid", "load_environment", "load_settings", "parse_issuer"]

APP_ROOT = Path(__file__).resolve().parent.parent  # the folder holding main.py and host.json
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_GRAPH_SCOPES = ("User.Read",)
DEFAULT_REPORT_GRAPH_SCOPES = ("User.Read", "User.ReadBasic.All", "GroupMember.Read.All")
DEFAULT_USER_TOKEN_HEADER = "X-User-Authorization"
# How long a finished report job's history (names, UPNs, group lists) stays in the task hub.
DEFAULT_REPORT_RETENTION_HOURS = 24.0
MAX_REPORT_RETENTION_HOURS = 24.0 * 366
# The most connections the warmup function opens to each origin: the outbound pools' size (obo/msal_http.py,
# graph_http.py), so a warm connection is never closed for want of a place in its pool.
MAX_WARM_CONNECTIONS = 32

# Every setting the app understands; `/api/diagnostics` reports which are present (never their values).
KNOWN_SETTINGS = (
    "API_CLIENT_ID", "WEBSITE_AUTH_CLIENT_ID", "TENANT_ID", "WEBSITE_AUTH_OPENID_ISSUER", "AUTHORITY_HOST",
    "GRAPH_BASE_URL", "GRAPH_SCOPES", "REPORT_GRAPH_SCOPES", "API_SCOPE", "CLIENT_SECRET",
    "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET", "MANAGED_IDENTITY_CLIENT_ID", "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER", "CLIENT_CERTIFICATE_PATH", "CLIENT_CERTIFICATE_THUMBPRINT",
    "CLIENT_CERTIFICATE_PASSWORD", "ALLOWED_TENANTS", "WEBSITE_AUTH_AAD_ALLOWED_TENANTS",
    "ALLOWED_CLIENT_APPS", "USER_TOKEN_HEADER", "CA_BUNDLE", "SPA_CLIENT_ID", "DIAGNOSTICS_ENABLED",
    "TOKEN_CACHE", "REDIS_URL", "TOKEN_CACHE_KEYS", "PYTHON_SCRIPT_FILE_NAME", "ADMIN_CONSENT_REDIRECT_URI",
    "HTTPS_PROXY", "NO_PROXY",
    "SPA_SENDS_AUTHORIZATION",
    "REPORT_RETENTION_HOURS", "WARM_CONNECTIONS",
)
SECRET_SETTINGS = frozenset({
    "CLIENT_SECRET", "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET", "IDENTITY_HEADER",
    "CLIENT_CERTIFICATE_PASSWORD", "REDIS_URL", "TOKEN_CACHE_KEYS", "HTTPS_PROXY",
})

_HEADER_NAME_RE = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class Settings:
    api_client_id: str
    tenant_id: str
    authority_host: str
    graph_base_url: str
    graph_scopes: tuple[str, ...]
    report_graph_scopes: tuple[str, ...]
    api_scope: str
    credential: Credential | None
    allowed_tenants: tuple[str, ...]
    allowed_client_apps: tuple[str, ...] | None
    user_token_header: str
    ca_bundle: str | None
    spa_client_id: str | None
    diagnostics_enabled: bool
    token_cache: Literal["memory", "redis"]
    redis_url: str | None = field(repr=False)
    token_cache_keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    admin_consent_redirect_uri: str | None = None
    https_proxy: str | None = field(default=None, repr=False)  # may carry the proxy's credentials
    no_proxy: str | None = None
    # The SPA also puts the user's token in Authorization (published by /api/config): only for a front end
    # whose proxy forwards Authorization unchanged; a Static Web App replaces it.
    spa_sends_authorization: bool = False
    report_retention_seconds: float = DEFAULT_REPORT_RETENTION_HOURS * 3600
    # Connections the warmup function opens ahead of traffic, to the token endpoint and to Graph each: a burst
    # of first requests on a new instance then finds them ready instead of each paying a TLS handshake.
    warm_connections: int = 0

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def authority_netloc(self) -> str:
        return urlsplit(self.authority_host).netloc

    @property
    def tls_verify(self) -> str | bool:
        """`verify` for every outbound session; used with `trust_env = False` so REQUESTS_CA_BUNDLE can't win."""
        return self.ca_bundle or True

    @property
    def is_microsoft_authority(self) -> bool:
        host = urlsplit(self.authority_host).hostname or ""
        return host in _MICROSOFT_AUTHORITY_HOSTS

    @property
    def admin_consent_url(self) -> str:
        """Entra ID's admin-consent link for the API app. Entra answers AADSTS500113 without a reply URL the app
        registers, so the link names ADMIN_CONSENT_REDIRECT_URI (the SPA's origin, registered by infra/)."""
        url = f"{self.authority}/adminconsent?client_id={self.api_client_id}"
        if self.admin_consent_redirect_uri:
            url += "&redirect_uri=" + quote(self.admin_consent_redirect_uri, safe="")
        return url

    def require_credential(self) -> Credential:
        if self.credential is None:
            raise Misconfigured(
                "No credential for the API app: set CLIENT_SECRET, MANAGED_IDENTITY_CLIENT_ID (federated "
                "credential) or CLIENT_CERTIFICATE_PATH with CLIENT_CERTIFICATE_THUMBPRINT.",
                setting="CLIENT_SECRET")
        return self.credential


_MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
})


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build `Settings` from a mapping of app settings; raises `Misconfigured` naming the faulty setting."""
    api_client_id = guid(value_of(env, "API_CLIENT_ID", "WEBSITE_AUTH_CLIENT_ID"), "API_CLIENT_ID")

    issuer = value_of(env, "WEBSITE_AUTH_OPENID_ISSUER")
    issuer_host, issuer_tid = parse_issuer(issuer) if issuer else (None, None)
    tenant_setting = value_of(env, "TENANT_ID")
    tenant_id = guid(tenant_setting, "TENANT_ID") if tenant_setting else issuer_tid
    if tenant_id is None:
        raise Misconfigured("TENANT_ID (or WEBSITE_AUTH_OPENID_ISSUER) is required.", setting="TENANT_ID")
    if issuer_tid and issuer_tid != tenant_id:
        raise Misconfigured("TENANT_ID and WEBSITE_AUTH_OPENID_ISSUER name different tenants.", setting="TENANT_ID")

    authority_host = https_url(value_of(env, "AUTHORITY_HOST") or issuer_host or DEFAULT_AUTHORITY_HOST,
                                "AUTHORITY_HOST").lower()
    graph_base_url = https_url(value_of(env, "GRAPH_BASE_URL") or DEFAULT_GRAPH_BASE_URL, "GRAPH_BASE_URL")

    graph_scopes = listed(value_of(env, "GRAPH_SCOPES")) or DEFAULT_GRAPH_SCOPES
    report_scopes = listed(value_of(env, "REPORT_GRAPH_SCOPES")) or DEFAULT_REPORT_GRAPH_SCOPES
    reserved = {"openid", "profile", "offline_access"}
    for name, scopes in (("GRAPH_SCOPES", graph_scopes), ("REPORT_GRAPH_SCOPES", report_scopes)):
        if reserved & {s.lower() for s in scopes}:
            # MSAL adds these itself and raises ValueError when a caller passes them.
            raise Misconfigured(f"{name} must not list openid, profile or offline_access.", setting=name)

    api_scope = value_of(env, "API_SCOPE") or "user_impersonation"
    if " " in api_scope or "/" in api_scope:
        raise Misconfigured("API_SCOPE is the bare scope name, e.g. user_impersonation.", setting="API_SCOPE")

    allowed_tenants = tuple(guid(t, "ALLOWED_TENANTS") for t in
                            listed(value_of(env, "ALLOWED_TENANTS", "WEBSITE_AUTH_AAD_ALLOWED_TENANTS"))) or (tenant_id,)
    client_apps = tuple(guid(c, "ALLOWED_CLIENT_APPS") for c in listed(value_of(env, "ALLOWED_CLIENT_APPS")))

    header = value_of(env, "USER_TOKEN_HEADER") or DEFAULT_USER_TOKEN_HEADER
    if not _HEADER_NAME_RE.fullmatch(header):
        raise Misconfigured("USER_TOKEN_HEADER must be an HTTP header name.", setting="USER_TOKEN_HEADER")

    ca_bundle = value_of(env, "CA_BUNDLE")
    if ca_bundle:
        path = Path(ca_bundle).expanduser()
        if not path.is_absolute() and not path.is_file():
            path = APP_ROOT / path  # local settings name it relative to the app root (.localdev/certs/ca.pem)
        if not path.is_file():
            raise Misconfigured("CA_BUNDLE does not name a readable PEM file.", setting="CA_BUNDLE")
        ca_bundle = str(path.resolve())

    spa_client_id = value_of(env, "SPA_CLIENT_ID")
    if spa_client_id:
        spa_client_id = guid(spa_client_id, "SPA_CLIENT_ID")

    consent_redirect = value_of(env, "ADMIN_CONSENT_REDIRECT_URI")
    if consent_redirect is not None:
        consent_redirect = reply_url(consent_redirect, "ADMIN_CONSENT_REDIRECT_URI")

    # The usual proxy variables, read here because outbound sessions ignore the environment (http_sessions.py).
    https_proxy = value_of(env, "HTTPS_PROXY", "https_proxy")
    if https_proxy is not None:
        proxy = urlsplit(https_proxy)
        if proxy.scheme not in ("http", "https") or not proxy.hostname:
            raise Misconfigured("HTTPS_PROXY must be an http:// or https:// proxy URL.", setting="HTTPS_PROXY")
    no_proxy = value_of(env, "NO_PROXY", "no_proxy")

    cache_kind = (value_of(env, "TOKEN_CACHE") or "memory").lower()
    if cache_kind not in ("memory", "redis"):
        raise Misconfigured("TOKEN_CACHE must be memory or redis.", setting="TOKEN_CACHE")
    redis_url = value_of(env, "REDIS_URL")
    keys = token_cache_keys(value_of(env, "TOKEN_CACHE_KEYS"))
    if cache_kind == "redis":
        if not redis_url:
            raise Misconfigured("REDIS_URL is required when TOKEN_CACHE=redis.", setting="REDIS_URL")
        if not keys:
            raise Misconfigured("TOKEN_CACHE_KEYS is required when TOKEN_CACHE=redis.", setting="TOKEN_CACHE_KEYS")

    return Settings(
        api_client_id=api_client_id,
        tenant_id=tenant_id,
        authority_host=authority_host,
        graph_base_url=graph_base_url,
        graph_scopes=graph_scopes,
        report_graph_scopes=report_scopes,
        api_scope=api_scope,
        credential=credential(env),
        allowed_tenants=tuple(dict.fromkeys(allowed_tenants)),
        allowed_client_apps=client_apps or None,
        user_token_header=header,
        ca_bundle=ca_bundle,
        spa_client_id=spa_client_id,
        diagnostics_enabled=boolean(env, "DIAGNOSTICS_ENABLED", False),
        token_cache=cache_kind,  # type: ignore[arg-type]
        redis_url=redis_url,
        token_cache_keys=keys,
        admin_consent_redirect_uri=consent_redirect,
        https_proxy=https_proxy,
        no_proxy=no_proxy,
        spa_sends_authorization=boolean(env, "SPA_SENDS_AUTHORIZATION", False),
        report_retention_seconds=hours(env, "REPORT_RETENTION_HOURS", DEFAULT_REPORT_RETENTION_HOURS,
                                        MAX_REPORT_RETENTION_HOURS) * 3600,
        warm_connections=whole_number(env, "WARM_CONNECTIONS", 0, MAX_WARM_CONNECTIONS),
    )


def settings_presence() -> dict[str, bool]:
    """Which known settings are set (for diagnostics); never their values."""
    return {name: bool(os.environ.get(name, "").strip()) for name in KNOWN_SETTINGS}


def diagnostics_enabled() -> bool:
    """Read separately so `/api/diagnostics` can answer even while other settings are broken."""
    try:
        return boolean(os.environ, "DIAGNOSTICS_ENABLED", False)
    except Misconfigured:
        return False


def load_environment() -> Settings:
    """`Settings` from the process environment (the composition root, `services.py`, calls it once)."""
    return load_settings(os.environ)
