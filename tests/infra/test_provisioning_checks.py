"""main.bicep's provisioning checks, run through the template's own expressions (tests/infra/bicep_eval.py):
contradictory parameters stop the deployment before the first resource with a message naming them, and the
template is complete both for a full deployment and for entraOnly."""
from __future__ import annotations

import base64

import pytest

from tests.infra.bicep_eval import DeploymentFailed, Template, Unsupported
from tests.infra.bicep_model import INFRA, decorator_types, modules, parameters

MAIN = INFRA / "main.bicep"
FUNCTION_APP = INFRA / "app" / "function-app.bicep"
REQUIRED = {"environmentName": "dev", "location": "swedencentral"}
KEY_256 = "k1:" + base64.b64encode(b"\x01" * 32).decode()
KEY_128 = "k0:" + base64.b64encode(b"\x02" * 16).decode()


def main(symbols=None, **params) -> Template:
    return Template(MAIN, {**REQUIRED, **params}, symbols or {})


def check(**params) -> Template:
    template = main(**params)
    template.property(template.resource_body("rg"), "tags")
    return template


def failure(**params) -> str:
    with pytest.raises(DeploymentFailed) as raised:
        check(**params)
    assert raised.value.message.startswith("Provisioning stopped: ")
    return raised.value.message


def _decorator(param: dict, kind: str):
    return next(d["argument"] for d in param["decorators"] if d["type"] == kind)


def test_the_defaults_pass_every_check():
    template = check()
    assert template.var("provisioningProblems") == []


# Issue 15, finding 2: TOKEN_CACHE=redis without TOKEN_CACHE_KEYS answered every request with `misconfigured`.

def test_redis_without_token_cache_keys_stops_provisioning():
    message = failure(enableRedisTokenCache=True)
    assert "tokenCacheKeys" in message and "TOKEN_CACHE_KEYS" in message


@pytest.mark.parametrize("keys", ["k1", "k1:", ":" + KEY_256.split(":")[1], "k1:bm90LWEta2V5",
                                  f"{KEY_256},k2:c2hvcnQ=", "k1:a:b"])
def test_malformed_token_cache_keys_stop_provisioning_without_showing_them(keys):
    message = failure(enableRedisTokenCache=True, tokenCacheKeys=keys)
    assert "kid:base64key" in message
    for part in keys.replace(",", ":").split(":"):
        if len(part) > 3:
            assert part not in message, "key material in a deployment error"


@pytest.mark.parametrize("keys", [KEY_256, f"{KEY_256},{KEY_128}", f" {KEY_256} , {KEY_128} "])
def test_well_formed_keys_pass(keys):
    assert check(enableRedisTokenCache=True, tokenCacheKeys=keys).var("useRedis") is True


def test_keys_without_redis_are_harmless():
    assert check(tokenCacheKeys="anything").var("useRedis") is False


def test_redis_with_entra_only_is_a_contradiction():
    message = failure(enableRedisTokenCache=True, tokenCacheKeys=KEY_256, entraOnly=True)
    assert "enableRedisTokenCache" in message and "entraOnly" in message


# Issue 15, finding 3: the bounds of maximumInstanceCount, checked against the plan it is for.

def test_instance_count_bounds_are_the_platforms():
    main_param = parameters(MAIN)["maximumInstanceCount"]
    assert (_decorator(main_param, "min_value"), _decorator(main_param, "max_value")) == (0, 1000)
    assert main_param["default"] == 0, "0 lets the plan and the cache choose"
    app_param = parameters(FUNCTION_APP)["maximumInstanceCount"]
    assert (_decorator(app_param, "min_value"), _decorator(app_param, "max_value")) == (1, 1000)
    assert main().param("functionPlan") == "FlexConsumption"
    for explicit in (1, 40, 1000):
        assert check(maximumInstanceCount=explicit).var("instanceCount") == explicit
    assert check(functionPlan="ElasticPremium", maximumInstanceCount=100).var("instanceCount") == 100
    message = failure(functionPlan="ElasticPremium", maximumInstanceCount=101)
    assert "maximumInstanceCount" in message and "100" in message


@pytest.mark.parametrize("plan, redis, expected", [
    ("FlexConsumption", False, 40),
    ("FlexConsumption", True, 40),
    ("ElasticPremium", False, 1),
    ("ElasticPremium", True, 20),
])
def test_default_instance_count_follows_the_plan_and_the_token_cache(plan, redis, expected):
    params = {"functionPlan": plan, "enableRedisTokenCache": redis, **({"tokenCacheKeys": KEY_256} if redis else {})}
    template = check(**params)
    assert template.var("instanceCount") == expected
    assert modules(MAIN)["api"].params["maximumInstanceCount"] == "instanceCount"


