"""azd and SWA CLI configuration: the parameters file matches main.bicep, azure.yaml names both services and
their hosts, the hooks exist, and `swa deploy` uploads the static front end only."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.bicep_model import INFRA, REPO_ROOT, is_required, outputs, parameters

MAIN = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"


def load_yaml_mapping(text: str) -> dict:
    """Reads the block-mapping subset of YAML azure.yaml uses (nested mappings and scalars, no lists)."""
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        assert sep, f"not a mapping line: {raw!r}"
        assert not key.startswith("- "), "lists are not used in azure.yaml"
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        value = value.strip()
        if value:
            parent[key] = value.strip("'\"")
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


@pytest.fixture(scope="module")
def azure_yaml() -> dict:
    return load_yaml_mapping((REPO_ROOT / "azure.yaml").read_text())


def test_parameters_file_matches_main_bicep():
    declared = parameters(MAIN)
    values = json.loads(PARAMETERS.read_text())["parameters"]
    assert set(values) <= set(declared), f"unknown parameters: {set(values) - set(declared)}"
    required = {name for name, p in declared.items() if is_required(p)}
    assert required <= set(values), f"required parameters without a value: {required - set(values)}"
    assert values["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert values["location"]["value"] == "${AZURE_LOCATION}"


def test_parameters_file_defaults_agree_with_main_bicep():
    declared = parameters(MAIN)
    values = json.loads(PARAMETERS.read_text())["parameters"]
    for name, entry in values.items():
        value = entry["value"]
        match = re.fullmatch(r"\$\{(\w+)(?:=(.*))?\}", value) if isinstance(value, str) else None
        default = declared[name].get("default")
        if match and match.group(2) is not None and default is not None:
            assert match.group(2) == str(default).lower() if isinstance(default, bool) else \
                match.group(2) == str(default), f"{name}: parameters file default {match.group(2)!r} != {default!r}"
        elif not match:
            assert value == default, f"{name}: {value!r} != {default!r}"


def test_azure_yaml_deploys_the_function_app_and_the_static_web_app(azure_yaml):
    assert azure_yaml["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    api = azure_yaml["services"]["api"]
    assert (api["project"], api["language"], api["host"]) == (".", "python", "function")
    web = azure_yaml["services"]["web"]
    assert (web["project"], web["host"]) == ("static_frontend", "staticwebapp")
    assert (REPO_ROOT / web["project"]).is_dir()
    # dist/ (build.mjs) sits outside static_frontend/, whose own staticwebapp.config.json is the local one.
    assert (REPO_ROOT / web["project"] / web["dist"]).resolve() == (REPO_ROOT / "dist").resolve()
    assert (REPO_ROOT / "main.py").is_file() and (REPO_ROOT / "host.json").is_file()


def test_azure_yaml_service_names_match_the_resource_tags(azure_yaml):
    text = MAIN.read_text()
    for service in azure_yaml["services"]:
        assert f"'azd-service-name': '{service}'" in text


@pytest.mark.parametrize("name", ["preprovision", "postprovision"])
def test_hooks_exist_for_both_shells(azure_yaml, name):
    hook = azure_yaml["hooks"][name]
    posix = REPO_ROOT / hook["posix"]["run"]
    windows = REPO_ROOT / hook["windows"]["run"]
    assert posix.is_file() and os.access(posix, os.X_OK)
    assert windows.is_file()
    assert hook["posix"]["continueOnError"] == hook["windows"]["continueOnError"] == "false"


def test_prepackage_vendors_msal(azure_yaml):
    prepackage = azure_yaml["services"]["web"]["hooks"]["prepackage"]
    for shell in ("posix", "windows"):
        assert "node static_frontend/scripts/build.mjs --clean-install" in prepackage[shell]["run"]
    assert (REPO_ROOT / "static_frontend" / "scripts" / "build.mjs").is_file()
    assert "vendor" in json.loads((REPO_ROOT / "package.json").read_text())["scripts"]


def test_azure_yaml_requires_the_azd_whose_bicep_loads_the_graph_extension(azure_yaml):
    # Issue 15, finding 5: azd compiles with its own Bicep; 1.17.0 bundles Bicep 0.36.1, the Graph extension's minimum.
    assert azure_yaml["requiredVersions"] == {"azd": ">= 1.17.0"}
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert config["extensions"]["microsoftGraphV1"].endswith("microsoftgraph/v1.0:1.0.0")


def _fake_tool(directory: Path, name: str, output: str) -> Path:
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho '{output}'\n")
    tool.chmod(0o755)
    return tool


def _preprovision(tmp_path, azd_output: str | None, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if azd_output is not None:
        _fake_tool(bin_dir, "azd", azd_output)
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", **env}
    return subprocess.run(["sh", str(INFRA / "hooks" / "preprovision.sh")], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("azd_output, ok", [
    ("azd version 1.16.1 (commit 0123abcd)", False),
    ("azd version 1.9.6 (commit 0123abcd)", False),
    ("azd version 1.17.0 (commit 0123abcd)", True),
    ("azd version 1.23.4 (commit 0123abcd)", True),
    ("azd version 2.0.0 (commit 0123abcd)", True),
    ("something else", False),
    (None, False),
])
def test_preprovision_hook_stops_an_azd_too_old_for_the_graph_extension(tmp_path, azd_output, ok):
    result = _preprovision(tmp_path, azd_output)
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "1.17.0" in result.stderr


@pytest.mark.parametrize("bicep_output, ok", [
    ("Bicep CLI version 0.33.93 (7a77c7f2a5)", False),
    ("Bicep CLI version 0.36.1 (a727ed087a)", True),
    ("Bicep CLI version 0.40.2 (a727ed087a)", True),
])
def test_preprovision_hook_checks_a_bicep_set_with_azd_bicep_tool_path(tmp_path, bicep_output, ok):
    bicep = _fake_tool(tmp_path, "bicep", bicep_output)
    result = _preprovision(tmp_path, "azd version 1.17.0 (commit 0123abcd)", AZD_BICEP_TOOL_PATH=str(bicep))
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "0.36.1" in result.stderr and "AZD_BICEP_TOOL_PATH" in result.stderr


def test_postprovision_hook_writes_only_public_settings(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AZURE_ENV_NAME": "dev",
        "AZURE_TENANT_ID": "33333333-3333-3333-3333-333333333333",
        "API_CLIENT_ID": "11111111-1111-1111-1111-111111111111",
        "SPA_CLIENT_ID": "22222222-2222-2222-2222-222222222222",
        "STATIC_WEB_APP_URL": "https://gentle-river-0123456789.5.azurestaticapps.net",
        "ADMIN_CONSENT_GRANTED": "false",
        "ADMIN_CONSENT_URL": "https://login.microsoftonline.com/3333/adminconsent?client_id=1111",
        "TOKEN_CACHE_KEYS": "k1:c2VjcmV0LWtleS1tYXRlcmlhbA==",
    }
    result = subprocess.run(["sh", str(INFRA / "hooks" / "postprovision.sh")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    written = (tmp_path / ".azure" / "dev" / "deployment.json").read_text()
    document = json.loads(written)
    assert document["apiClientId"] == env["API_CLIENT_ID"]
    assert document["adminConsentGranted"] is False
    assert "c2VjcmV0" not in written and "c2VjcmV0" not in result.stdout
    assert env["ADMIN_CONSENT_URL"] in result.stdout
    assert f"az ad app permission admin-consent --id {env['API_CLIENT_ID']}" in result.stdout
    assert f"az ad app permission admin-consent --id {env['SPA_CLIENT_ID']}" in result.stdout


def test_postprovision_hook_points_an_entra_only_environment_at_the_settings_writer(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AZURE_ENV_NAME": "local", "ENTRA_ONLY": "true",
           "ADMIN_CONSENT_GRANTED": "true"}
    result = subprocess.run(["sh", str(INFRA / "hooks" / "postprovision.sh")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "scripts/real_tenant_settings.py" in result.stdout
    assert json.loads((tmp_path / ".azure" / "local" / "deployment.json").read_text())["entraOnly"] is True


def test_postprovision_hook_warns_that_reports_need_redis_on_flex_consumption(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AZURE_ENV_NAME": "dev", "FUNCTION_PLAN": "FlexConsumption",
           "TOKEN_CACHE": "memory", "ADMIN_CONSENT_GRANTED": "true"}
    result = subprocess.run(["sh", str(INFRA / "hooks" / "postprovision.sh")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "ENABLE_REDIS_TOKEN_CACHE" in result.stdout


def test_main_outputs_what_the_hook_and_docs_use():
    names = set(outputs(MAIN))
    hook = (INFRA / "hooks" / "postprovision.sh").read_text()
    used = set(re.findall(r"\$\{(\w+):-", hook)) - {"AZURE_ENV_NAME"}
    assert used <= names, f"the hook reads values main.bicep does not output: {used - names}"
    assert {"API_CLIENT_ID", "SPA_CLIENT_ID", "STATIC_WEB_APP_URL", "FUNCTION_APP_NAME"} <= names


def test_swa_cli_config_deploys_the_static_front_end_only():
    config = json.loads((REPO_ROOT / "swa-cli.config.json").read_text())
    configurations = config["configurations"]
    (name,) = configurations
    assert name != "static_frontend", "`swa start static_frontend` (the local stack) must not pick it up"
    entry = configurations[name]
    assert entry["appLocation"] == "static_frontend"
    # The built dist/ and its production staticwebapp.config.json, never the local one in static_frontend/.
    assert (REPO_ROOT / entry["appLocation"] / entry["outputLocation"]).resolve() == (REPO_ROOT / "dist").resolve()
    assert (REPO_ROOT / entry["swaConfigLocation"]).resolve() == (REPO_ROOT / "dist").resolve()
    assert "apiLocation" not in entry, "the API is the linked function app, not a managed function"
    assert "deploymentToken" not in entry


def test_every_parameter_is_documented_in_the_deployment_guide():
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    values = json.loads(PARAMETERS.read_text())["parameters"]
    for name in parameters(MAIN):
        assert f"`{name}`" in guide, f"docs/deploy.md does not describe {name}"
        value = values.get(name, {}).get("value")
        variable = re.fullmatch(r"\$\{(\w+)(?:=.*)?\}", value) if isinstance(value, str) else None
        if variable:
            assert f"`{variable.group(1)}`" in guide, f"docs/deploy.md does not name {variable.group(1)}"


def test_deployment_guide_covers_both_paths_roles_and_clean_up():
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    for needed in ("azd up", "az deployment sub create", "func azure functionapp publish", "--python",
                   "swa deploy", "Application Developer", "Cloud Application Administrator",
                   "Privileged Role Administrator", "azd down --purge", "az ad app delete"):
        assert needed in guide, f"docs/deploy.md does not mention {needed}"
