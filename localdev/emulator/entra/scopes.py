"""Parse a `scope` parameter the way Entra's v2 endpoint does.

`api://{id}/user_impersonation`, `{appId}/user_impersonation`, `https://graph.microsoft.com/User.Read`,
bare `User.Read` (a Graph permission), `{resource}/.default`, and the OpenID Connect scopes.
One request names at most one resource.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from localdev.emulator.entra.errors import OAuthError
from localdev.emulator.tenant import OIDC_SCOPES, Resource, Tenant


@dataclass
class ScopeRequest:
    resource: Resource | None
    scopes: list[str] = field(default_factory=list)  # canonical permission names on `resource`
    default: bool = False  # `{resource}/.default`
    oidc: set[str] = field(default_factory=set)

    @property
    def wants_refresh_token(self) -> bool:
        return "offline_access" in self.oidc

    @property
    def wants_id_token(self) -> bool:
        return "openid" in self.oidc


def _canonical(resource: Resource, name: str, raw: str) -> str:
    for scope in resource.scopes:
        if scope.lower() == name.lower():
            return scope
    raise OAuthError(70011, f"The provided value for the input parameter 'scope' is not valid. "
                            f"The scope '{raw}' does not exist on the resource '{resource.identifier_uri}'.",
                     error="invalid_scope")


def parse_scopes(tenant: Tenant, raw: str | None, *, required: bool = True) -> ScopeRequest:
    items = (raw or "").split()
    if not items:
        if required:
            raise OAuthError(70011, "The provided request must include a 'scope' input parameter.",
                             error="invalid_scope")
        return ScopeRequest(None)
    graph = tenant.resources["graph"]
    resource: Resource | None = None
    names: list[str] = []
    default = False
    oidc: set[str] = set()

    def pick(found: Resource) -> None:
        nonlocal resource
        if resource is not None and resource.app_id != found.app_id:
            raise OAuthError(28000, "Provided value for the input parameter scope is not valid because it "
                                    "contains more than one resource. "
                                    f"Scope {raw} is not valid.", error="invalid_scope")
        resource = found

    for item in items:
        lowered = item.lower()
        if lowered in OIDC_SCOPES:
            oidc.add(lowered)
            continue
        if lowered.endswith("/.default"):
            prefix = item[: -len("/.default")]
            found = tenant.find_resource(prefix)
            if found is None:
                raise OAuthError(500011, f"The resource principal named {prefix} was not found in the tenant "
                                         f"named {tenant.display_name}. This can happen if the application has "
                                         "not been installed by the administrator of the tenant or consented "
                                         "to by any user in the tenant.")
            pick(found)
            default = True
            continue
        matched = False
        for candidate in tenant.resources.values():
            for prefix in candidate.scope_prefixes():
                if lowered.startswith(prefix.lower()):
                    pick(candidate)
                    names.append(_canonical(candidate, item[len(prefix):], item))
                    matched = True
                    break
            if matched:
                break
        if matched:
            continue
        if "/" in item:
            raise OAuthError(500011, f"The resource principal named {item.rsplit('/', 1)[0]} was not found in "
                                     f"the tenant named {tenant.display_name}.")
        pick(graph)
        names.append(_canonical(graph, item, item))
    if default and names:
        raise OAuthError(70011, f"The provided value for the input parameter 'scope' is not valid. The scope "
                                f"'{raw}' combines '.default' with other scopes of the same resource.",
                         error="invalid_scope")
    return ScopeRequest(resource, sorted(set(names), key=names.index), default, oidc)
