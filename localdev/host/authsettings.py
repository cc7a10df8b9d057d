"""Load `infra/auth/authsettings.json` (the authsettingsV2 `properties` infra deploys) for the local host.

Bicep replaces the `{{...}}` placeholders with deployment values; here they come from the app settings:
`{{API_CLIENT_ID}}`, `{{SPA_CLIENT_ID}}`, `{{ISSUER}}` (`{AUTHORITY_HOST}/{TENANT_ID}/v2.0`, the v2 issuer the
emulator publishes) and `{{SWA_CLIENT_ID}}` (the `azureStaticWebApps` provider's client id: the Static Web App's
host name, which locally is the SWA CLI's `localhost:<port>`; `make run` sets SWA_CLIENT_ID, and without it the
default port's value is used). Any other placeholder is read from the environment by name, and one left without
a value is an error rather than a silently open door.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from function_app.errors import Misconfigured
from function_app.settings import load_settings

LOCAL_SWA_CLIENT_ID = "localhost:4280"  # the SWA CLI on its default port
ACTIONS = ("RedirectToLoginPage", "AllowAnonymous", "Return401", "Return403")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class AuthSettingsError(ValueError):
    """The auth settings cannot be used as they are."""


def placeholder_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The placeholders' values, from the product's own settings (as read by `function_app.settings`): the auth
    settings describe the same app registrations, so they must not read those settings a second way. With
    broken product settings none is known, and `substitute` names the placeholders left without a value."""
    values: dict[str, str] = {"SWA_CLIENT_ID": environ.get("SWA_CLIENT_ID") or LOCAL_SWA_CLIENT_ID}
    try:
        settings = load_settings(environ)
    except Misconfigured:
        return values
    values.update({"API_CLIENT_ID": settings.api_client_id, "ISSUER": f"{settings.authority}/v2.0"})
    if settings.spa_client_id:
        values["SPA_CLIENT_ID"] = settings.spa_client_id
    return values


def substitute(text: str, environ: Mapping[str, str]) -> str:
    known = placeholder_values(environ)
    missing: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = known.get(name) or environ.get(name)
        if not value:
            missing.add(name)
            return match.group(0)
        # The value lands inside a JSON string: escape it as JSON would.
        return json.dumps(value)[1:-1]

    result = _PLACEHOLDER.sub(replace, text)
    if missing:
        needed = ", ".join(sorted("TENANT_ID" if m == "ISSUER" else m for m in missing))
        raise AuthSettingsError(f"auth settings need values for: {needed} (set them in the environment or "
                                f"local settings, or run with --no-auth)")
    return result


@dataclass(frozen=True)
class AuthSettings:
    """The authsettingsV2 properties the local emulation honours."""

    enabled: bool
    require_authentication: bool
    unauthenticated_action: str
    excluded_paths: tuple[str, ...]
    aad_enabled: bool
    issuer: str
    client_id: str
    allowed_audiences: tuple[str, ...]
    allowed_applications: tuple[str, ...]
    allowed_identities: tuple[str, ...]
    # The `azureStaticWebApps` provider: the platform token of the linked Static Web App (static_web_apps.py).
    swa_enabled: bool = False
    swa_client_id: str = ""
    allowed_external_redirect_urls: tuple[str, ...] = ()

    @property
    def tenant_id(self) -> str:
        parts = [p for p in urlsplit(self.issuer).path.split("/") if p]
        return parts[0] if parts else ""

    @property
    def authority_host(self) -> str:
        split = urlsplit(self.issuer)
        return f"{split.scheme}://{split.netloc}"

    @property
    def accepted_issuers(self) -> tuple[str, ...]:
        """The v2 issuer as configured and the v1 form Entra uses for the same tenant."""
        v2 = self.issuer.rstrip("/")
        return (v2, v2 + "/", f"https://sts.windows.net/{self.tenant_id}/")

    @property
    def audiences(self) -> tuple[str, ...]:
        # App Service always treats the registration's client id as an allowed audience.
        return tuple(dict.fromkeys((*self.allowed_audiences, self.client_id)))

    def is_excluded(self, path: str) -> bool:
        lowered = path.rstrip("/").lower() or "/"
        for excluded in self.excluded_paths:
            pattern = excluded.rstrip("/").lower() or "/"
            if pattern.endswith("*"):
                if lowered.startswith(pattern[:-1]):
                    return True
            elif lowered == pattern:
                return True
        return False

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> "AuthSettings":
        platform = document.get("platform") or {}
        global_validation = document.get("globalValidation") or {}
        providers = document.get("identityProviders") or {}
        aad = providers.get("azureActiveDirectory") or {}
        registration = aad.get("registration") or {}
        validation = aad.get("validation") or {}
        policy = validation.get("defaultAuthorizationPolicy") or {}
        claim_checks = validation.get("jwtClaimChecks") or {}
        principals = policy.get("allowedPrincipals") or {}
        action = global_validation.get("unauthenticatedClientAction") or "RedirectToLoginPage"
        if action not in ACTIONS:
            raise AuthSettingsError(f"unknown unauthenticatedClientAction {action!r}")
        aad_enabled = bool(aad.get("enabled", bool(aad)))
        issuer = str(registration.get("openIdIssuer") or "")
        client_id = str(registration.get("clientId") or "")
        if aad_enabled and (not issuer or not client_id):
            raise AuthSettingsError("azureActiveDirectory needs registration.openIdIssuer and clientId")
        swa = providers.get("azureStaticWebApps") or {}
        swa_enabled = bool(swa.get("enabled", bool(swa)))
        swa_client_id = str((swa.get("registration") or {}).get("clientId") or "")
        if swa_enabled and not swa_client_id:
            raise AuthSettingsError("azureStaticWebApps needs registration.clientId (the Static Web App's host name)")
        login = document.get("login") or {}
        applications = [*(policy.get("allowedApplications") or []),
                        *(claim_checks.get("allowedClientApplications") or [])]
        return cls(
            enabled=bool(platform.get("enabled", False)),
            require_authentication=bool(global_validation.get("requireAuthentication", False)),
            unauthenticated_action=action,
            excluded_paths=tuple(global_validation.get("excludedPaths") or ()),
            aad_enabled=aad_enabled,
            issuer=issuer,
            client_id=client_id,
            allowed_audiences=tuple(validation.get("allowedAudiences") or ()),
            allowed_applications=tuple(dict.fromkeys(applications)),
            allowed_identities=tuple(principals.get("identities") or ()),
            swa_enabled=swa_enabled,
            swa_client_id=swa_client_id,
            allowed_external_redirect_urls=tuple(str(u) for u in login.get("allowedExternalRedirectUrls") or ()),
        )

    @classmethod
    def load(cls, path: Path, environ: Mapping[str, str]) -> "AuthSettings":
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthSettingsError(f"cannot read auth settings {path}: {exc}") from exc
        try:
            document = json.loads(substitute(text, environ))
        except json.JSONDecodeError as exc:
            raise AuthSettingsError(f"{path} is not valid JSON: {exc}") from exc
        # Accept the bare properties object (what the repo holds) or a full resource with `properties`.
        if isinstance(document, dict) and "properties" in document and "globalValidation" not in document:
            document = document["properties"]
        if not isinstance(document, dict):
            raise AuthSettingsError(f"{path} must hold a JSON object")
        return cls.from_document(document)
