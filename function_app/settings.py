"""Application settings: read once from the environment into one frozen object.

This is the only module that reads `os.environ`. Nothing is read at import time: `load_environment()` reads
and validates when the services are first built (`services.py`), so a missing setting becomes a `misconfigured` problem naming the setting
instead of an import failure the Functions host would only show as "0 functions found".
"""
from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping
from urllib.parse import quote, urlsplit

from .errors import Misconfigured

# Always used with `fullmatch`: `$` also matches before a trailing newline, so `match` would take "<guid>\n".
GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")



def is_guid(value: object) -> bool:
    """A GUID in its 8-4-4-4-12 form and nothing else (no braces, no surrounding whitespace)."""
    return isinstance(value, str) and GUID_RE.fullmatch(value) is not None


APP_ROOT = Path(__file__).resolve().parent.parent  # the folder holding main.py and host.json
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_GRAPH_SCOPES = ("User.Read",)
DEFAULT_REPORT_GRAPH_SCOPES = ("User.Read", "User.ReadBasic.All", "GroupMember.Read.All")
DEFAULT_USER_TOKEN_HEADER = "X-User-Authorization"
# How long a finished report job's history (names, UPNs, group lists) stays in the task hub.
DEFAULT_REPORT_RETENTION_HOURS = 24.0
MAX_REPORT_RETENTION_HOURS = 24.0 * 366

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
    "REPORT_RETENTION_HOURS",
)
SECRET_SETTINGS = frozenset({
    "CLIENT_SECRET", "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET", "IDENTITY_HEADER",
    "CLIENT_CERTIFICATE_PASSWORD", "REDIS_URL", "TOKEN_CACHE_KEYS", "HTTPS_PROXY",
})

_V1_ISSUER_RE = re.compile(r"https://sts\.windows\.net/(?P<tid>[^/]+)/?", re.IGNORECASE)
_V2_ISSUER_RE = re.compile(r"(?P<host>https://[^/]+)/(?P<tid>[^/]+)/v2\.0/?", re.IGNORECASE)
_HEADER_NAME_RE = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class ClientSecret:
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ManagedIdentityAssertion:
    """Federated credential: a managed-identity token for `api://AzureADTokenExchange` is the client assertion."""
    client_id: str
    endpoint: str
    header: str = field(repr=False)


@dataclass(frozen=True)
class ClientCertificate:
    path: Path
    thumbprint: str
    password: str | None = field(default=None, repr=False)


Credential = ClientSecret | ManagedIdentityAssertion | ClientCertificate


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


def parse_issuer(issuer: str) -> tuple[str | None, str]:
    """Split an App Service `WEBSITE_AUTH_OPENID_ISSUER` into (authority host or None for v1, tenant id).

    Accepts `https://sts.windows.net/{tid}/` and `https://{host}/{tid}/v2.0`, trailing slash optional.
    """
    value = issuer.strip()
    if match := _V1_ISSUER_RE.fullmatch(value):
        host, tid = None, match["tid"]
    elif match := _V2_ISSUER_RE.fullmatch(value):
        host, tid = match["host"].lower(), match["tid"]
    else:
        raise Misconfigured(
            "WEBSITE_AUTH_OPENID_ISSUER must look like https://sts.windows.net/{tenant}/ or "
            "https://login.microsoftonline.com/{tenant}/v2.0.", setting="WEBSITE_AUTH_OPENID_ISSUER")
    if not is_guid(tid):
        raise Misconfigured("WEBSITE_AUTH_OPENID_ISSUER must name the tenant by its GUID.",
                            setting="WEBSITE_AUTH_OPENID_ISSUER")
    return host, tid.lower()


