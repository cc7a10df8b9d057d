"""Delegated-permission and app-role grants (Entra's oauth2PermissionGrants and appRoleAssignments).

A grant is keyed by (client app id, resource app id) and is either tenant-wide (admin consent) or
for one user. A user's effective consent is the union of both.
"""
from __future__ import annotations

import threading
from collections import defaultdict

from localdev.emulator.tenant import Tenant

TENANT_WIDE = "*"


class ConsentStore:
    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            # (client_id, resource_app_id) -> principal ("*" or user oid) -> scopes
            self._scopes: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(dict)
            self._roles: dict[tuple[str, str], set[str]] = defaultdict(set)
        for app in self._tenant.apps:
            for key, grant in app.admin_consent.items():
                resource = self._tenant.resources.get(key)
                if resource:
                    self.grant(app.client_id, resource.app_id, grant.get("scopes", []))
                    self.grant_roles(app.client_id, resource.app_id, grant.get("roles", []))

    def grant(self, client_id: str, resource_app_id: str, scopes: list[str] | set[str],
              user_oid: str | None = None) -> None:
        with self._lock:
            slot = self._scopes[(client_id.lower(), resource_app_id.lower())]
            slot.setdefault(user_oid.lower() if user_oid else TENANT_WIDE, set()).update(scopes)

    def revoke(self, client_id: str, resource_app_id: str, scopes: list[str] | None,
               user_oid: str | None = None) -> None:
        """Remove scopes (all if None). Without a user, revokes tenant-wide *and* every user's grant."""
        with self._lock:
            slot = self._scopes.get((client_id.lower(), resource_app_id.lower()), {})
            principals = [user_oid.lower()] if user_oid else list(slot)
            for principal in principals:
                if principal in slot:
                    if scopes is None:
                        slot[principal].clear()
                    else:
                        slot[principal].difference_update(scopes)

    def grant_roles(self, client_id: str, resource_app_id: str, roles: list[str]) -> None:
        with self._lock:
            self._roles[(client_id.lower(), resource_app_id.lower())].update(roles)

    def revoke_roles(self, client_id: str, resource_app_id: str, roles: list[str] | None) -> None:
        """Remove application permissions (all if None)."""
        with self._lock:
            granted = self._roles.get((client_id.lower(), resource_app_id.lower()))
            if granted is not None:
                granted.clear() if roles is None else granted.difference_update(roles)

    def scopes(self, client_id: str, resource_app_id: str, user_oid: str | None) -> set[str]:
        with self._lock:
            slot = self._scopes.get((client_id.lower(), resource_app_id.lower()), {})
            result = set(slot.get(TENANT_WIDE, ()))
            if user_oid:
                result |= slot.get(user_oid.lower(), set())
            return result

    def roles(self, client_id: str, resource_app_id: str) -> set[str]:
        with self._lock:
            return set(self._roles.get((client_id.lower(), resource_app_id.lower()), ()))

    def has_scopes(self, client_id: str, resource_app_id: str, user_oid: str | None, wanted: set[str]) -> bool:
        granted = {s.lower() for s in self.scopes(client_id, resource_app_id, user_oid)}
        return {s.lower() for s in wanted} <= granted
