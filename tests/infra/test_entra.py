"""Microsoft Entra app registrations through the Microsoft Graph Bicep extension: the tutorials' manual steps
(expose an API, add a client application, API permissions, admin consent) as declarations, a managed
identity instead of a client secret, and one source of truth for the delegated Graph permissions."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.infra.bicep_eval import TEST_TENANT, DeploymentFailed, Template
from tests.infra.bicep_model import (
    INFRA,
    REPO_ROOT,
    functions,
    modules,
    parameters,
    references,
    resources,
    strings,
    variables,
)

REGISTRATIONS = INFRA / "entra" / "app-registrations.bicep"
EXPOSURE = INFRA / "entra" / "api-exposure.bicep"
MAIN = INFRA / "main.bicep"
PERMISSIONS = INFRA / "entra" / "graph-permissions.json"

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
SPA_ID = "22222222-2222-4222-8222-222222222222"
API_ID = "11111111-1111-4111-8111-111111111111"
SITE = "gentle-river-0123456789.5.azurestaticapps.net"
STAND_INS = {"spaApp": {"appId": SPA_ID, "uniqueName": "spa"}, "apiApp": {"appId": API_ID, "uniqueName": "api"},
             "spaServicePrincipal": {"id": "spa-sp"}, "apiServicePrincipal": {"id": "api-sp"},
             "graphServicePrincipal": {"id": "graph-sp"}}
MAIN_REQUIRED = {"environmentName": "dev", "location": "swedencentral"}


def registrations(**params) -> Template:
    values = {"environmentName": "dev", "resourceToken": "tok", "apiGraphPermissions": ["User.Read"], **params}
    return Template(REGISTRATIONS, values, STAND_INS)


def main(**params) -> Template:
    return Template(MAIN, {**MAIN_REQUIRED, **params})


def provisioning_checks(template: Template) -> None:
    """Runs main.bicep's checks as the deployment does: through the resource group it writes first."""
    template.property(template.resource_body("rg"), "tags")


def _apps(path):
    return {r.symbol: r for r in resources(path).values() if r.type == "Microsoft.Graph/applications"}


def test_graph_permission_ids_are_the_well_known_ones_and_kept_in_one_file():
    assert json.loads(PERMISSIONS.read_text()) == WELL_KNOWN_GRAPH_SCOPES
    assert variables(REGISTRATIONS)["graphAppId"] == GRAPH_APP_ID
    loads = functions(variables(REGISTRATIONS)["graphDelegatedPermissionIds"], "load_json_content")
    assert [call["file_path"] for call in loads] == ["graph-permissions.json"]
    checks = functions(variables(MAIN)["knownGraphPermissions"], "load_json_content")
    assert [call["file_path"] for call in checks] == ["entra/graph-permissions.json"]


def test_spa_app_redirects_to_the_static_web_app_and_the_local_swa_cli():
    spa = registrations(staticWebAppHostname=SITE)
    body = spa.resource_body("spaApp")
    assert spa.property(body, "signInAudience") == "AzureADMyOrg"
    assert spa.property(body, "spa", "redirectUris") == [
        f"https://{SITE}/", f"https://{SITE}/redirect.html", "http://localhost:4280/",
        "http://localhost:4280/redirect.html"]
    entra_only = registrations()
    assert entra_only.property(entra_only.resource_body("spaApp"), "spa", "redirectUris") == [
        "http://localhost:4280/", "http://localhost:4280/redirect.html"]
    assert "web" not in _apps(REGISTRATIONS)["spaApp"].body, \
        "a SPA uses the spa platform (auth code + PKCE), not web redirect URIs"


def test_api_app_exposes_user_impersonation_preauthorizes_the_spa_and_issues_v2_tokens():
    api = registrations().var("apiSection")
    assert api["requestedAccessTokenVersion"] == 2
    (scope,) = api["oauth2PermissionScopes"]
    assert (scope["value"], scope["type"], scope["isEnabled"]) == ("user_impersonation", "User", True)
    assert scope["id"] == registrations(staticWebAppHostname=SITE).var("apiSection")["oauth2PermissionScopes"][0]["id"]
    assert variables(REGISTRATIONS)["userImpersonationScopeId"]["function"]["type"] == "guid", \
        "a deterministic id, stable across deployments"
    assert api["knownClientApplications"] == [SPA_ID]
    assert api["preAuthorizedApplications"] == [{"appId": SPA_ID, "delegatedPermissionIds": [scope["id"]]}]


