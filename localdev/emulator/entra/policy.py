"""Consent and Conditional Access decisions shared by /authorize and /token."""
from __future__ import annotations

import json
from typing import Any

from localdev.emulator.entra.claims_request import parse_claims_lenient
from localdev.emulator.entra.errors import OAuthError
from localdev.emulator.entra.scopes import ScopeRequest
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App, Resource


def target_resource(state: EmulatorState, request: ScopeRequest) -> Resource:
    # A sign-in-only request (openid profile ...) gets a Graph token, as in Entra.
    return request.resource or state.tenant.resources["graph"]


def granted_scopes(state: EmulatorState, client: App, user: dict[str, Any] | None,
                   request: ScopeRequest) -> list[str]:
    """The permissions the token will carry; raises 65001 when consent is missing."""
    resource = target_resource(state, request)
    if request.resource is None:
        return []
    consented = state.consent.scopes(client.client_id, resource.app_id, user["id"] if user else None)
    if request.default:
        if not consented:
            raise consent_required(client, resource)
        return sorted(consented)
    missing = [s for s in request.scopes if s.lower() not in {c.lower() for c in consented}]
    if missing:
        raise consent_required(client, resource)
    return list(request.scopes)


def missing_consent(state: EmulatorState, client: App, user: dict[str, Any], request: ScopeRequest) -> list[str]:
    """Scopes the user would be asked to consent to at /authorize (empty when nothing is missing)."""
    if request.resource is None:
        return []
    resource = request.resource
    consented = {c.lower() for c in state.consent.scopes(client.client_id, resource.app_id, user["id"])}
    wanted = static_scopes(client, resource) if request.default else request.scopes
    if request.default and not wanted and not consented:
        return [".default"]
    return [s for s in wanted if s.lower() not in consented]


def static_scopes(client: App, resource: Resource) -> list[str]:
    """The delegated permissions the app registration lists for `resource` (what `.default` means)."""
    return [s for s in client.required_access.get(resource.key, {}).get("scopes", []) if s in resource.scopes]


def consent_required(client: App, resource: Resource) -> OAuthError:
    return OAuthError(65001, f"The user or administrator has not consented to use the application with ID "
                             f"'{client.client_id}' named '{client.display_name}'. Send an interactive "
                             "authorization request for this user and resource.", suberror="consent_required")


def mfa_policy_ids(state: EmulatorState, user: dict[str, Any], resource: Resource) -> list[str]:
    return [p.id for p in state.tenant.policies_for(user, resource) if "mfa" in p.grant_controls]


def claims_challenge(policy_ids: list[str]) -> str:
    return json.dumps({"access_token": {"capolids": {"essential": True, "values": policy_ids}}},
                      separators=(",", ":"))


def enforce_conditional_access(state: EmulatorState, user: dict[str, Any], resource: Resource,
                               amr: list[str]) -> None:
    """50076 with a claims challenge when a policy requires MFA the session did not perform."""
    policy_ids = mfa_policy_ids(state, user, resource)
    if policy_ids and "mfa" not in amr:
        raise OAuthError(50076, "Due to a configuration change made by your administrator, or because you "
                                "moved to a new location, you must use multi-factor authentication to access "
                                f"'{resource.app_id}'.", suberror="basic_action",
                         claims=claims_challenge(policy_ids))


def claims_request_mfa(claims_param: str | None) -> bool:
    """Does an authorize request's `claims` parameter ask for a CA policy or MFA to be satisfied?"""
    return parse_claims_lenient(claims_param).mfa
