"""scripts/real_tenant_settings.py: from `azd env get-values` to a local.settings.json that the function app and
the local host accept for a real tenant (issue 17, item 1)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from function_app.settings import ClientSecret, load_settings
from localdev.host.authsettings import placeholder_values
from tests.infra.bicep_model import INFRA, REPO_ROOT, outputs

SCRIPT = REPO_ROOT / "scripts" / "real_tenant_settings.py"
TENANT = "8c3e5f1a-2b4d-4e6f-9a0b-1c2d3e4f5a6b"
API = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
SPA = "7a6b5c4d-3e2f-4a1b-9c0d-8e7f6a5b4c3d"
SECRET = "Xy38Q~not-a-real-secret-but-shaped-like-one00"
# What `azd env get-values` prints after `azd provision` with ENTRA_ONLY=true (dotenv, double-quoted).
AZD_VALUES = f'''AZURE_ENV_NAME="profile-dev"
AZURE_LOCATION="swedencentral"
AZURE_SUBSCRIPTION_ID="44444444-4444-4444-8444-444444444444"
AZURE_TENANT_ID="{TENANT}"
AZURE_RESOURCE_GROUP="rg-profile-dev"
ENTRA_ONLY="true"
AUTHORITY_HOST="https://login.microsoftonline.com"
GRAPH_BASE_URL="https://graph.microsoft.com/v1.0"
GRAPH_SCOPES="User.Read"
REPORT_GRAPH_SCOPES="User.Read User.ReadBasic.All GroupMember.Read.All"
API_CLIENT_ID="{API}"
API_IDENTIFIER_URI="api://{API}"
API_SCOPE="api://{API}/user_impersonation"
SPA_CLIENT_ID="{SPA}"
FUNCTION_APP_NAME=""
STATIC_WEB_APP_URL=""
TOKEN_CACHE="memory"
ADMIN_CONSENT_GRANTED="false"
ADMIN_CONSENT_REDIRECT_URI="http://localhost:4280/"
LOCAL_ADMIN_CONSENT_REDIRECT_URI="http://localhost:4280/"
ADMIN_CONSENT_URL="https://login.microsoftonline.com/{TENANT}/adminconsent?client_id={API}&redirect_uri=http%3A%2F%2Flocalhost%3A4280%2F"
'''


def run(tmp_path, *args, stdin=AZD_VALUES, secret=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if secret:
        env["CLIENT_SECRET"] = secret
    return subprocess.run([sys.executable, str(SCRIPT), *args], input=stdin, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_writes_settings_for_the_real_tenant_from_azd_values(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads((tmp_path / "local.settings.json").read_text())["Values"]
    assert values["TENANT_ID"] == TENANT
    assert values["API_CLIENT_ID"] == API
    assert values["SPA_CLIENT_ID"] == SPA
    assert values["ALLOWED_CLIENT_APPS"] == SPA, "the example's emulator SPA id would refuse every real token"
    assert values["AUTHORITY_HOST"] == "https://login.microsoftonline.com"
    assert values["GRAPH_BASE_URL"] == "https://graph.microsoft.com/v1.0"
    assert values["GRAPH_SCOPES"] == "User.Read"
    assert values["REPORT_GRAPH_SCOPES"] == "User.Read User.ReadBasic.All GroupMember.Read.All"
    assert values["ADMIN_CONSENT_REDIRECT_URI"] == "http://localhost:4280/"
    assert "CA_BUNDLE" not in values and "CLIENT_SECRET" not in values, "no emulator CA or emulator secret"
    example = json.loads((REPO_ROOT / "local.settings.example.json").read_text())
    assert values["PYTHON_SCRIPT_FILE_NAME"] == example["Values"]["PYTHON_SCRIPT_FILE_NAME"]
    # The next steps name the exact command for a local secret and the consent for both apps.
    assert f"az ad app credential reset --id {API} --append" in result.stderr
    assert f"az ad app permission admin-consent --id {API}" in result.stderr
    assert f"az ad app permission admin-consent --id {SPA}" in result.stderr


def test_written_settings_are_accepted_by_the_function_app_and_the_local_host(tmp_path):
    result = run(tmp_path, secret=SECRET)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "local.settings.json"
    values = json.loads(path.read_text())["Values"]
    settings = load_settings(values)
    assert settings.tenant_id == TENANT and settings.api_client_id == API
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.allowed_client_apps == (SPA,)
    assert settings.ca_bundle is None
    assert isinstance(settings.credential, ClientSecret)
    # The local host fills infra/auth/authsettings.json from the same values: the real tenant's v2 issuer.
    assert placeholder_values(values)["ISSUER"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    # The secret lands in the file, readable by its owner only, and nowhere else.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert "credential reset" not in result.stderr, "no secret step when a secret was given"


def test_writes_to_stdout_and_reads_from_a_file(tmp_path):
    (tmp_path / "values.txt").write_text(AZD_VALUES)
    result = run(tmp_path, "--from", "values.txt", "--output", "-", stdin="")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Values"]["API_CLIENT_ID"] == API
    assert not (tmp_path / "local.settings.json").exists()


def test_an_existing_settings_file_is_kept_without_force(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text('{"Values": {"CLIENT_SECRET": "keep-me"}}')
    result = run(tmp_path)
    assert result.returncode == 2 and "--force" in result.stderr
    assert "keep-me" in path.read_text()
    assert run(tmp_path, "--force").returncode == 0
    assert json.loads(path.read_text())["Values"]["API_CLIENT_ID"] == API


@pytest.mark.parametrize("drop, named", [
    ("API_CLIENT_ID", "API_CLIENT_ID"),
    ("LOCAL_ADMIN_CONSENT_REDIRECT_URI", "LOCAL_ADMIN_CONSENT_REDIRECT_URI"),
    ("AUTHORITY_HOST", "AUTHORITY_HOST"),
])
def test_missing_azd_values_are_named_and_nothing_is_written(tmp_path, drop, named):
    text = "\n".join(line for line in AZD_VALUES.splitlines() if not line.startswith(f"{drop}="))
    result = run(tmp_path, stdin=text)
    assert result.returncode == 2
    assert named in result.stderr and "ENTRA_ONLY" in result.stderr
    assert not (tmp_path / "local.settings.json").exists()


def test_input_that_is_not_azd_output_is_refused(tmp_path):
    result = run(tmp_path, stdin="this is not azd output\n")
    assert result.returncode == 2 and "azd env get-values" in result.stderr
    bad_id = AZD_VALUES.replace(f'SPA_CLIENT_ID="{SPA}"', 'SPA_CLIENT_ID="not-a-guid"')
    result = run(tmp_path, stdin=bad_id)
    assert result.returncode == 2 and "SPA_CLIENT_ID is not a GUID" in result.stderr


def test_every_value_the_script_reads_is_an_output_of_main_bicep():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("real_tenant_settings", SCRIPT)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = set(outputs(INFRA / "main.bicep"))
    assert set(module.FROM_AZD) | {"ADMIN_CONSENT_GRANTED"} <= declared
    for line in AZD_VALUES.splitlines():
        key = line.split("=", 1)[0]
        if not key.startswith("AZURE_") or key in ("AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_LOCATION"):
            assert key in declared, f"the sample azd output has {key}, which main.bicep does not output"
