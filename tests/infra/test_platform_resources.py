"""Storage without shared keys and the roles Durable Functions needs, Entra-only telemetry, the Standard static
web app linked to the function app, and the optional Entra-authenticated Redis cache."""
from __future__ import annotations

from tests.infra.bicep_eval import Template
from tests.infra.bicep_model import (
    INFRA,
    modules,
    one_resource,
    parameters,
    references,
    resolve,
    resources_of_type,
    strings,
    variables,
)

STORAGE = INFRA / "core" / "storage.bicep"
MAIN = INFRA / "main.bicep"

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def test_storage_account_accepts_only_entra_authenticated_tls_12_traffic():
    account = one_resource("Microsoft.Storage/storageAccounts").body["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["defaultToOAuthAuthentication"] is True
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["supportsHttpsTrafficOnly"] is True


def test_function_identity_gets_the_blob_queue_and_table_roles_durable_needs():
    (assignments,) = [r for r in resources_of_type("Microsoft.Authorization/roleAssignments") if r.file == STORAGE]
    assert assignments.loop["detail"]["array_name"] == "functionRoleIds"
    role_ids = [resolve(STORAGE, v) for v in resolve(STORAGE, "functionRoleIds")]
    assert set(role_ids) == {STORAGE_BLOB_DATA_OWNER, STORAGE_QUEUE_DATA_CONTRIBUTOR, STORAGE_TABLE_DATA_CONTRIBUTOR}
    body = assignments.body
    assert body["scope"] == "storage"
    assert body["properties"]["principalId"] == "functionIdentityPrincipalId"
    assert body["properties"]["principalType"] == "ServicePrincipal"
    assert body["name"]["function"]["type"] == "guid", "idempotent names: re-deployments do not fail"
    wired = modules(MAIN)["storage"].params["functionIdentityPrincipalId"]
    assert "identity" in references(wired) and "principalId" in strings(wired)


def test_deployment_package_container_is_private():
    container = one_resource("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container.body["properties"]["publicAccess"] == "None"
    assert container.body["parent"] == "blobService"


def test_application_insights_accepts_only_entra_authenticated_telemetry():
    component = one_resource("Microsoft.Insights/components").body["properties"]
    assert component["DisableLocalAuth"] is True
    assert component["WorkspaceResourceId"]
    (publisher,) = [r for r in resources_of_type("Microsoft.Authorization/roleAssignments")
                    if r.file.name == "monitoring.bicep"]
    assert resolve(publisher.file, "monitoringMetricsPublisherRoleId") == MONITORING_METRICS_PUBLISHER
    assert publisher.body["properties"]["principalId"] == "publisherPrincipalId"
    workspace = one_resource("Microsoft.OperationalInsights/workspaces").body["properties"]
    assert workspace["features"]["disableLocalAuth"] is True


def test_static_web_app_is_standard():
    (site,) = [r for r in resources_of_type("Microsoft.Web/staticSites") if not r.existing]
    assert site.body["sku"] == {"name": "Standard", "tier": "Standard"}
    assert site.body["properties"]["allowConfigFileUpdates"] is True
    allowed = next(d for d in parameters(site.file)["location"]["decorators"] if d["type"] == "allowed")
    assert "westeurope" in allowed["argument"]
    assert parameters(MAIN)["staticWebAppLocation"]["default"] in allowed["argument"]


def test_static_web_app_links_the_function_app_as_its_backend():
    link = one_resource("Microsoft.Web/staticSites/linkedBackends")
    assert link.body["parent"] == "site"
    assert link.body["properties"] == {"backendResourceId": "backendResourceId", "region": "backendLocation"}
    (existing_site,) = [r for r in resources_of_type("Microsoft.Web/staticSites") if r.existing]
    assert existing_site.file == link.file
    params = modules(MAIN)["linkedBackend"].params
    assert "api" in references(params["backendResourceId"]) and "id" in strings(params["backendResourceId"])
    assert "api" in references(params["backendLocation"])
    assert "web" in references(params["staticWebAppName"])


def test_azd_finds_both_services_by_tag():
    main = modules(MAIN)
    assert main["web"].params["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "web"}
    assert main["api"].params["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    assert variables(MAIN)["tags"] == {"'azd-env-name'": "environmentName"}
    deployment = Template(MAIN, {"environmentName": "dev", "location": "swedencentral"})
    assert deployment.property(deployment.resource_body("rg"), "tags") == {"azd-env-name": "dev"}


def test_redis_cache_uses_entra_authentication_only():
    cluster = one_resource("Microsoft.Cache/redisEnterprise").body
    assert cluster["properties"]["minimumTlsVersion"] == "1.2"
    database = one_resource("Microsoft.Cache/redisEnterprise/databases").body
    assert database["parent"] == "cluster"
    assert database["properties"]["accessKeysAuthentication"] == "Disabled"
    assert database["properties"]["clientProtocol"] == "Encrypted"
    assert database["properties"]["clusteringPolicy"] == "EnterpriseCluster", "one endpoint for a plain client"
    policy = one_resource("Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments").body
    assert policy["parent"] == "database"
    assert policy["properties"] == {"accessPolicyName": "default", "user": {"objectId": "clientPrincipalId"}}
    params = modules(MAIN)["redis"].params
    assert "identity" in references(params["clientPrincipalId"])
    api = modules(MAIN)["api"].params
    assert "redis" in references(api["redisHostName"]) and "redis" in references(api["redisPort"])
    assert "identity" in references(api["redisUserObjectId"]), "the Entra user name is the identity's object id"
