"""The function app: Flex Consumption or Elastic Premium, Python 3.11 on Linux, hardened, identity-based
storage, package and telemetry on both plans, and the app settings the code reads (docs/architecture.md)."""
from __future__ import annotations

import re

import pytest

from tests.infra.bicep_eval import Template
from tests.infra.bicep_model import (
    INFRA,
    REPO_ROOT,
    functions,
    modules,
    one_resource,
    parameters,
    resources_of_type,
    strings,
    variables,
)

FUNCTION_APP = INFRA / "app" / "function-app.bicep"
MAIN = INFRA / "main.bicep"
PLANS = ("FlexConsumption", "ElasticPremium")
SWEEP_CONCURRENCY = 32  # the concurrency sweep's choice; the performance doc names the same value
IDENTITY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-api"
INPUTS = {
    "name": "func-api-tok", "planName": "plan-api-tok", "location": "swedencentral", "identityId": IDENTITY,
    "identityClientId": "client-id-of-identity", "storageAccountName": "sttok",
    "storageBlobEndpoint": "https://sttok.blob.core.windows.net/", "deploymentContainerName": "app-package",
    "applicationInsightsConnectionString": "InstrumentationKey=not-secret", "tenantId": "tenant-id",
    "apiClientId": "api-id", "spaClientId": "spa-id", "staticWebAppHostname": "gentle.azurestaticapps.net",
    "adminConsentRedirectUri": "https://gentle.azurestaticapps.net/", "graphScopes": "User.Read",
    "reportGraphScopes": "User.Read User.ReadBasic.All GroupMember.Read.All",
}
SITE_STAND_IN = {"functionApp": {"name": "func-api-tok", "id": "site-id", "location": "swedencentral",
                                 "properties": {"defaultHostName": "func-api-tok.azurewebsites.net"}},
                 "plan": {"id": "plan-id"}}


def app(plan: str = "FlexConsumption", **params) -> Template:
    return Template(FUNCTION_APP, {**INPUTS, "hostingPlan": plan, **params}, SITE_STAND_IN)


def app_settings(template: Template) -> dict:
    return template.property(template.resource_body("appSettings"), "properties")


def site(template: Template, *path: str):
    return template.property(template.resource_body("functionApp"), *path)


def test_plan_is_flex_consumption_by_default_or_elastic_premium():
    assert parameters(FUNCTION_APP)["hostingPlan"]["default"] == "FlexConsumption"
    assert parameters(MAIN)["functionPlan"]["default"] == "FlexConsumption"
    flex, premium = app(), app("ElasticPremium", maximumInstanceCount=1)
    plan = lambda t, *p: t.property(t.resource_body("plan"), *p)  # noqa: E731
    assert plan(flex, "sku") == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan(flex, "kind") == "functionapp" and plan(flex, "properties") == {"reserved": True}
    assert plan(premium, "sku") == {"name": "EP1", "tier": "ElasticPremium"}
    assert plan(premium, "kind") == "elastic"
    assert plan(premium, "properties") == {"reserved": True, "maximumElasticWorkerCount": 1}
    assert one_resource("Microsoft.Web/sites").body["properties"]["serverFarmId"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "plan", "operand_2": "id"}}}
    assert modules(MAIN)["api"].params["hostingPlan"] == "functionPlan"


