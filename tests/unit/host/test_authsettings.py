"""The host reads the same authsettingsV2 file infra deploys, with placeholders filled locally."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from localdev.host.authsettings import LOCAL_SWA_CLIENT_ID, AuthSettings, AuthSettingsError, substitute

REPO_AUTH_SETTINGS = Path(__file__).resolve().parents[3] / "infra" / "auth" / "authsettings.json"
# Product settings as the app reads them (function_app.settings): the host takes its placeholder values from there.
API, SPA, TID = "ca7a86f5-36ed-459f-b0e6-3acb0993c979", "f470f8c7-08c2-4e1a-800e-6a42aba7e306", "51699e8e-eeb2-486e-94da-600eb1357656"
ENV = {"API_CLIENT_ID": API, "SPA_CLIENT_ID": SPA, "TENANT_ID": TID, "AUTHORITY_HOST": "https://localhost:9443/"}


def test_repository_file_loads_with_placeholders_replaced() -> None:
    settings = AuthSettings.load(REPO_AUTH_SETTINGS, ENV)
    assert settings.enabled and settings.aad_enabled
    assert settings.require_authentication
    assert settings.unauthenticated_action == "Return401"
    assert settings.issuer == f"https://localhost:9443/{TID}/v2.0"
    assert settings.client_id == API
    assert set(settings.audiences) == {API, f"api://{API}"}
    assert settings.allowed_applications == (SPA,)
    assert settings.tenant_id == TID
    assert settings.accepted_issuers[-1] == f"https://sts.windows.net/{TID}/"
    assert settings.is_excluded("/api/config")
    assert settings.is_excluded("/API/Config/")
    assert not settings.is_excluded("/api/get-profile")


def test_issuer_defaults_to_the_public_cloud() -> None:
    env = {k: v for k, v in ENV.items() if k != "AUTHORITY_HOST"}
    assert AuthSettings.load(REPO_AUTH_SETTINGS, env).issuer == f"https://login.microsoftonline.com/{TID}/v2.0"


def test_swa_client_id_has_a_local_value() -> None:
    text = '{"clientId": "{{SWA_CLIENT_ID}}"}'
    assert json.loads(substitute(text, {})) == {"clientId": LOCAL_SWA_CLIENT_ID}
    assert json.loads(substitute(text, {"SWA_CLIENT_ID": "swa"})) == {"clientId": "swa"}


def test_other_placeholders_come_from_the_environment_json_escaped() -> None:
    assert json.loads(substitute('{"v": "{{ODD}}"}', {"ODD": 'a"b'})) == {"v": 'a"b'}


def test_missing_values_are_named() -> None:
    with pytest.raises(AuthSettingsError, match="API_CLIENT_ID.*TENANT_ID"):
        AuthSettings.load(REPO_AUTH_SETTINGS, {"SPA_CLIENT_ID": "spa"})


def test_wildcard_excluded_paths_and_full_resource_shape(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"properties": {
        "platform": {"enabled": True},
        "globalValidation": {"requireAuthentication": True, "unauthenticatedClientAction": "Return403",
                             "excludedPaths": ["/api/public/*"]},
        "identityProviders": {"azureActiveDirectory": {"enabled": True, "registration": {
            "openIdIssuer": "https://issuer/t/v2.0", "clientId": "c"}}},
    }}))
    settings = AuthSettings.load(path, {})
    assert settings.unauthenticated_action == "Return403"
    assert settings.is_excluded("/api/public/ping")
    assert not settings.is_excluded("/api/private")
    assert settings.audiences == ("c",)


def test_unknown_action_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"globalValidation": {"unauthenticatedClientAction": "Maybe"}}))
    with pytest.raises(AuthSettingsError, match="Maybe"):
        AuthSettings.load(path, {})


def test_azure_static_web_apps_provider_needs_a_client_id(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"platform": {"enabled": True}, "identityProviders": {
        "azureStaticWebApps": {"enabled": True, "registration": {}}}}))
    with pytest.raises(AuthSettingsError, match="azureStaticWebApps"):
        AuthSettings.load(path, {})
    path.write_text(json.dumps({"platform": {"enabled": True}, "identityProviders": {
        "azureStaticWebApps": {"enabled": False, "registration": {"clientId": "site"}}}}))
    assert AuthSettings.load(path, {}).swa_enabled is False
