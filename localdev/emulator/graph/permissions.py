"""Which Graph permissions allow which read, after Graph v1.0's permission tables.

Each entry is (delegated scopes, application roles); any one of them allows the call. Graph compares
permission names case-insensitively, so they are kept lower-cased.
"""
from __future__ import annotations

from typing import NamedTuple


class Permissions(NamedTuple):
    delegated: frozenset[str]
    application: frozenset[str]


def permissions(delegated: frozenset[str], application: frozenset[str]) -> Permissions:
    return Permissions(frozenset(p.lower() for p in delegated), frozenset(p.lower() for p in application))


_DIRECTORY_DELEGATED = frozenset({"Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"})
_DIRECTORY_APPLICATION = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
_USERS_APPLICATION = frozenset({"User.Read.All", "User.ReadWrite.All"}) | _DIRECTORY_APPLICATION

_USERS_DELEGATED = frozenset({"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All"}) | _DIRECTORY_DELEGATED
_SELF_DELEGATED = frozenset({"User.Read", "User.ReadWrite"}) | _USERS_DELEGATED
_PHOTO_APPLICATION = _USERS_APPLICATION | {"ProfilePhoto.Read.All"}
_MEMBERSHIP = frozenset({"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All"})

# Another user's profile, and anyone's manager or direct reports.
READ_USERS = permissions(_USERS_DELEGATED, _USERS_APPLICATION)
# The signed-in user's own profile: User.Read is enough.
READ_SELF = permissions(_SELF_DELEGATED, _USERS_APPLICATION)
READ_PHOTO_SELF = permissions(_SELF_DELEGATED, _PHOTO_APPLICATION)
READ_PHOTO_OTHERS = permissions(_USERS_DELEGATED, _PHOTO_APPLICATION)
READ_MEMBERSHIPS = permissions(_MEMBERSHIP | _DIRECTORY_DELEGATED, _MEMBERSHIP | _DIRECTORY_APPLICATION)
