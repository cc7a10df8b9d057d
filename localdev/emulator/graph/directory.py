"""The seeded tenant seen through Graph's `user` and `group` resource types.

The seed carries fields Graph never returns (`password`, the `photo` flag, `manager` as a UPN); projections
start from Graph's own property lists, so nothing outside them can leak into a response.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from localdev.emulator.graph.errors import bad_request

# What Graph v1.0 returns for a user when no $select is given.
DEFAULT_USER_PROPERTIES: tuple[str, ...] = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
    "preferredLanguage", "surname", "userPrincipalName", "id",
)

# Structural properties of microsoft.graph.user that $select may name (v1.0). Collections default to [].
_USER_COLLECTIONS = frozenset({
    "assignedLicenses", "assignedPlans", "businessPhones", "identities", "imAddresses", "interests",
    "licenseAssignmentStates", "otherMails", "pastProjects", "provisionedPlans", "proxyAddresses",
    "responsibilities", "schools", "skills", "onPremisesProvisioningErrors",
})
USER_PROPERTIES: tuple[str, ...] = DEFAULT_USER_PROPERTIES + (
    "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "birthday", "city",
    "companyName", "consentProvidedForMinor", "country", "createdDateTime", "creationType", "deletedDateTime",
    "department", "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType",
    "externalUserState", "externalUserStateChangeDateTime", "faxNumber", "hireDate", "identities",
    "imAddresses", "interests", "isResourceAccount", "lastPasswordChangeDateTime",
    "legalAgeGroupClassification", "licenseAssignmentStates", "mailboxSettings", "mailNickname", "mySite",
    "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes",
    "onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors",
    "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile", "pastProjects",
    "postalCode", "preferredDataLocation", "preferredName", "provisionedPlans", "proxyAddresses",
    "responsibilities", "schools", "securityIdentifier", "showInAddressList", "signInSessionsValidFromDateTime",
    "skills", "state", "streetAddress", "usageLocation", "userType",
)
# Properties with a value even when the seed does not name them; `passwordProfile` stays null on reads.
_USER_DERIVED = {
    "accountEnabled": lambda user: True,
    "userType": lambda user: "Member",
    "creationType": lambda user: None,
    "mailNickname": lambda user: str(user.get("userPrincipalName", "")).split("@")[0] or None,
    "proxyAddresses": lambda user: [f"SMTP:{user['mail']}"] if user.get("mail") else [],
    "passwordProfile": lambda user: None,
}

# What Graph returns for each group in a directoryObject collection such as transitiveMemberOf.
_GROUP_COLLECTIONS = frozenset({
    "creationOptions", "groupTypes", "onPremisesProvisioningErrors", "proxyAddresses",
    "resourceBehaviorOptions", "resourceProvisioningOptions", "serviceProvisioningErrors",
})
GROUP_PROPERTIES: tuple[str, ...] = (
    "id", "deletedDateTime", "classification", "createdDateTime", "creationOptions", "description",
    "displayName", "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled",
    "mailNickname", "membershipRule", "membershipRuleProcessingState", "onPremisesDomainName",
    "onPremisesLastSyncDateTime", "onPremisesNetBiosName", "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage",
    "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions", "resourceProvisioningOptions",
    "securityEnabled", "securityIdentifier", "theme", "visibility", "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
)

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"


class Tenant(Protocol):
    tenant_id: str
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]

    def find_user(self, key: str) -> dict[str, Any] | None: ...


def _canonical(properties: Iterable[str]) -> dict[str, str]:
    return {name.lower(): name for name in properties}


_USER_NAMES = _canonical(USER_PROPERTIES)
_GROUP_NAMES = _canonical(GROUP_PROPERTIES)


def parse_select(raw: str | None, kind: str) -> tuple[str, ...] | None:
    """`$select` as canonical property names (Graph matches them case-insensitively); None when absent."""
    if raw is None:
        return None
    names = _USER_NAMES if kind == "user" else _GROUP_NAMES
    selected: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        canonical = names.get(item.lower())
        if canonical is None:
            raise bad_request(f"Could not find a property named '{item}' on type 'microsoft.graph.{kind}'.")
        if canonical not in selected:
            selected.append(canonical)
    return tuple(selected) or None


def user_value(user: dict[str, Any], name: str) -> Any:
    if name in _USER_DERIVED and name not in user:
        return _USER_DERIVED[name](user)
    if name == "passwordProfile":
        return None
    value = user.get(name)
    if value is None and name in _USER_COLLECTIONS:
        return []
    return value


def project_user(user: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    return {name: user_value(user, name) for name in (select or DEFAULT_USER_PROPERTIES)}


def group_value(group: dict[str, Any], name: str, domain: str | None) -> Any:
    mail_enabled = bool(group.get("mailEnabled"))
    security_enabled = bool(group.get("securityEnabled"))
    unified = mail_enabled and not security_enabled
    if name == "mail":
        nickname = group.get("mailNickname")
        return group.get("mail") or (f"{nickname}@{domain}" if mail_enabled and nickname and domain else None)
    if name == "proxyAddresses":
        mail = group_value(group, "mail", domain)
        return [f"SMTP:{mail}"] if mail else []
    if name == "groupTypes":
        return group.get("groupTypes", ["Unified"] if unified else [])
    if name == "visibility":
        return group.get("visibility", "Public" if unified else None)
    if name in ("mailEnabled", "securityEnabled"):
        return mail_enabled if name == "mailEnabled" else security_enabled
    value = group.get(name)
    if value is None and name in _GROUP_COLLECTIONS:
        return []
    return value


def project_group(group: dict[str, Any], select: tuple[str, ...] | None, domain: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.type": GROUP_TYPE}
    for name in select or GROUP_PROPERTIES:
        body[name] = group_value(group, name, domain)
    return body


def tenant_domain(tenant: Tenant) -> str | None:
    """The verified domain group mail addresses live in: the one the users' UPNs use."""
    for user in tenant.users:
        _, at, domain = str(user.get("userPrincipalName", "")).partition("@")
        if at and domain:
            return domain
    return None


def manager_of(tenant: Tenant, user: dict[str, Any]) -> dict[str, Any] | None:
    key = user.get("manager")
    return tenant.find_user(str(key)) if key else None


def direct_reports(tenant: Tenant, user: dict[str, Any]) -> list[dict[str, Any]]:
    keys = {str(user.get("userPrincipalName", "")).lower(), str(user.get("id", "")).lower()}
    return [other for other in tenant.users if str(other.get("manager") or "").lower() in keys]


def _is_member(group: dict[str, Any], keys: set[str]) -> bool:
    return any(str(member).lower() in keys for member in group.get("members", ()))


def member_of(tenant: Tenant, user: dict[str, Any]) -> list[dict[str, Any]]:
    """Groups the user is a direct member of, in seed order."""
    keys = {str(user.get("userPrincipalName", "")).lower(), str(user.get("id", "")).lower()}
    return [group for group in tenant.groups if _is_member(group, keys)]


def transitive_member_of(tenant: Tenant, user: dict[str, Any]) -> list[dict[str, Any]]:
    """Direct groups first, then every group reached through groups' `memberOf`, each once (cycles allowed)."""
    by_id = {str(group["id"]).lower(): group for group in tenant.groups}
    found = member_of(tenant, user)
    seen = {str(group["id"]).lower() for group in found}
    index = 0
    while index < len(found):
        for parent_id in found[index].get("memberOf", ()):
            parent = by_id.get(str(parent_id).lower())
            if parent is not None and str(parent_id).lower() not in seen:
                seen.add(str(parent_id).lower())
                found.append(parent)
        index += 1
    return found
