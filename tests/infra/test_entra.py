"""Microsoft Entra app registrations through the Microsoft Graph Bicep extension: the tutorials' manual steps
(expose an API, add a client application, API permissions, admin consent) as declarations, and a managed
identity instead of a client secret."""
from __future__ import annotations

import re

from tests.infra.bicep_model import (
    INFRA,
    REPO_ROOT,
    modules,
    parameters,
    references,
    resolve,
    resources,
    strings,
    variables,
)

REGISTRATIONS = INFRA / "entra" / "app-registrations.bicep"
EXPOSURE = INFRA / "entra" / "api-exposure.bicep"
MAIN = INFRA / "main.bicep"

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Microsoft Graph's delegated permission ids (the same in every tenant).
WELL_KNOWN_GRAPH_SCOPES = {
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
    "GroupMember.Read.All": "bc024368-1153-4739-b217-4326f2e966d0",
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
}


def _apps(path):
    return {r.symbol: r for r in resources(path).values() if r.type == "Microsoft.Graph/applications"}


def _unquote(mapping):
    return {k.strip("'"): v for k, v in mapping.items()}


def test_graph_permission_ids_are_the_well_known_ones():
    assert _unquote(variables(REGISTRATIONS)["graphDelegatedPermissionIds"]) == WELL_KNOWN_GRAPH_SCOPES
    assert variables(REGISTRATIONS)["graphAppId"] == GRAPH_APP_ID


def test_spa_app_redirects_to_the_static_web_app_and_the_local_swa_cli():
    spa = _apps(REGISTRATIONS)["spaApp"].body
    assert spa["signInAudience"] == "AzureADMyOrg"
    concat = spa["spa"]["redirectUris"]["function"]
    assert concat["type"] == "concat"
    hosted, local = concat["parameters"].values()
    assert "https://${staticWebAppHostname}/" in hosted
    assert local == "localRedirectUris"
    assert "http://localhost:4280/" in parameters(REGISTRATIONS)["localRedirectUris"]["default"]
    assert "http://localhost:4280/" in parameters(MAIN)["localRedirectUris"]["default"]
    assert "web" not in spa, "a SPA uses the spa platform (auth code + PKCE), not web redirect URIs"


def test_api_app_exposes_user_impersonation_and_issues_v2_tokens():
    api = _apps(REGISTRATIONS)["apiApp"].body
    assert api["signInAudience"] == "AzureADMyOrg"
    assert api["api"]["requestedAccessTokenVersion"] == 2
    scopes = resolve(REGISTRATIONS, api["api"]["oauth2PermissionScopes"])
    assert [s["value"] for s in scopes] == ["user_impersonation"]
    scope = scopes[0]
    assert scope["type"] == "User" and scope["isEnabled"] is True
    assert scope["id"] == "userImpersonationScopeId"
    scope_id = variables(REGISTRATIONS)["userImpersonationScopeId"]
    assert scope_id["function"]["type"] == "guid", "a deterministic id, stable across deployments"
    assert api["api"]["knownClientApplications"] == [
        {"operator": {"type": "property_accessor", "operands": {"operand_1": "spaApp", "operand_2": "appId"}}}]


def test_api_app_asks_for_what_the_profile_call_and_the_report_job_need():
    api = _apps(REGISTRATIONS)["apiApp"].body
    access = resolve(REGISTRATIONS, api["requiredResourceAccess"])
    assert [a["resourceAppId"] for a in access] == ["graphAppId"]
    mapped = access[0]["resourceAccess"]["function"]
    assert mapped["type"] == "map" and mapped["parameters"]["arg_1"] == "apiGraphPermissions"
    assert mapped["parameters"]["arg_2"]["detail"]["expression"]["type"] == "Scope"
    requested = parameters(REGISTRATIONS)["apiGraphPermissions"]["default"]
    assert set(requested) == set(WELL_KNOWN_GRAPH_SCOPES)
    report_scopes = parameters(MAIN)["reportGraphScopes"]["default"].split()
    profile_scopes = parameters(MAIN)["graphScopes"]["default"].split()
    assert set(report_scopes) | set(profile_scopes) <= set(requested)


def test_identifier_uri_and_preauthorization_are_a_second_step_without_a_cycle():
    assert "identifierUris" not in _apps(REGISTRATIONS)["apiApp"].body, \
        "api://{appId} needs the appId, which exists only after the first step"
    exposed = _apps(EXPOSURE)["apiApp"].body
    assert exposed["uniqueName"] == "uniqueName"
    assert exposed["identifierUris"] == ["identifierUri"]
    assert variables(EXPOSURE)["identifierUri"] == "api://${appId}"
    assert exposed["api"]["requestedAccessTokenVersion"] == 2
    assert exposed["api"]["knownClientApplications"] == ["spaAppId"]
    (preauthorized,) = exposed["api"]["preAuthorizedApplications"]
    assert preauthorized["appId"] == "spaAppId"
    delegated = preauthorized["delegatedPermissionIds"]["function"]
    assert delegated["type"] == "map" and delegated["parameters"]["arg_1"] == "permissionScopes"
    # main passes the first step's outputs, so the same app is updated, not a second one created.
    params = modules(MAIN)["apiExposure"].params
    assert "apiUniqueName" in strings(params["uniqueName"])
    assert "apiAppId" in strings(params["appId"])
    assert "spaAppId" in strings(params["spaAppId"])
    assert "apiPermissionScopes" in strings(params["permissionScopes"])
    assert "apiRequiredResourceAccess" in strings(params["requiredResourceAccess"])


