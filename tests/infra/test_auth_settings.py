"""App Service authentication: infra deploys infra/auth/authsettings.json, the same file the local host's
authentication emulation reads, with its placeholders filled in, and that file locks the API down."""
from __future__ import annotations

import json
import re

from tests.infra.bicep_model import (
    AUTH_SETTINGS,
    INFRA,
    REPO_ROOT,
    auth_settings_document,
    bicep_files,
    functions,
    modules,
    one_resource,
    parse,
    rel,
    replace_chain,
    resolve,
    strings,
)

FUNCTION_APP = INFRA / "app" / "function-app.bicep"
PLACEHOLDERS = {"{{API_CLIENT_ID}}", "{{SPA_CLIENT_ID}}", "{{ISSUER}}", "{{SWA_CLIENT_ID}}"}


def _loaded_auth_files():
    """(bicep file, resolved path) of every loadTextContent/loadJsonContent of an auth settings file."""
    found = []
    for path in bicep_files():
        document = parse(path)
        for name in ("load_text_content", "load_json_content"):
            for call in functions(document, name):
                target = (path.parent / call["file_path"]).resolve()
                if target.parent.name == "auth":
                    found.append((path, target))
    return found


def test_infra_loads_the_auth_settings_file_the_local_host_reads():
    loaded = _loaded_auth_files()
    assert loaded, "the templates load infra/auth/authsettings.json instead of copying it"
    assert {target for _, target in loaded} == {AUTH_SETTINGS.resolve()}
    assert {rel(path) for path, _ in loaded} == {"infra/app/function-app.bicep"}
    # The local host's App Service authentication emulation defaults to that same file.
    host_sources = [p.read_text() for p in (REPO_ROOT / "localdev" / "host").glob("*.py")]
    assert any(re.search(r"infra[/\"\s,]+auth[/\"\s,]+authsettings\.json", text) for text in host_sources)


def test_authsettings_v2_properties_are_the_file_with_every_placeholder_filled():
    config = one_resource("Microsoft.Web/sites/config", name="authsettingsV2")
    assert config.file == FUNCTION_APP
    properties = resolve(FUNCTION_APP, config.body["properties"])
    assert properties["function"]["type"] == "json"
    source, replacements = replace_chain(FUNCTION_APP, properties["function"]["parameters"]["arg_1"])
    assert source["function"]["type"] == "load_text_content"
    assert (FUNCTION_APP.parent / source["function"]["parameters"]["file_path"]).resolve() == AUTH_SETTINGS
    filled = dict(replacements)
    assert set(filled) == PLACEHOLDERS == set(re.findall(r"\{\{[A-Z_]+\}\}", AUTH_SETTINGS.read_text()))
    assert filled["{{API_CLIENT_ID}}"] == "apiClientId"
    assert filled["{{SPA_CLIENT_ID}}"] == "spaClientId"
    assert filled["{{ISSUER}}"] == "issuer"
    # The azureStaticWebApps provider's client id is the linked static web app's default host name.
    assert filled["{{SWA_CLIENT_ID}}"] == "staticWebAppHostname"
    main_api = modules(INFRA / "main.bicep")["api"]
    assert "web" in strings(main_api.params["staticWebAppHostname"])
    assert "defaultHostname" in strings(main_api.params["staticWebAppHostname"])


def test_issuer_is_the_tenants_v2_issuer():
    issuer = resolve(FUNCTION_APP, "issuer")
    assert issuer == "${authorityHost}/${tenantId}/v2.0"


def test_auth_file_requires_authentication_and_answers_401():
    document = auth_settings_document()
    assert document["platform"]["enabled"] is True
    validation = document["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "Return401"
    # The SPA loads its sign-in settings before anyone is signed in.
    assert "/api/config" in validation["excludedPaths"]
    assert not any(p in ("/", "/*", "/api/*") for p in validation["excludedPaths"])
    assert document["httpSettings"]["requireHttps"] is True


def test_auth_file_has_the_microsoft_and_static_web_apps_providers():
    providers = auth_settings_document()["identityProviders"]
    swa = providers["azureStaticWebApps"]
    assert swa["enabled"] is True
    assert swa["registration"]["clientId"] == "{{SWA_CLIENT_ID}}"
    aad = providers["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"] == {"openIdIssuer": "{{ISSUER}}", "clientId": "{{API_CLIENT_ID}}"}
    assert "clientSecretSettingName" not in aad["registration"], "the API validates tokens; it signs no one in"
    assert set(aad["validation"]["allowedAudiences"]) == {"{{API_CLIENT_ID}}", "api://{{API_CLIENT_ID}}"}
    assert aad["validation"]["defaultAuthorizationPolicy"]["allowedApplications"] == ["{{SPA_CLIENT_ID}}"]


def test_filled_file_is_valid_json_with_no_placeholder_left():
    # What Bicep's replace() + json() produce for a deployment.
    values = {
        "{{API_CLIENT_ID}}": "11111111-1111-1111-1111-111111111111",
        "{{SPA_CLIENT_ID}}": "22222222-2222-2222-2222-222222222222",
        "{{ISSUER}}": "https://login.microsoftonline.com/33333333-3333-3333-3333-333333333333/v2.0",
        "{{SWA_CLIENT_ID}}": "gentle-river-0123456789.5.azurestaticapps.net",
    }
    text = AUTH_SETTINGS.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert "{{" not in text
    document = json.loads(text)
    aad = document["identityProviders"]["azureActiveDirectory"]
    assert aad["validation"]["allowedAudiences"] == [values["{{API_CLIENT_ID}}"],
                                                     "api://" + values["{{API_CLIENT_ID}}"]]
    assert document["identityProviders"]["azureStaticWebApps"]["registration"]["clientId"].endswith(
        ".azurestaticapps.net")


def test_no_token_store_the_api_reads_tokens_from_headers():
    assert auth_settings_document()["login"]["tokenStore"]["enabled"] is False