def test_api_app_requests_and_is_granted_exactly_the_scopes_the_app_uses():
    # Issue 15, finding 1: the scopes become app settings and the app registration's permissions alike.
    deployment = main(graphScopes="User.Read  User.ReadBasic.All", reportGraphScopes="GroupMember.Read.All")
    provisioning_checks(deployment)
    permissions = deployment.var("apiGraphPermissions")
    assert permissions == ["User.Read", "User.ReadBasic.All", "GroupMember.Read.All", "openid", "profile",
                           "offline_access"]
    assert modules(MAIN)["appRegistrations"].params["apiGraphPermissions"] == "apiGraphPermissions"
    assert parameters(REGISTRATIONS)["apiGraphPermissions"].get("default") is None, "main.bicep is the only source"
    # What the function app asks Graph for at run time comes from the same parameters.
    assert deployment.output("GRAPH_SCOPES") == "User.Read User.ReadBasic.All"
    assert deployment.output("REPORT_GRAPH_SCOPES") == "GroupMember.Read.All"
    api_params = modules(MAIN)["api"].params
    assert "profileScopes" in strings(api_params["graphScopes"])
    assert "reportScopes" in strings(api_params["reportGraphScopes"])

    entra = registrations(apiGraphPermissions=permissions, grantAdminConsent=True)
    (graph_access,) = entra.property(entra.resource_body("apiApp"), "requiredResourceAccess")
    assert graph_access["resourceAppId"] == GRAPH_APP_ID
    assert graph_access["resourceAccess"] == [{"id": WELL_KNOWN_GRAPH_SCOPES[p], "type": "Scope"} for p in permissions]
    granted = entra.property(entra.resource_body("apiGraphConsent"), "scope")
    assert granted.split(" ") == permissions


@pytest.mark.parametrize("graph_scopes, report_scopes, named", [
    ("User.Read Mail.Read", "User.Read", "Mail.Read"),
    ("User.Read", "User.Read Calendars.Read", "Calendars.Read"),
    ("User.Read openid", "User.Read", "openid"),
    ("", "User.Read", "graphScopes"),
    ("User.Read", " ", "reportGraphScopes"),
])
def test_a_scope_the_deployment_cannot_request_stops_provisioning_and_is_named(graph_scopes, report_scopes, named):
    with pytest.raises(DeploymentFailed) as failure:
        provisioning_checks(main(graphScopes=graph_scopes, reportGraphScopes=report_scopes))
    assert named in failure.value.message


def test_the_registrations_module_on_its_own_names_an_unknown_permission():
    entra = registrations(apiGraphPermissions=["User.Read", "Sites.Read.All"])
    with pytest.raises(DeploymentFailed, match=r"Sites\.Read\.All.*graph-permissions\.json"):
        entra.property(entra.resource_body("apiApp"), "requiredResourceAccess")


def test_identifier_uri_is_a_second_step_that_cannot_drop_the_preauthorization():
    # Issue 15, finding 6: the first declaration carries everything but the identifier URI, and the Graph
    # extension's PATCH leaves properties a declaration omits unchanged, so re-provisioning never removes
    # the URI or the pre-authorization, not even between the two steps.
    first = _apps(REGISTRATIONS)["apiApp"].body
    assert "identifierUris" not in first, "api://{appId} needs the appId, which exists only after the first step"
    assert first["api"] == "apiSection"
    assert "preAuthorizedApplications" in variables(REGISTRATIONS)["apiSection"]
    outputs = {"apiSection": "apiSection", "apiWebRedirectUris": "adminConsentRedirectUris",
               "apiRequiredResourceAccess": "apiRequiredResourceAccess"}
    entra = registrations(staticWebAppHostname=SITE)
    for output, variable in outputs.items():
        assert entra.output(output) == entra.var(variable)

    second = _apps(EXPOSURE)["apiApp"].body
    assert second["uniqueName"] == "uniqueName"
    assert second["identifierUris"] == ["identifierUri"]
    assert variables(EXPOSURE)["identifierUri"] == "api://${appId}"
    assert (second["api"], second["web"]["redirectUris"], second["requiredResourceAccess"]) == \
        ("apiSection", "webRedirectUris", "requiredResourceAccess")
    assert set(second) - set(first) == {"identifierUris"}
    params = modules(MAIN)["apiExposure"].params
    assert "apiUniqueName" in strings(params["uniqueName"]) and "apiAppId" in strings(params["appId"])
    for parameter, output in (("apiSection", "apiSection"), ("webRedirectUris", "apiWebRedirectUris"),
                              ("requiredResourceAccess", "apiRequiredResourceAccess")):
        assert output in strings(params[parameter]), f"api-exposure's {parameter} is not the first step's {output}"
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert "https://learn.microsoft.com/graph/templates/concept-uniquely-named-resources" in guide


def test_api_app_registers_the_spa_origins_as_admin_consent_reply_urls():
    # Without a registered reply URL, /adminconsent answers AADSTS500113.
    hosted = registrations(staticWebAppHostname=SITE)
    assert hosted.property(hosted.resource_body("apiApp"), "web", "redirectUris") == [
        f"https://{SITE}/", "http://localhost:4280/"]
    assert hosted.output("adminConsentRedirectUri") == f"https://{SITE}/"
    entra_only = registrations()
    assert entra_only.output("adminConsentRedirectUri") == "http://localhost:4280/"
    assert entra_only.output("localAdminConsentRedirectUri") == "http://localhost:4280/"