def test_every_app_has_a_service_principal():
    principals = [r for r in resources(REGISTRATIONS).values() if r.type == "Microsoft.Graph/servicePrincipals"]
    created = {r.body["appId"]["operator"]["operands"]["operand_1"] for r in principals if not r.existing}
    assert created == {"spaApp", "apiApp"}
    (graph,) = [r for r in principals if r.existing]
    assert graph.body["appId"] == "graphAppId"


def test_managed_identity_is_the_api_apps_federated_credential():
    (fic,) = [r for r in resources(REGISTRATIONS).values()
              if r.type == "Microsoft.Graph/applications/federatedIdentityCredentials"]
    assert fic.body["name"].startswith("${apiApp.uniqueName}/")
    assert fic.body["audiences"] == ["api://AzureADTokenExchange"]
    assert fic.body["issuer"] == "federatedCredentialIssuer"
    assert variables(REGISTRATIONS)["federatedCredentialIssuer"] == \
        "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0"
    assert fic.body["subject"] == "managedIdentityPrincipalId"
    wired = modules(MAIN)["appRegistrations"].params["managedIdentityPrincipalId"]
    assert references(wired) >= {"identity"} and "principalId" in strings(wired)


def test_no_client_secret_is_created():
    for path in (REGISTRATIONS, EXPOSURE):
        text = path.read_text()
        assert "passwordCredentials" not in text and "keyCredentials" not in text


def test_admin_consent_is_optional_and_off_by_default():
    grants = [r for r in resources(REGISTRATIONS).values() if r.type == "Microsoft.Graph/oauth2PermissionGrants"]
    assert len(grants) == 3
    for grant in grants:
        assert grant.condition == "grantAdminConsent"
        assert grant.body["consentType"] == "AllPrincipals"
    by_pair = {(g.body["clientId"]["operator"]["operands"]["operand_1"],
                g.body["resourceId"]["operator"]["operands"]["operand_1"]): g.body["scope"] for g in grants}
    assert set(by_pair) == {("apiServicePrincipal", "graphServicePrincipal"),
                            ("spaServicePrincipal", "apiServicePrincipal"),
                            ("spaServicePrincipal", "graphServicePrincipal")}
    assert by_pair[("spaServicePrincipal", "apiServicePrincipal")] == "user_impersonation"
    api_graph = by_pair[("apiServicePrincipal", "graphServicePrincipal")]["function"]
    assert api_graph["type"] == "join" and api_graph["parameters"]["input_array"] == "apiGraphPermissions"
    assert parameters(REGISTRATIONS)["grantAdminConsent"]["default"] is False
    assert parameters(MAIN)["grantAdminConsent"]["default"] is False


def test_registrations_reference_each_other_in_one_direction_only():
    body = {name: references(r.body) for name, r in resources(REGISTRATIONS).items()}
    assert "apiApp" not in body["spaApp"], "the SPA is created first and does not refer to the API"
    assert "spaApp" in body["apiApp"]
    assert "apiApp" not in body["apiApp"]


def test_unique_names_are_stable_per_environment():
    names = variables(REGISTRATIONS)
    assert re.fullmatch(r"profile-spa-\$\{environmentName\}-\$\{resourceToken\}", names["spaUniqueName"])
    assert re.fullmatch(r"profile-api-\$\{environmentName\}-\$\{resourceToken\}", names["apiUniqueName"])


def test_every_redirect_uri_the_spa_uses_is_registered():
    # A redirect URI that is not registered fails sign-in with AADSTS50011.
    auth_js = REPO_ROOT / "static_frontend" / "js" / "auth.js"
    paths = set(re.findall(r"redirectUri:\s*`\$\{[^}]+\}(/[^`]*)`", auth_js.read_text()))
    assert paths, "static_frontend/js/auth.js sets its redirect URIs"
    spa = _apps(REGISTRATIONS)["spaApp"].body
    hosted, _ = spa["spa"]["redirectUris"]["function"]["parameters"].values()
    local = parameters(MAIN)["localRedirectUris"]["default"]
    for path in paths:
        assert f"https://${{staticWebAppHostname}}{path}" in hosted
        assert f"http://localhost:4280{path}" in local
