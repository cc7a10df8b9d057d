"""The tenant as Graph's user and group types: projections, relationships and nested memberships."""
from __future__ import annotations

from typing import Any

import pytest

from localdev.emulator.graph import directory
from localdev.emulator.graph.errors import GraphError
from tests.unit.emulator.test_graph_support import FakeTenant, user


def group(group_id: str, members: list[str], member_of: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": group_id, "displayName": group_id.title(), "members": members,
            "memberOf": member_of or [], **extra}


def test_default_projection_is_graphs_default_set_and_nothing_from_the_seed() -> None:
    projected = directory.project_user(user("mira"), None)
    assert list(projected) == list(directory.DEFAULT_USER_PROPERTIES)
    assert not {"password", "photo", "manager", "department"} & set(projected)


def test_select_is_case_insensitive_deduplicated_and_canonical() -> None:
    assert directory.parse_select("DisplayName, displayname ,MAIL,", "user") == ("displayName", "mail")
    assert directory.parse_select("", "user") is None
    assert directory.parse_select(None, "user") is None
    with pytest.raises(GraphError) as caught:
        directory.parse_select("members", "group")
    assert caught.value.status == 400 and "microsoft.graph.group" in caught.value.message


def test_nested_groups_are_followed_and_cycles_end() -> None:
    tenant = FakeTenant()
    tenant.groups = [
        group("team", ["sam.whitfield@larkspur.example"], ["dept"]),
        group("dept", [], ["division"]),
        group("division", [], ["team"]),  # a cycle back to the start
        group("unrelated", ["mira.okafor@larkspur.example"]),
    ]
    found = directory.transitive_member_of(tenant, user("sam"))
    assert [g["id"] for g in found] == ["team", "dept", "division"]
    assert [g["id"] for g in directory.member_of(tenant, user("sam"))] == ["team"]


def test_members_may_be_named_by_id_or_upn_in_any_case() -> None:
    tenant = FakeTenant()
    tenant.groups = [group("by-id", [user("lena")["id"].upper()]), group("by-upn", ["LENA.HOFFMANN@larkspur.example"])]
    assert [g["id"] for g in directory.member_of(tenant, user("lena"))] == ["by-id", "by-upn"]


def test_group_projection_derives_mail_and_microsoft_365_type() -> None:
    m365 = {"id": "g1", "displayName": "Docs", "mailEnabled": True, "securityEnabled": False, "mailNickname": "docs",
            "members": ["x"]}
    security = {"id": "g2", "displayName": "Ops", "mailEnabled": False, "securityEnabled": True,
                "mailNickname": "ops"}
    docs = directory.project_group(m365, None, "larkspur.example")
    ops = directory.project_group(security, None, "larkspur.example")
    assert docs["@odata.type"] == "#microsoft.graph.group"
    assert docs["mail"] == "docs@larkspur.example" and docs["proxyAddresses"] == ["SMTP:docs@larkspur.example"]
    assert docs["groupTypes"] == ["Unified"] and docs["visibility"] == "Public"
    assert ops["mail"] is None and ops["groupTypes"] == [] and ops["proxyAddresses"] == []
    assert "members" not in docs
    assert directory.project_group(m365, ("displayName",), None) == {"@odata.type": "#microsoft.graph.group",
                                                                    "displayName": "Docs"}


def test_manager_and_reports_follow_the_seeds_manager_field() -> None:
    tenant = FakeTenant()
    assert directory.manager_of(tenant, user("sam"))["id"] == user("priya")["id"]
    assert directory.manager_of(tenant, user("mira")) is None
    reports = directory.direct_reports(tenant, user("priya"))
    assert sorted(r["givenName"] for r in reports) == ["Lena", "Sam"]
    assert directory.tenant_domain(tenant) == "larkspur.example"