def test_flex_consumption_runs_python_311_from_an_identity_authenticated_package():
    flex = app(maximumInstanceCount=40)
    assert site(flex, "kind") == "functionapp,linux"
    config = site(flex, "properties", "functionAppConfig")
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"] == {
        "type": "blobContainer", "value": "https://sttok.blob.core.windows.net/app-package",
        "authentication": {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": IDENTITY}}
    assert config["scaleAndConcurrency"] == {"maximumInstanceCount": 40, "instanceMemoryMB": 2048,
                                             "triggers": {"http": {"perInstanceConcurrency": SWEEP_CONCURRENCY}}}
    assert "linuxFxVersion" not in site(flex, "properties", "siteConfig")


def test_elastic_premium_runs_python_311_from_the_package_blob_without_a_storage_key():
    premium = app("ElasticPremium", maximumInstanceCount=1)
    assert site(premium, "kind") == "functionapp,linux"
    assert site(premium, "properties", "functionAppConfig") is None
    config = site(premium, "properties", "siteConfig")
    assert config["linuxFxVersion"] == "Python|3.11"
    assert config["functionAppScaleLimit"] == 1 and config["minimumElasticInstanceCount"] == 1
    settings = app_settings(premium)
    assert settings["FUNCTIONS_EXTENSION_VERSION"] == "~4" and settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
    # No Azure Files content share: it accepts only a key. The package blob is read with the identity.
    assert settings["WEBSITE_RUN_FROM_PACKAGE"] == "https://sttok.blob.core.windows.net/app-package/api.zip"
    assert settings["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] == IDENTITY
    assert not {"WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE", "AzureWebJobsStorage"} & set(settings)
    assert premium.output("packageUrl") == settings["WEBSITE_RUN_FROM_PACKAGE"]
    assert app().output("packageUrl") == ""


def test_function_app_runs_as_the_user_assigned_identity():
    identity = one_resource("Microsoft.Web/sites").body["identity"]
    assert identity["type"] == "UserAssigned"
    assert list(identity["userAssignedIdentities"]) == ["'${identityId}'"]


@pytest.mark.parametrize("plan", PLANS)
def test_function_app_is_hardened(plan):
    template = app(plan, maximumInstanceCount=1)
    assert site(template, "properties", "httpsOnly") is True
    config = site(template, "properties", "siteConfig")
    assert (config["minTlsVersion"], config["scmMinTlsVersion"], config["ftpsState"]) == ("1.2", "1.2", "Disabled")
    policies = {r.body["name"]: r.body["properties"]["allow"]
                for r in resources_of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert policies == {"ftp": False, "scm": False}


@pytest.mark.parametrize("plan", PLANS)
def test_app_settings_use_identity_based_storage_and_telemetry(plan):
    settings = app_settings(app(plan))
    assert settings["AzureWebJobsStorage__accountName"] == "sttok"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "client-id-of-identity"
    assert "AzureWebJobsStorage" not in settings, "no connection string: the account has no shared keys"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=client-id-of-identity;Authorization=AAD"


def test_flex_consumption_gets_none_of_the_settings_it_rejects():
    settings = app_settings(app())
    for rejected in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
                     "AzureWebJobsDashboard", "APPINSIGHTS_INSTRUMENTATIONKEY"):
        assert rejected not in settings


def test_app_settings_carry_what_the_code_reads():
    settings = app_settings(app(redisHostName="cache.redis.azure.net", redisUserObjectId="mi-object-id",
                                tokenCacheKeys="k1:key"))
    assert settings["PYTHON_SCRIPT_FILE_NAME"] == "main.py"
    assert (settings["TENANT_ID"], settings["API_CLIENT_ID"], settings["SPA_CLIENT_ID"]) == \
        ("tenant-id", "api-id", "spa-id")
    assert settings["AUTHORITY_HOST"] == "https://login.microsoftonline.com"
    assert settings["MANAGED_IDENTITY_CLIENT_ID"] == "client-id-of-identity"
    assert settings["GRAPH_SCOPES"] == "User.Read"
    assert settings["REPORT_GRAPH_SCOPES"] == "User.Read User.ReadBasic.All GroupMember.Read.All"
    assert settings["ALLOWED_CLIENT_APPS"] == "spa-id"
    assert settings["API_SCOPE"] == "user_impersonation"
    assert settings["ADMIN_CONSENT_REDIRECT_URI"] == "https://gentle.azurestaticapps.net/"
    assert settings["REDIS_URL"] == "rediss://mi-object-id@cache.redis.azure.net:10000/0"
    assert settings["TOKEN_CACHE"] == "redis" and settings["TOKEN_CACHE_KEYS"] == "k1:key"
    assert "CLIENT_SECRET" not in settings and "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET" not in settings, \
        "Azure uses the managed identity as federated credential, never a client secret"


def test_admin_consent_redirect_uri_is_the_spa_origin_the_api_app_registers():
    params = modules(MAIN)["api"].params
    assert "adminConsentRedirectUri" in strings(params["adminConsentRedirectUri"])
    assert "appRegistrations" in strings(params["adminConsentRedirectUri"])


def test_diagnostics_are_off_unless_asked_for():
    assert app_settings(app())["DIAGNOSTICS_ENABLED"] == "false"
    assert app_settings(app(diagnosticsEnabled=True))["DIAGNOSTICS_ENABLED"] == "true"
    assert parameters(FUNCTION_APP)["diagnosticsEnabled"]["default"] is False
    assert parameters(MAIN)["diagnosticsEnabled"]["default"] is False


def test_token_cache_is_redis_only_when_a_cache_is_deployed():
    settings = app_settings(app())
    assert settings["TOKEN_CACHE"] == "memory"
    assert not {"REDIS_URL", "TOKEN_CACHE_KEYS"} & set(settings)
    main = modules(MAIN)
    assert main["redis"].condition == "useRedis"
    assert variables(MAIN)["useRedis"]["operator"]["type"] == "and"
    assert parameters(MAIN)["enableRedisTokenCache"]["default"] is False


def test_every_app_setting_for_the_code_is_a_documented_setting():
    documented = set(re.findall(r"^\| `([A-Z_]+)`", (REPO_ROOT / "docs" / "architecture.md").read_text(), re.M))
    # Read by the platform (host, Python worker), not by the code; the concurrency ones: docs/performance.md.
    platform = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
                "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE",
                "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID", "PYTHON_THREADPOOL_THREAD_COUNT",
                "AzureFunctionsJobHost__extensions__http__maxConcurrentRequests"}
    names = set(app_settings(app("ElasticPremium", redisHostName="h", tokenCacheKeys="k")))
    for name in names:
        if name.startswith("AzureWebJobsStorage__") or name in platform:
            continue
        assert name in documented, f"{name} is not in docs/architecture.md's settings table"


def test_graph_defaults_match_the_documented_defaults():
    main = parameters(MAIN)
    assert main["graphScopes"]["default"] == "User.Read"
    assert main["reportGraphScopes"]["default"] == "User.Read User.ReadBasic.All GroupMember.Read.All"
    # environment().graph is Azure AD Graph (graph.windows.net), not Microsoft Graph: the code's default
    # (https://graph.microsoft.com/v1.0) applies.
    assert "GRAPH_BASE_URL" not in app_settings(app())
    assert "environment().graph" not in FUNCTION_APP.read_text()


def test_main_wires_the_identity_into_the_function_app():
    params = modules(MAIN)["api"].params
    assert "identity" in strings(params["identityId"]) and "identity" in strings(params["identityClientId"])
    assert params["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    assert params["tokenCacheKeys"] == "tokenCacheKeys"


def test_authority_is_derived_from_the_cloud_not_hard_coded():
    text = FUNCTION_APP.read_text()
    assert "login.microsoftonline.com" not in text and "graph.microsoft.com" not in text
    login_endpoint = variables(FUNCTION_APP)["loginEndpoint"]
    assert functions(login_endpoint, "environment") == [{}], "the login endpoint comes from environment()"
    assert strings(login_endpoint)[-2:] == ["authentication", "loginEndpoint"]


# -- concurrency per instance (docs/performance.md, "Concurrency sweep") ---------------------------------------

def test_flex_consumption_takes_the_sweeps_concurrency_per_instance_with_a_thread_for_each_request():
    flex = app()
    assert site(flex, "properties", "functionAppConfig")["scaleAndConcurrency"]["triggers"] == {
        "http": {"perInstanceConcurrency": SWEEP_CONCURRENCY}}
    settings = app_settings(flex)
    assert settings["PYTHON_THREADPOOL_THREAD_COUNT"] == str(SWEEP_CONCURRENCY)
    # Flex Consumption refuses these: the trigger section replaces the first, the second is not valid there.
    assert not {"FUNCTIONS_MAX_HTTP_CONCURRENCY", "FUNCTIONS_WORKER_PROCESS_COUNT",
                "AzureFunctionsJobHost__extensions__http__maxConcurrentRequests"} & set(settings)


def test_elastic_premium_limits_http_functions_per_instance_to_the_same_value():
    settings = app_settings(app("ElasticPremium", maximumInstanceCount=1))
    assert settings["PYTHON_THREADPOOL_THREAD_COUNT"] == str(SWEEP_CONCURRENCY)
    assert settings["AzureFunctionsJobHost__extensions__http__maxConcurrentRequests"] == str(SWEEP_CONCURRENCY)
    assert "FUNCTIONS_WORKER_PROCESS_COUNT" not in settings  # one worker process on an EP1's one core
    assert site(app("ElasticPremium", maximumInstanceCount=1), "properties", "functionAppConfig") is None


@pytest.mark.parametrize("plan", PLANS)
def test_one_parameter_sets_requests_and_threads_together_within_azures_thread_limit(plan):
    declared = parameters(FUNCTION_APP)["httpPerInstanceConcurrency"]
    assert declared["default"] == SWEEP_CONCURRENCY
    limits = {d["type"]: d["argument"] for d in declared["decorators"]}
    assert (limits["min_value"], limits["max_value"]) == (1, 32)
    template = app(plan, maximumInstanceCount=1, httpPerInstanceConcurrency=8)
    assert app_settings(template)["PYTHON_THREADPOOL_THREAD_COUNT"] == "8"
    assert app_settings(template)["WARM_CONNECTIONS"] == "8"  # one warm connection per request taken at once
    if plan == "FlexConsumption":
        config = site(template, "properties", "functionAppConfig")
        assert config["scaleAndConcurrency"]["triggers"]["http"]["perInstanceConcurrency"] == 8


def test_the_performance_doc_names_the_concurrency_infra_sets():
    text = (REPO_ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert f"per-instance concurrency {SWEEP_CONCURRENCY}" in text
    assert "make bench-sweep" in FUNCTION_APP.read_text()
