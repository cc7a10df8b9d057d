"""The seeded directory: users, groups, app registrations, resources and Conditional Access policies.

Parsed once at start-up into lookup tables so request handlers never re-read the seed file.
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).with_name("seed") / "tenant.json"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
# OpenID Connect scopes are Graph permissions in Entra, but they never pick the token's resource.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


@dataclass(frozen=True)
class Resource:
    """Something an access token can be for: the seeded `api` app or Microsoft Graph."""
    key: str  # seed name: "graph", "api", ...
    app_id: str
    identifier_uri: str
    display_name: str
    token_version: int
    scopes: frozenset[str]
    app_roles: frozenset[str]

    def scope_prefixes(self) -> tuple[str, ...]:
        return (self.identifier_uri.rstrip("/") + "/", self.app_id + "/")


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential on an app registration: a token from `issuer` about `subject`,
    for one of `audiences`, is accepted as the app's client assertion. `{issuer_v2}` in the seed stands for
    this tenant's v2 issuer on the emulator's own URL (a managed identity's token comes from there)."""
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class ManagedIdentity:
    """A user-assigned managed identity: its tokens are app-only, `sub` = `oid` = the principal id."""
    name: str
    display_name: str
    client_id: str
    principal_id: str


@dataclass
class App:
    """An app registration (client). `kind` is spa | api | daemon."""
    name: str
    kind: str
    client_id: str
    display_name: str
    client_secret: str | None
    has_certificate: bool
    identifier_uri: str | None
    scopes: list[str]
    spa_redirect_uris: list[str]
    web_redirect_uris: list[str]
    known_client_apps: list[str]
    token_version: int
    required_access: dict[str, dict[str, list[str]]]  # resource key -> {"scopes": [...], "roles": [...]}
    admin_consent: dict[str, dict[str, list[str]]]
    app_roles: list[str] = field(default_factory=list)
    service_principal_id: str = ""
    federated_credentials: list[FederatedCredential] = field(default_factory=list)

    @property
    def is_public(self) -> bool:
        return self.kind == "spa"

    @property
    def is_confidential(self) -> bool:
        return self.client_secret is not None or self.has_certificate


@dataclass(frozen=True)
class CaPolicy:
    id: str
    display_name: str
    users: frozenset[str]  # lower-cased UPNs or oids
    resources: frozenset[str]  # resource keys
    grant_controls: frozenset[str]


@dataclass
class Tenant:
    tenant_id: str
    display_name: str
    domain: str
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    apps: list[App]
    resources: dict[str, Resource]
    policies: list[CaPolicy]
    lifetime_minutes: tuple[int, int]
    managed_identities: list[ManagedIdentity] = field(default_factory=list)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    _users_by_key: dict[str, dict[str, Any]] = field(init=False, repr=False)
    _apps_by_key: dict[str, App] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._users_by_key = {}
        for user in self.users:
            self._users_by_key[user["id"].lower()] = user
            self._users_by_key[user["userPrincipalName"].lower()] = user
        self._apps_by_key = {}
        for app in self.apps:
            self._apps_by_key[app.client_id.lower()] = app
            self._apps_by_key[app.name.lower()] = app
            if app.identifier_uri:
                self._apps_by_key[app.identifier_uri.lower().rstrip("/")] = app

    def find_user(self, key: str) -> dict[str, Any] | None:
        """By object id or userPrincipalName (case-insensitive)."""
        return self._users_by_key.get(str(key).strip().lower()) if key else None

    def find_app(self, key: str) -> App | None:
        """By client id, seed name or identifier URI."""
        return self._apps_by_key.get(str(key).strip().lower().rstrip("/")) if key else None

    def find_managed_identity(self, key: str) -> ManagedIdentity | None:
        """By seed name, client id or principal id (case-insensitive)."""
        wanted = str(key).strip().lower()
        return next((m for m in self.managed_identities if wanted in (m.name.lower(), m.client_id, m.principal_id)),
                    None)

    def find_resource(self, key: str) -> Resource | None:
        """By app id, identifier URI (with or without trailing slash) or seed name."""
        wanted = str(key).strip().lower().rstrip("/")
        for resource in self.resources.values():
            if wanted in (resource.app_id.lower(), resource.identifier_uri.lower().rstrip("/"), resource.key):
                return resource
        return None

    def resource_of_app(self, app: App) -> Resource | None:
        return self.resources.get(app.name)

    def policies_for(self, user: dict[str, Any], resource: Resource) -> list[CaPolicy]:
        keys = {user["id"].lower(), user["userPrincipalName"].lower()}
        return [p for p in self.policies if p.users & keys and resource.key in p.resources]

    def knows_tenant(self, segment: str) -> bool:
        """Tenant path segment: our GUID, our domain, `common` or `organizations`."""
        return segment.lower() in (self.tenant_id, self.domain.lower(), "common", "organizations")


