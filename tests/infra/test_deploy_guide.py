"""docs/deploy.md says what the templates do: the parameters table is main.bicep's own parameters and
descriptions, the anonymous routes are the auth file's, the tool versions are the ones azure.yaml and the
preprovision hook enforce, and every provisioning check is listed."""
from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep_model import AUTH_SETTINGS, INFRA, REPO_ROOT, parameters

MAIN = INFRA / "main.bicep"
GUIDE = REPO_ROOT / "docs" / "deploy.md"
PARAMETERS_FILE = INFRA / "main.parameters.json"


def guide() -> str:
    return GUIDE.read_text()


def section(title: str) -> str:
    """The text of the `## title` / `### title` section, up to the next heading of the same or a higher level."""
    text = guide()
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert match, f"docs/deploy.md has no section {title!r}"
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[:end.start()] if end else rest


def _description(param: dict) -> str:
    (description,) = [d["argument"] for d in param["decorators"] if d["type"] == "description"]
    return description.replace("\\'", "'")


def _default(param: dict) -> str:
    default = param.get("default")
    if default is None:
        return "(required)"
    if default == "":
        return "empty"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, list):
        return ", ".join(f"`{item}`" for item in default)
    return f"`{default}`"


def expected_parameter_rows() -> dict[str, str]:
    """The table row of each main.bicep parameter, built from the template and its parameters file."""
    values = json.loads(PARAMETERS_FILE.read_text())["parameters"]
    rows = {}
    for name, param in parameters(MAIN).items():
        value = values.get(name, {}).get("value")
        variable = re.fullmatch(r"\$\{(\w+)(?:=.*)?\}", value) if isinstance(value, str) else None
        source = f"`{variable.group(1)}`" if variable else "(parameters file)"
        rows[name] = f"| `{name}` | {source} | {_default(param)} | {_description(param)} |"
    return rows


def test_parameters_table_is_main_bicep_parameters_with_their_own_descriptions():
    rows = [re.match(r"\| `(\w+)` \|", line) for line in section("Parameters").splitlines()]
    documented = {row.group(1): row.string for row in rows if row}
    expected = expected_parameter_rows()
    assert set(documented) == set(expected), (
        f"undocumented: {sorted(set(expected) - set(documented))}, not parameters: "
        f"{sorted(set(documented) - set(expected))}")
    for name, row in expected.items():
        assert documented[name] == row, f"docs/deploy.md's row for {name} should read:\n{row}"


def test_every_anonymous_route_is_documented_as_anonymous():
    # Issue 15, finding 4: the guide named /api/config only.
    excluded = json.loads(AUTH_SETTINGS.read_text())["globalValidation"]["excludedPaths"]
    anonymous = section("Anonymous routes")
    for path in excluded:
        assert f"`{path}`" in anonymous, f"{path} is excluded from App Service authentication but not documented"
    documented = set(re.findall(r"`(/api/[\w./-]+)`", anonymous))
    assert documented <= set(excluded), f"documented as anonymous but not excluded: {documented - set(excluded)}"


def test_diagnostics_are_stated_to_be_anonymous_whenever_they_are_on():
    anonymous = " ".join(section("Anonymous routes").split())
    assert "`/api/diagnostics`" in anonymous and "`DIAGNOSTICS_ENABLED`" in anonymous
    assert "anyone" in anonymous.lower() and "404" in anonymous


def test_tool_versions_are_the_ones_azd_enforces():
    # Issue 15, finding 5: azd uses its own Bicep, so the minimum is an azd version.
    before = " ".join(section("Before you start").split())
    hook = (INFRA / "hooks" / "preprovision.sh").read_text()
    min_azd = re.search(r"^MIN_AZD=(\S+)$", hook, re.M).group(1)
    min_bicep = re.search(r"^MIN_BICEP=(\S+)$", hook, re.M).group(1)
    assert (min_azd, min_bicep) == ("1.17.0", "0.36.1")
    assert f"azd {min_azd}" in before and f"Bicep {min_bicep}" in before
    assert "requiredVersions" in before and "AZD_BICEP_TOOL_PATH" in before
    assert "microsoftgraph/v1.0:1.0.0" in before
    for source in ("https://learn.microsoft.com/graph/templates/bicep/whats-new",
                   "https://github.com/Azure/azure-dev/blob/main/cli/azd/CHANGELOG.md"):
        assert source in before, f"the version facts cite {source}"
    assert "which brings Bicep" not in guide(), "the Azure CLI's Bicep is not the one `azd up` uses"


