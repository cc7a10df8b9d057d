"""The function app: Flex Consumption, Python 3.11, hardened, identity-based storage and telemetry, and the
app settings the code reads (docs/architecture.md)."""
from __future__ import annotations

import re

from tests.infra.bicep_model import (
    INFRA,
    REPO_ROOT,
    modules,
    one_resource,
    parameters,
    resolve,
    resources,
    resources_of_type,
    strings,
    variables,
    functions,
)

FUNCTION_APP = INFRA / "app" / "function-app.bicep"


def _site():
    return one_resource("Microsoft.Web/sites")


def _app_settings() -> dict:
    config = one_resource("Microsoft.Web/sites/config", name="appsettings")
    properties = config.body["properties"]
    # properties: union(baseAppSettings, redisAppSettings)
    union = properties["function"]
    assert union["type"] == "union"
    merged = {}
    for arg in union["parameters"].values():
        value = resolve(FUNCTION_APP, arg)
        if isinstance(value, dict) and "operator" in value:  # cond ? {...} : {}
            operands = value["operator"]["operands"]
            for branch in ("true_value", "false_value"):
                merged.update(operands.get(branch) or {})
        else:
            merged.update(value)
    return merged


def test_plan_is_flex_consumption():
    plan = one_resource("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.body["properties"]["reserved"] is True
    assert _site().body["properties"]["serverFarmId"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": plan.symbol, "operand_2": "id"}}
    }


def test_function_app_runs_python_311_from_an_identity_authenticated_package():
    site = _site().body
    assert site["kind"] == "functionapp,linux"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert storage["authentication"]["userAssignedIdentityResourceId"] == "identityId"
    assert config["scaleAndConcurrency"]["instanceMemoryMB"] == "instanceMemoryMB"


def test_function_app_runs_as_the_user_assigned_identity():
    identity = _site().body["identity"]
    assert identity["type"] == "UserAssigned"
    assert list(identity["userAssignedIdentities"]) == ["'${identityId}'"]


def test_function_app_is_hardened():
    properties = _site().body["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert properties["siteConfig"]["ftpsState"] == "Disabled"
    policies = {r.body["name"]: r.body["properties"]["allow"]
                for r in resources_of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert policies == {"ftp": False, "scm": False}


def test_app_settings_use_identity_based_storage_and_telemetry():
    settings = _app_settings()
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert "AzureWebJobsStorage" not in settings, "no connection string: the account has no shared keys"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == \
        "ClientId=${identityClientId};Authorization=AAD"
    # Flex Consumption sets the runtime in functionAppConfig and rejects these settings.
    for rejected in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
                     "AzureWebJobsDashboard", "APPINSIGHTS_INSTRUMENTATIONKEY"):
        assert rejected not in settings


def test_app_settings_carry_what_the_code_reads():
    settings = _app_settings()
    assert settings["PYTHON_SCRIPT_FILE_NAME"] == "main.py"
    assert settings["TENANT_ID"] == "tenantId"
    assert settings["API_CLIENT_ID"] == "apiClientId"
    assert settings["SPA_CLIENT_ID"] == "spaClientId"
    assert settings["MANAGED_IDENTITY_CLIENT_ID"] == "identityClientId"
    assert settings["GRAPH_SCOPES"] == "graphScopes"
    assert settings["REPORT_GRAPH_SCOPES"] == "reportGraphScopes"
    assert settings["ALLOWED_CLIENT_APPS"] == "spaClientId"
    assert settings["API_SCOPE"] == "user_impersonation"
    assert settings["REDIS_URL"] == "rediss://${redisUserObjectId}@${redisHostName}:${redisPort}/0"
    assert settings["TOKEN_CACHE_KEYS"] == "tokenCacheKeys"
    assert "CLIENT_SECRET" not in settings and "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET" not in settings, \
        "Azure uses the managed identity as federated credential, never a client secret"


def test_diagnostics_are_off_unless_asked_for():
    settings = _app_settings()
    assert settings["DIAGNOSTICS_ENABLED"]["operator"]["operands"]["true_value"] == "true"
    assert parameters(FUNCTION_APP)["diagnosticsEnabled"]["default"] is False
    assert parameters(INFRA / "main.bicep")["diagnosticsEnabled"]["default"] is False


def test_token_cache_is_redis_only_when_a_cache_is_deployed():
    settings = _app_settings()
    assert settings["TOKEN_CACHE"]["operator"]["operands"] == {
        "condition": "useRedis", "true_value": "redis", "false_value": "memory"}
    main = modules(INFRA / "main.bicep")
    assert main["redis"].condition == "enableRedisTokenCache"
    assert parameters(INFRA / "main.bicep")["enableRedisTokenCache"]["default"] is False


def test_every_app_setting_for_the_code_is_a_documented_setting():
    documented = set(re.findall(r"^\| `([A-Z_]+)`", (REPO_ROOT / "docs" / "architecture.md").read_text(), re.M))
    platform = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}
    for name in _app_settings():
        if name.startswith("AzureWebJobsStorage__") or name in platform:
            continue
        assert name in documented, f"{name} is not in docs/architecture.md's settings table"


def test_graph_defaults_match_the_documented_defaults():
    main = parameters(INFRA / "main.bicep")
    assert main["graphScopes"]["default"] == "User.Read"
    assert main["reportGraphScopes"]["default"] == "User.Read User.ReadBasic.All GroupMember.Read.All"
    # environment().graph is Azure AD Graph (graph.windows.net), not Microsoft Graph: the code's default
    # (https://graph.microsoft.com/v1.0) applies.
    assert "GRAPH_BASE_URL" not in _app_settings()
    assert "environment().graph" not in FUNCTION_APP.read_text()


def test_main_wires_the_identity_into_the_function_app():
    api = modules(INFRA / "main.bicep")["api"]
    params = api.params
    assert "identity" in strings(params["identityId"]) and "identity" in strings(params["identityClientId"])
    assert params["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    assert "tokenCacheKeys" == params["tokenCacheKeys"]


def test_authority_is_derived_from_the_cloud_not_hard_coded():
    text = FUNCTION_APP.read_text()
    assert "login.microsoftonline.com" not in text and "graph.microsoft.com" not in text
    login_endpoint = variables(FUNCTION_APP)["loginEndpoint"]
    assert functions(login_endpoint, "environment") == [{}], "the login endpoint comes from environment()"
    assert strings(login_endpoint)[-2:] == ["authentication", "loginEndpoint"]