def _get(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _guid(value: str | None, setting: str) -> str:
    if value is None:
        raise Misconfigured(f"{setting} is required.", setting=setting)
    if not is_guid(value):
        raise Misconfigured(f"{setting} must be a GUID.", setting=setting)
    return value.lower()


def _https_url(value: str, setting: str) -> str:
    parts = urlsplit(value)
    # MSAL Python refuses non-https authorities, and tokens must never cross plain HTTP (docs/architecture.md, "Platform facts").
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise Misconfigured(f"{setting} must be an https URL without query or fragment.", setting=setting)
    return value.rstrip("/")


def _reply_url(value: str, setting: str) -> str:
    """A reply URL as Entra accepts one: https, or http on localhost only; no fragment."""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
    if not (parts.scheme == "https" or local) or not parts.netloc or parts.fragment:
        raise Misconfigured(f"{setting} must be an https URL (http only on localhost) without a fragment.",
                            setting=setting)
    return value


def _list(value: str | None, sep: str | None = None) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value.replace(",", " ").split() if sep is None else value.split(sep)
    return tuple(p.strip() for p in parts if p.strip())


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _get(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise Misconfigured(f"{name} must be true or false.", setting=name)


def _hours(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    value = _get(env, name)
    if value is None:
        return default
    try:
        hours = float(value)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= maximum:  # also false for NaN
        raise Misconfigured(f"{name} must be a number of hours above 0 and at most {maximum:g}.", setting=name)
    return hours


def _credential(env: Mapping[str, str]) -> Credential | None:
    secret = _get(env, "CLIENT_SECRET", "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET")
    mi_client_id = _get(env, "MANAGED_IDENTITY_CLIENT_ID")
    cert_path = _get(env, "CLIENT_CERTIFICATE_PATH")
    chosen = [name for name, value in (("CLIENT_SECRET", secret), ("MANAGED_IDENTITY_CLIENT_ID", mi_client_id),
                                       ("CLIENT_CERTIFICATE_PATH", cert_path)) if value]
    if len(chosen) > 1:
        raise Misconfigured(f"Set exactly one API credential; found {', '.join(chosen)}.", setting=chosen[1])
    if secret:
        return ClientSecret(secret)
    if mi_client_id:
        _guid(mi_client_id, "MANAGED_IDENTITY_CLIENT_ID")
        endpoint = _get(env, "IDENTITY_ENDPOINT")
        header = _get(env, "IDENTITY_HEADER")
        if not endpoint:
            raise Misconfigured("MANAGED_IDENTITY_CLIENT_ID is set but the platform provides no IDENTITY_ENDPOINT "
                                "(is a managed identity assigned to the app?).", setting="IDENTITY_ENDPOINT")
        if not header:
            raise Misconfigured("IDENTITY_ENDPOINT is set without IDENTITY_HEADER.", setting="IDENTITY_HEADER")
        return ManagedIdentityAssertion(client_id=mi_client_id.lower(), endpoint=endpoint, header=header)
    if cert_path:
        thumbprint = _get(env, "CLIENT_CERTIFICATE_THUMBPRINT")
        if not thumbprint or not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint.replace(":", "")):
            raise Misconfigured("CLIENT_CERTIFICATE_THUMBPRINT (SHA-1, 40 hex digits) is required with "
                                "CLIENT_CERTIFICATE_PATH.", setting="CLIENT_CERTIFICATE_THUMBPRINT")
        path = Path(cert_path)
        if not path.is_file():
            raise Misconfigured("CLIENT_CERTIFICATE_PATH does not name a readable PEM file.",
                                setting="CLIENT_CERTIFICATE_PATH")
        return ClientCertificate(path=path, thumbprint=thumbprint.replace(":", "").upper(),
                                 password=_get(env, "CLIENT_CERTIFICATE_PASSWORD"))
    return None


def _token_cache_keys(value: str | None) -> tuple[tuple[str, bytes], ...]:
    keys: list[tuple[str, bytes]] = []
    for item in _list(value, sep=","):
        kid, sep, encoded = item.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True) if sep else b""
        except (binascii.Error, ValueError):
            key = b""
        if not kid or len(key) not in (16, 24, 32):
            raise Misconfigured("TOKEN_CACHE_KEYS must be 'kid:base64key,...' with 128/192/256-bit keys.",
                                setting="TOKEN_CACHE_KEYS")
        keys.append((kid, key))
    return tuple(keys)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build `Settings` from a mapping of app settings; raises `Misconfigured` naming the faulty setting."""
    api_client_id = _guid(_get(env, "API_CLIENT_ID", "WEBSITE_AUTH_CLIENT_ID"), "API_CLIENT_ID")

    issuer = _get(env, "WEBSITE_AUTH_OPENID_ISSUER")
    issuer_host, issuer_tid = parse_issuer(issuer) if issuer else (None, None)
    tenant_setting = _get(env, "TENANT_ID")
    tenant_id = _guid(tenant_setting, "TENANT_ID") if tenant_setting else issuer_tid
    if tenant_id is None:
        raise Misconfigured("TENANT_ID (or WEBSITE_AUTH_OPENID_ISSUER) is required.", setting="TENANT_ID")
    if issuer_tid and issuer_tid != tenant_id:
        raise Misconfigured("TENANT_ID and WEBSITE_AUTH_OPENID_ISSUER name different tenants.", setting="TENANT_ID")

    authority_host = _https_url(_get(env, "AUTHORITY_HOST") or issuer_host or DEFAULT_AUTHORITY_HOST,
                                "AUTHORITY_HOST").lower()
    graph_base_url = _https_url(_get(env, "GRAPH_BASE_URL") or DEFAULT_GRAPH_BASE_URL, "GRAPH_BASE_URL")

    graph_scopes = _list(_get(env, "GRAPH_SCOPES")) or DEFAULT_GRAPH_SCOPES
    report_scopes = _list(_get(env, "REPORT_GRAPH_SCOPES")) or DEFAULT_REPORT_GRAPH_SCOPES
    reserved = {"openid", "profile", "offline_access"}
    for name, scopes in (("GRAPH_SCOPES", graph_scopes), ("REPORT_GRAPH_SCOPES", report_scopes)):
        if reserved & {s.lower() for s in scopes}:
            # MSAL adds these itself and raises ValueError when a caller passes them.
            raise Misconfigured(f"{name} must not list openid, profile or offline_access.", setting=name)

    api_scope = _get(env, "API_SCOPE") or "user_impersonation"
    if " " in api_scope or "/" in api_scope:
        raise Misconfigured("API_SCOPE is the bare scope name, e.g. user_impersonation.", setting="API_SCOPE")

    allowed_tenants = tuple(_guid(t, "ALLOWED_TENANTS") for t in
                            _list(_get(env, "ALLOWED_TENANTS", "WEBSITE_AUTH_AAD_ALLOWED_TENANTS"))) or (tenant_id,)
    client_apps = tuple(_guid(c, "ALLOWED_CLIENT_APPS") for c in _list(_get(env, "ALLOWED_CLIENT_APPS")))

    header = _get(env, "USER_TOKEN_HEADER") or DEFAULT_USER_TOKEN_HEADER
    if not _HEADER_NAME_RE.fullmatch(header):
        raise Misconfigured("USER_TOKEN_HEADER must be an HTTP header name.", setting="USER_TOKEN_HEADER")

    ca_bundle = _get(env, "CA_BUNDLE")
    if ca_bundle:
        path = Path(ca_bundle).expanduser()
        if not path.is_absolute() and not path.is_file():
            path = APP_ROOT / path  # local settings name it relative to the app root (.localdev/certs/ca.pem)
        if not path.is_file():
            raise Misconfigured("CA_BUNDLE does not name a readable PEM file.", setting="CA_BUNDLE")
        ca_bundle = str(path.resolve())

    spa_client_id = _get(env, "SPA_CLIENT_ID")
    if spa_client_id:
        spa_client_id = _guid(spa_client_id, "SPA_CLIENT_ID")

    consent_redirect = _get(env, "ADMIN_CONSENT_REDIRECT_URI")
    if consent_redirect is not None:
        consent_redirect = _reply_url(consent_redirect, "ADMIN_CONSENT_REDIRECT_URI")

    # The usual proxy variables, read here because outbound sessions ignore the environment (http_sessions.py).
    https_proxy = _get(env, "HTTPS_PROXY", "https_proxy")
    if https_proxy is not None:
        proxy = urlsplit(https_proxy)
        if proxy.scheme not in ("http", "https") or not proxy.hostname:
            raise Misconfigured("HTTPS_PROXY must be an http:// or https:// proxy URL.", setting="HTTPS_PROXY")
    no_proxy = _get(env, "NO_PROXY", "no_proxy")

    cache_kind = (_get(env, "TOKEN_CACHE") or "memory").lower()
    if cache_kind not in ("memory", "redis"):
        raise Misconfigured("TOKEN_CACHE must be memory or redis.", setting="TOKEN_CACHE")
    redis_url = _get(env, "REDIS_URL")
    keys = _token_cache_keys(_get(env, "TOKEN_CACHE_KEYS"))
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
        credential=_credential(env),
        allowed_tenants=tuple(dict.fromkeys(allowed_tenants)),
        allowed_client_apps=client_apps or None,
        user_token_header=header,
        ca_bundle=ca_bundle,
        spa_client_id=spa_client_id,
        diagnostics_enabled=_bool(env, "DIAGNOSTICS_ENABLED", False),
        token_cache=cache_kind,  # type: ignore[arg-type]
        redis_url=redis_url,
        token_cache_keys=keys,
        admin_consent_redirect_uri=consent_redirect,
        https_proxy=https_proxy,
        no_proxy=no_proxy,
        spa_sends_authorization=_bool(env, "SPA_SENDS_AUTHORIZATION", False),
        report_retention_seconds=_hours(env, "REPORT_RETENTION_HOURS", DEFAULT_REPORT_RETENTION_HOURS,
                                        MAX_REPORT_RETENTION_HOURS) * 3600,
    )


def settings_presence() -> dict[str, bool]:
    """Which known settings are set (for diagnostics); never their values."""
    return {name: bool(os.environ.get(name, "").strip()) for name in KNOWN_SETTINGS}


def diagnostics_enabled() -> bool:
    """Read separately so `/api/diagnostics` can answer even while other settings are broken."""
    try:
        return _bool(os.environ, "DIAGNOSTICS_ENABLED", False)
    except Misconfigured:
        return False


def load_environment() -> Settings:
    """`Settings` from the process environment (the composition root, `services.py`, calls it once)."""
    return load_settings(os.environ)