def test_admin_consent_url_returns_to_a_registered_reply_url():
    deployment = Template(MAIN, MAIN_REQUIRED, {"appRegistrations": {"outputs": {
        "apiAppId": API_ID, "adminConsentRedirectUri": f"https://{SITE}/"}}})
    url = urlsplit(deployment.output("ADMIN_CONSENT_URL"))
    assert (url.scheme, url.netloc, url.path) == ("https", "login.microsoftonline.com",
                                                  f"/{deployment.var('tenantId')}/adminconsent")
    assert parse_qs(url.query) == {"client_id": [API_ID], "redirect_uri": [f"https://{SITE}/"]}
    assert deployment.output("ADMIN_CONSENT_REDIRECT_URI") == f"https://{SITE}/"


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
    assert registrations().var("federatedCredentialIssuer") == f"https://login.microsoftonline.com/{TEST_TENANT}/v2.0"
    assert variables(REGISTRATIONS)["federatedCredentialIssuer"] == \
        "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0"
    assert fic.body["subject"] == "managedIdentityPrincipalId"
    # No identity exists with entraOnly, so no credential either.
    assert registrations().resource_condition("apiFederatedCredential") is False
    assert registrations(managedIdentityPrincipalId="mi-object-id").resource_condition("apiFederatedCredential") is True
    wired = modules(MAIN)["appRegistrations"].params["managedIdentityPrincipalId"]
    assert references(wired) >= {"identity"} and "principalId" in strings(wired)


def test_no_client_secret_is_created():
    for path in (REGISTRATIONS, EXPOSURE):
        text = path.read_text()
        assert "passwordCredentials" not in text and "keyCredentials" not in text


def test_admin_consent_is_optional_off_by_default_and_never_empty():
    grants = [r for r in resources(REGISTRATIONS).values() if r.type == "Microsoft.Graph/oauth2PermissionGrants"]
    assert len(grants) == 3
    for grant in grants:
        assert grant.condition == "grantAdminConsent"
        assert grant.body["consentType"] == "AllPrincipals"
    entra = registrations(grantAdminConsent=True)
    by_pair = {(entra.property(entra.resource_body(g.symbol), "clientId"),
                entra.property(entra.resource_body(g.symbol), "resourceId")): g.symbol for g in grants}
    assert set(by_pair) == {("api-sp", "graph-sp"), ("spa-sp", "api-sp"), ("spa-sp", "graph-sp")}
    scope = lambda t, pair: t.property(t.resource_body(by_pair[pair]), "scope")  # noqa: E731
    assert scope(entra, ("spa-sp", "api-sp")) == "user_impersonation"
    assert scope(entra, ("spa-sp", "graph-sp")) == "openid profile offline_access"
    with pytest.raises(DeploymentFailed, match="nothing to consent to"):
        scope(registrations(grantAdminConsent=True, apiGraphPermissions=[]), ("api-sp", "graph-sp"))
    assert parameters(REGISTRATIONS)["grantAdminConsent"]["default"] is False
    assert parameters(MAIN)["grantAdminConsent"]["default"] is False


def test_registrations_reference_each_other_in_one_direction_only():
    body = {name: references(r.body) for name, r in resources(REGISTRATIONS).items()}
    assert "apiApp" not in body["spaApp"], "the SPA is created first and does not refer to the API"
    assert "spaApp" in references(variables(REGISTRATIONS)["apiSection"])
    assert "apiApp" not in body["apiApp"] and "apiApp" not in references(variables(REGISTRATIONS)["apiSection"])


def test_unique_names_are_stable_per_environment():
    names = variables(REGISTRATIONS)
    assert re.fullmatch(r"profile-spa-\$\{environmentName\}-\$\{resourceToken\}", names["spaUniqueName"])
    assert re.fullmatch(r"profile-api-\$\{environmentName\}-\$\{resourceToken\}", names["apiUniqueName"])


def test_every_redirect_uri_the_spa_uses_is_registered():
    # A redirect URI that is not registered fails sign-in with AADSTS50011.
    auth_js = REPO_ROOT / "static_frontend" / "js" / "auth.js"
    paths = set(re.findall(r"redirectUri:\s*`\$\{[^}]+\}(/[^`]*)`", auth_js.read_text()))
    assert paths, "static_frontend/js/auth.js sets its redirect URIs"
    spa = registrations(staticWebAppHostname=SITE)
    registered = spa.property(spa.resource_body("spaApp"), "spa", "redirectUris")
    local = main().param("localRedirectUris")
    for path in paths:
        assert f"https://{SITE}{path}" in registered
        assert f"http://localhost:4280{path}" in registered and f"http://localhost:4280{path}" in local