def test_local_redirect_uris_need_an_origin_for_the_admin_consent_reply():
    message = failure(localRedirectUris=["http://localhost:4280/redirect.html"])
    assert "localRedirectUris" in message


def test_every_problem_is_reported_at_once():
    message = failure(graphScopes="User.Read Mail.Read", enableRedisTokenCache=True,
                      functionPlan="ElasticPremium", maximumInstanceCount=500)
    for named in ("Mail.Read", "tokenCacheKeys", "maximumInstanceCount"):
        assert named in message


def test_the_checks_guard_the_first_resource_written():
    # Everything else depends on the resource group, so nothing is created while a check fails.
    for name, module in modules(MAIN).items():
        assert module.body.get("scope") == "rg", f"{name} is not deployed into the checked resource group"


def test_secure_and_typed_parameters_stay_so():
    assert "secure" in decorator_types(parameters(MAIN)["tokenCacheKeys"])
    assert _decorator(parameters(MAIN)["functionPlan"], "allowed") == ["FlexConsumption", "ElasticPremium"]


# Issue 17, item 1: entraOnly deploys the app registrations only, and main.bicep is complete either way.

REGISTRATION_OUTPUTS = {"apiAppId": "api-id", "spaAppId": "spa-id", "apiUniqueName": "u", "apiDisplayName": "d",
                        "apiSection": {}, "apiWebRedirectUris": [], "apiRequiredResourceAccess": [],
                        "adminConsentGranted": False, "adminConsentRedirectUri": "http://localhost:4280/",
                        "localAdminConsentRedirectUri": "http://localhost:4280/"}
ENTRA = {"rg": {"name": "rg-dev"}, "appRegistrations": {"outputs": REGISTRATION_OUTPUTS},
         "apiExposure": {"outputs": {"identifierUri": "api://api-id", "apiScope": "api://api-id/user_impersonation"}}}
PLATFORM = {
    "identity": {"outputs": {"id": "mi", "clientId": "mi-client", "principalId": "mi-object"}},
    "monitoring": {"outputs": {"connectionString": "c", "applicationInsightsName": "appi"}},
    "storage": {"outputs": {"name": "st", "blobEndpoint": "https://st/", "deploymentContainerName": "pkg"}},
    "web": {"outputs": {"name": "swa", "defaultHostname": "site.net", "url": "https://site.net"}},
    "api": {"outputs": {"name": "func", "url": "https://func", "packageUrl": "", "id": "f", "location": "l"}},
    "redis": {"outputs": {"hostName": "cache", "port": 10000}},
}


def test_entra_only_deploys_nothing_billable_and_every_output_stays_defined():
    template = main(ENTRA, entraOnly=True, grantAdminConsent=True)
    template.property(template.resource_body("rg"), "tags")
    deployed = {name for name in template.modules if template.module_condition(name)}
    assert deployed == {"appRegistrations", "apiExposure"}
    registrations = template.module_body("appRegistrations")
    for name in ("staticWebAppHostname", "managedIdentityPrincipalId"):
        assert template.property(registrations, "params", name) == "", f"{name} must not read a skipped module"
    outputs = {name: template.output(name) for name in template._outputs}  # raises on a skipped module's output
    assert outputs["ENTRA_ONLY"] is True and outputs["FUNCTION_APP_NAME"] == "" and outputs["TOKEN_CACHE"] == "memory"
    assert outputs["API_CLIENT_ID"] == "api-id" and outputs["AUTHORITY_HOST"] == "https://login.microsoftonline.com"


def test_a_full_deployment_reads_every_module_it_deploys():
    template = main({**ENTRA, **PLATFORM}, enableRedisTokenCache=True, tokenCacheKeys=KEY_256)
    deployed = {name for name in template.modules if template.module_condition(name)}
    assert deployed == set(modules(MAIN))
    for name in template.modules:
        params = template.property(template.module_body(name), "params")
        assert isinstance(params, dict)
    assert template.output("FUNCTION_APP_NAME") == "func" and template.output("TOKEN_CACHE") == "redis"


def test_a_skipped_module_is_never_read_outside_its_condition():
    # The stand-ins hold only what entraOnly deploys: reading any other module would raise Unsupported.
    template = main(ENTRA, entraOnly=True)
    with pytest.raises(Unsupported):
        template.property(template.module_body("api"), "params")
