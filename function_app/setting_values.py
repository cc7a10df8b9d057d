"""How one setting's value is read and checked: GUIDs, URLs, lists, booleans, durations, the credential, the
token cache keys. `settings.load_settings` decides which settings exist; every reader here raises
`Misconfigured` naming the setting, never quoting its value."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .errors import Misconfigured

# Always used with `fullmatch`: `$` also matches before a trailing newline, so `match` would take "<guid>\n".
GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")



def is_guid(value: object) -> bool:
    """A GUID in its 8-4-4-4-12 form and nothing else (no braces, no surrounding whitespace)."""
    return isinstance(value, str) and GUID_RE.fullmatch(value) is not None



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



_V1_ISSUER_RE = re.compile(r"https://sts\.windows\.net/(?P<tid>[^/]+)/?", re.IGNORECASE)
_V2_ISSUER_RE = re.compile(r"(?P<host>https://[^/]+)/(?P<tid>[^/]+)/v2\.0/?", re.IGNORECASE)


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


def value_of(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def guid(value: str | None, setting: str) -> str:
    if value is None:
        raise Misconfigured(f"{setting} is required.", setting=setting)
    if not is_guid(value):
        raise Misconfigured(f"{setting} must be a GUID.", setting=setting)
    return value.lower()


def https_url(value: str, setting: str) -> str:
    parts = urlsplit(value)
    # MSAL Python refuses non-https authorities, and tokens must never cross plain HTTP (docs/architecture.md, "Platform facts").
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise Misconfigured(f"{setting} must be an https URL without query or fragment.", setting=setting)
    return value.rstrip("/")


def reply_url(value: str, setting: str) -> str:
    """A reply URL as Entra accepts one: https, or http on localhost only; no fragment."""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
    if not (parts.scheme == "https" or local) or not parts.netloc or parts.fragment:
        raise Misconfigured(f"{setting} must be an https URL (http only on localhost) without a fragment.",
                            setting=setting)
    return value


def listed(value: str | None, sep: str | None = None) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value.replace(",", " ").split() if sep is None else value.split(sep)
    return tuple(p.strip() for p in parts if p.strip())


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = value_of(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise Misconfigured(f"{name} must be true or false.", setting=name)


def hours(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    value = value_of(env, name)
    if value is None:
        return default
    try:
        hours = float(value)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= maximum:  # also false for NaN
        raise Misconfigured(f"{name} must be a number of hours above 0 and at most {maximum:g}.", setting=name)
    return hours


def whole_number(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    value = value_of(env, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > maximum:  # no sign, decimals or spaces
        raise Misconfigured(f"{name} must be a whole number from 0 to {maximum}.", setting=name)
    return int(value)


def credential(env: Mapping[str, str]) -> Credential | None:
    secret = value_of(env, "CLIENT_SECRET", "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET")
    mi_client_id = value_of(env, "MANAGED_IDENTITY_CLIENT_ID")
    cert_path = value_of(env, "CLIENT_CERTIFICATE_PATH")
    chosen = [name for name, value in (("CLIENT_SECRET", secret), ("MANAGED_IDENTITY_CLIENT_ID", mi_client_id),
                                       ("CLIENT_CERTIFICATE_PATH", cert_path)) if value]
    if len(chosen) > 1:
        raise Misconfigured(f"Set exactly one API credential; found {', '.join(chosen)}.", setting=chosen[1])
    if secret:
        return ClientSecret(secret)
    if mi_client_id:
        guid(mi_client_id, "MANAGED_IDENTITY_CLIENT_ID")
        endpoint = value_of(env, "IDENTITY_ENDPOINT")
        header = value_of(env, "IDENTITY_HEADER")
        if not endpoint:
            raise Misconfigured("MANAGED_IDENTITY_CLIENT_ID is set but the platform provides no IDENTITY_ENDPOINT "
                                "(is a managed identity assigned to the app?).", setting="IDENTITY_ENDPOINT")
        if not header:
            raise Misconfigured("IDENTITY_ENDPOINT is set without IDENTITY_HEADER.", setting="IDENTITY_HEADER")
        return ManagedIdentityAssertion(client_id=mi_client_id.lower(), endpoint=endpoint, header=header)
    if cert_path:
        thumbprint = value_of(env, "CLIENT_CERTIFICATE_THUMBPRINT")
        if not thumbprint or not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint.replace(":", "")):
            raise Misconfigured("CLIENT_CERTIFICATE_THUMBPRINT (SHA-1, 40 hex digits) is required with "
                                "CLIENT_CERTIFICATE_PATH.", setting="CLIENT_CERTIFICATE_THUMBPRINT")
        path = Path(cert_path)
        if not path.is_file():
            raise Misconfigured("CLIENT_CERTIFICATE_PATH does not name a readable PEM file.",
                                setting="CLIENT_CERTIFICATE_PATH")
        return ClientCertificate(path=path, thumbprint=thumbprint.replace(":", "").upper(),
                                 password=value_of(env, "CLIENT_CERTIFICATE_PASSWORD"))
    return None


def token_cache_keys(value: str | None) -> tuple[tuple[str, bytes], ...]:
    keys: list[tuple[str, bytes]] = []
    for item in listed(value, sep=","):
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