@pytest.mark.parametrize("needle", [
    "graphScopes", "reportGraphScopes", "graph-permissions.json", "openid", "tokenCacheKeys",
    "enableRedisTokenCache", "entraOnly", "maximumInstanceCount", "localRedirectUris", "grantAdminConsent",
    "azd", "AZD_BICEP_TOOL_PATH",
])
def test_the_provisioning_checks_are_listed(needle):
    checks = section("What provisioning checks for you")
    assert f"`{needle}`" in checks or needle in checks.split(), f"the checks list does not mention {needle}"


def test_platform_facts_are_cited():
    text = guide()
    for source in (
        # Flex Consumption's maximum instance count bounds and per-function scale groups.
        "https://learn.microsoft.com/azure/azure-functions/event-driven-scaling#limit-scale-out",
        # Static Web Apps "bring your own functions" hosting plans.
        "https://learn.microsoft.com/azure/static-web-apps/apis-functions",
        # Elastic Premium without Azure Files (package URL read with the identity).
        "https://learn.microsoft.com/azure/azure-functions/storage-considerations#create-an-app-without-azure-files",
        # The Graph extension deploys to the public cloud only.
        "https://learn.microsoft.com/graph/templates/limitations",
        # Who can grant tenant-wide consent.
        "https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent",
        # The local secret command.
        "https://learn.microsoft.com/cli/azure/ad/app/credential",
    ):
        assert source in text, f"docs/deploy.md does not cite {source}"


def test_admin_consent_is_stated_early_and_known_clients_are_not_called_combined_consent():
    text = guide()
    intro = " ".join(text[:text.index("\n## ")].split())
    assert "GroupMember.Read.All" in intro and "administrator" in intro.lower()
    assert "openid profile offline_access" in intro
    assert "combined consent" not in text.replace("no combined consent", "")
    consent = section("Admin consent")
    for needed in ("az ad app permission admin-consent --id", "Grant admin consent for", "ADMIN_CONSENT_URL",
                   "knownClientApplications", "pre-authorized"):
        assert needed in consent, f"the admin consent section does not mention {needed}"


def test_deploy_prerequisites_cover_roles_costs_clouds_ci_and_manual_paths():
    before = " ".join(section("Before you start").split())
    for needed in ("Cloud Application Administrator", "Application Administrator", "public cloud",
                   "Static Web Apps Standard", "Redis", "Log Analytics"):
        assert needed in before, f"'Before you start' does not mention {needed}"
    ci = section("CI/CD with a service principal")
    for needed in ("Application.ReadWrite.OwnedBy", "DelegatedPermissionGrant.ReadWrite.All", "appRoleAssignments",
                   "azd pipeline config"):
        assert needed in ci
    manual = section("Manual path")
    assert manual.split("```bash\n", 1)[1].lstrip().startswith("az login")
    cleanup = section("Clean up")
    assert re.search(r'API_CLIENT_ID=\$\(azd env get-value API_CLIENT_ID\)', cleanup)
    assert re.search(r'SPA_CLIENT_ID=\$\(azd env get-value SPA_CLIENT_ID\)', cleanup)
    assert cleanup.index("get-value API_CLIENT_ID") < cleanup.index("azd down")


def test_readme_real_tenant_steps_use_the_entra_only_switch_and_the_writer():
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("### Pointing the local stack at a real tenant")
    steps = readme[start:readme.index("\n## ", start)]
    for needed in ("ENTRA_ONLY", "azd env get-values | .venv/bin/python scripts/real_tenant_settings.py",
                   "ALLOWED_CLIENT_APPS", "http://localhost:4280/redirect.html", "--append",
                   "az ad app credential reset --id", "az ad app permission admin-consent --id",
                   ".venv/bin/python -m localdev host"):
        assert needed in steps, f"the README's real-tenant steps do not mention {needed}"
    assert not re.search(r"(?<![/\w])python(3)? -m", steps), "bare `python` is not the project's interpreter"
    assert (REPO_ROOT / "scripts" / "real_tenant_settings.py").is_file()
    assert "\n## Entra-only: app registrations for the local stack\n" in guide(), "the README links this section"
