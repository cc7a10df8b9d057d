"""Every Bicep file parses, modules are wired to the parameters they declare, and the deployment order has
no cycles: what a user would otherwise only find out from a failed `azd up`."""
from __future__ import annotations

import json
import re
from graphlib import CycleError, TopologicalSorter

import pytest

from tests.infra.bicep_model import (
    INFRA,
    bicep_files,
    is_required,
    modules,
    parameters,
    parse,
    references,
    rel,
    resources,
    all_resources,
)

EXPECTED_FILES = {
    "infra/main.bicep",
    "infra/core/identity.bicep",
    "infra/core/monitoring.bicep",
    "infra/core/storage.bicep",
    "infra/app/function-app.bicep",
    "infra/app/static-web-app.bicep",
    "infra/app/linked-backend.bicep",
    "infra/app/redis.bicep",
    "infra/entra/app-registrations.bicep",
    "infra/entra/api-exposure.bicep",
}

# Resource types and the API versions the templates are written against (none of them a preview).
EXPECTED_TYPES = {
    "Microsoft.Resources/resourceGroups": "2024-03-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.Web/sites/config": "2024-04-01",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "2024-04-01",
    "Microsoft.Web/staticSites": "2024-04-01",
    "Microsoft.Web/staticSites/linkedBackends": "2024-04-01",
    "Microsoft.Cache/redisEnterprise": "2025-07-01",
    "Microsoft.Cache/redisEnterprise/databases": "2025-07-01",
    "Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments": "2025-07-01",
    "Microsoft.Graph/applications": "v1.0",
    "Microsoft.Graph/servicePrincipals": "v1.0",
    "Microsoft.Graph/oauth2PermissionGrants": "v1.0",
    "Microsoft.Graph/applications/federatedIdentityCredentials": "v1.0",
}


def test_the_infrastructure_is_main_bicep_plus_its_modules():
    assert {rel(p) for p in bicep_files()} == EXPECTED_FILES
    reachable = set()
    pending = [INFRA / "main.bicep"]
    while pending:
        current = pending.pop()
        reachable.add(rel(current))
        pending.extend(m.target for m in modules(current).values() if rel(m.target) not in reachable)
    assert reachable == EXPECTED_FILES, "every module is used by main.bicep"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_every_bicep_file_parses(path):
    document = parse(path)
    assert document.get("resources") or document.get("modules"), f"{rel(path)} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_child_resources_are_declared_at_top_level(path):
    # Nested `resource` declarations inside another resource's body are written as top-level
    # declarations with `parent:` (or a `parent/child` name) so that the templates read in one place.
    nested = [line for line in path.read_text().splitlines() if re.match(r"^\s+resource\s+\w+\s+'", line)]
    assert not nested, f"{rel(path)} nests resources: {nested}"


def test_resource_types_and_api_versions_are_the_expected_ones():
    seen = {}
    for resource in all_resources():
        seen.setdefault(resource.type, set()).add(resource.api_version)
    assert set(seen) == set(EXPECTED_TYPES)
    for type_name, versions in seen.items():
        assert versions == {EXPECTED_TYPES[type_name]}, f"{type_name} uses {versions}"
        assert not any("preview" in v for v in versions)


def test_no_registry_modules_only_local_files():
    for path in bicep_files():
        for module in modules(path).values():
            assert module.target.is_file(), f"{rel(path)}: module {module.symbol} -> missing {module.target}"
            assert module.target.is_relative_to(INFRA)


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_modules_get_exactly_the_parameters_they_declare(path):
    for module in modules(path).values():
        declared = parameters(module.target)
        passed = set(module.params)
        unknown = passed - set(declared)
        missing = {name for name, p in declared.items() if is_required(p)} - passed
        assert not unknown, f"{rel(path)}: module {module.symbol} passes undeclared params {unknown}"
        assert not missing, f"{rel(path)}: module {module.symbol} misses required params {missing}"


def _symbols(path):
    return set(modules(path)) | set(resources(path))


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_deployment_order_has_no_cycles(path):
    symbols = _symbols(path)
    graph = {}
    for name, module in modules(path).items():
        graph[name] = (references(module.body) & symbols) - {name}
    for name, resource in resources(path).items():
        graph[name] = (references(resource.body) & symbols) - {name}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as error:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"{rel(path)} has a dependency cycle: {error.args[1]}")


def test_main_deploys_in_the_order_the_design_needs():
    main = modules(INFRA / "main.bicep")
    deps = {name: references(m.body) for name, m in main.items()}
    # The SPA's redirect URIs need the static web app's host; the federated credential needs the identity.
    assert {"web", "identity"} <= deps["appRegistrations"]
    # api://{appId} is written after the app exists, by a second module.
    assert "appRegistrations" in deps["apiExposure"]
    assert "apiExposure" not in deps["appRegistrations"]
    # The function app's settings and auth need the app ids; the link comes after the function app.
    assert {"appRegistrations", "identity", "storage", "monitoring", "web"} <= deps["api"]
    assert {"api", "web"} <= deps["linkedBackend"]
    assert "linkedBackend" not in deps["api"]


def test_bicepconfig_enables_the_microsoft_graph_extension():
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    target = config["extensions"]["microsoftGraphV1"]
    assert target.startswith("br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:")
    assert "preview" not in target


def test_files_with_graph_resources_declare_the_extension():
    for path in bicep_files():
        has_graph = any(r.type.startswith("Microsoft.Graph/") for r in resources(path).values())
        declares = "microsoftGraphV1" in (parse(path).get("extensions") or {})
        assert has_graph == declares, f"{rel(path)}: graph resources={has_graph}, extension={declares}"


def test_abbreviations_file_names_every_prefix_main_uses():
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    text = (INFRA / "main.bicep").read_text()
    used = set(re.findall(r"abbrs\.(\w+)", text))
    assert used and used <= set(abbreviations)
    assert all(isinstance(v, str) and v for v in abbreviations.values())