def _access_map(entries: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    result: dict[str, dict[str, list[str]]] = {}
    for entry in entries or []:
        slot = result.setdefault(entry["resource"], {"scopes": [], "roles": []})
        slot["scopes"] += entry.get("scopes", [])
        slot["roles"] += entry.get("roles", [])
    return result


def _service_principal_id(tenant_id: str, client_id: str) -> str:
    # Stable per tenant so app-only tokens carry the same oid across restarts, as in Entra.
    return str(uuid.uuid5(uuid.UUID(tenant_id), "sp:" + client_id))


def parse_tenant(data: dict[str, Any]) -> Tenant:
    data = copy.deepcopy(data)
    tenant_id = data["tenant"]["id"].lower()
    apps: list[App] = []
    for raw in data["apps"]:
        redirects = raw.get("redirectUris", {})
        apps.append(App(
            name=raw["name"], kind=raw["kind"], client_id=raw["clientId"].lower(),
            display_name=raw.get("displayName", raw["name"]),
            client_secret=raw.get("clientSecret"), has_certificate=bool(raw.get("certificate")),
            identifier_uri=raw.get("identifierUri"), scopes=list(raw.get("scopes", [])),
            spa_redirect_uris=list(redirects.get("spa", [])), web_redirect_uris=list(redirects.get("web", [])),
            known_client_apps=[c.lower() for c in raw.get("knownClientApplications", [])],
            token_version=int(raw.get("accessTokenVersion", 2)),
            required_access=_access_map(raw.get("requiredResourceAccess", [])),
            admin_consent=_access_map(raw.get("adminConsent", [])),
            app_roles=list(raw.get("appRoles", [])),
            service_principal_id=_service_principal_id(tenant_id, raw["clientId"].lower()),
            federated_credentials=[FederatedCredential(f["name"], f["issuer"], f["subject"],
                                                       tuple(f.get("audiences", [])))
                                   for f in raw.get("federatedIdentityCredentials", [])],
        ))
    resources: dict[str, Resource] = {}
    for key, raw in data.get("resources", {}).items():
        resources[key] = Resource(key, raw["appId"].lower(), raw["identifierUri"], raw.get("displayName", key),
                                  int(raw.get("accessTokenVersion", 1)), frozenset(raw.get("delegatedScopes", [])),
                                  frozenset(raw.get("appRoles", [])))
    for app in apps:
        if app.identifier_uri:
            resources[app.name] = Resource(app.name, app.client_id, app.identifier_uri, app.display_name,
                                           app.token_version, frozenset(app.scopes),
                                           frozenset(app.app_roles))
    policies = [CaPolicy(p["id"], p.get("displayName", p["id"]), frozenset(u.lower() for u in p.get("users", [])),
                         frozenset(p.get("resources", [])), frozenset(p.get("grantControls", [])))
                for p in data.get("conditionalAccessPolicies", [])]
    identities = [ManagedIdentity(m["name"], m.get("displayName", m["name"]), m["clientId"].lower(),
                                  m["principalId"].lower()) for m in data.get("managedIdentities", [])]
    lifetime = data.get("tokenLifetimeMinutes", {})
    return Tenant(tenant_id=tenant_id, display_name=data["tenant"].get("displayName", ""),
                  domain=data["tenant"].get("domain", ""), users=data["users"], groups=data.get("groups", []),
                  apps=apps, resources=resources, policies=policies,
                  lifetime_minutes=(int(lifetime.get("min", 60)), int(lifetime.get("max", 90))),
                  managed_identities=identities, raw=data)


def load_tenant(path: Path | None = None) -> Tenant:
    with open(path or SEED_FILE, encoding="utf-8") as handle:
        return parse_tenant(json.load(handle))
