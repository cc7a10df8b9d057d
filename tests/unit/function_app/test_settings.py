"""Settings: project names, App Service names, defaults, and `misconfigured` naming the setting."""
from __future__ import annotations

import pytest

from function_app.errors import Misconfigured
from function_app import services
from function_app.settings import ClientCertificate, ClientSecret, ManagedIdentityAssertion, load_settings, parse_issuer

from tests.unit.function_app.support import API, SPA, TENANT, base_env

KEY = "k1:" + "A" * 43 + "="  # a 256-bit key, base64


def test_defaults_for_a_minimal_configuration() -> None:
    s = load_settings({"API_CLIENT_ID": API, "TENANT_ID": TENANT})
    assert s.authority_host == "https://login.microsoftonline.com"
    assert s.authority == f"https://login.microsoftonline.com/{TENANT}"
    assert s.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert s.graph_scopes == ("User.Read",)
    assert s.report_graph_scopes == ("User.Read", "User.ReadBasic.All", "GroupMember.Read.All")
    assert s.api_scope == "user_impersonation"
    assert s.user_token_header == "X-User-Authorization"
    assert s.allowed_tenants == (TENANT,)
    assert s.allowed_client_apps is None
    assert s.diagnostics_enabled is False
    assert s.token_cache == "memory"
    assert s.credential is None
    assert s.is_microsoft_authority
    assert s.tls_verify is True


@pytest.mark.parametrize("issuer", [
    f"https://sts.windows.net/{TENANT}/",
    f"https://sts.windows.net/{TENANT}",
    f"https://login.microsoftonline.com/{TENANT}/v2.0",
    f"https://login.microsoftonline.com/{TENANT}/v2.0/",
])
def test_app_service_names_are_accepted(issuer: str) -> None:
    s = load_settings({"WEBSITE_AUTH_CLIENT_ID": API, "WEBSITE_AUTH_OPENID_ISSUER": issuer,
                       "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET": "s3cret"})
    assert s.api_client_id == API
    assert s.tenant_id == TENANT
    assert s.authority_host == "https://login.microsoftonline.com"
    assert s.credential == ClientSecret("s3cret")


def test_v2_issuer_of_another_cloud_sets_the_authority_host() -> None:
    host, tid = parse_issuer(f"https://login.microsoftonline.us/{TENANT.upper()}/v2.0")
    assert (host, tid) == ("https://login.microsoftonline.us", TENANT)
    s = load_settings({"API_CLIENT_ID": API, "WEBSITE_AUTH_OPENID_ISSUER": f"https://localhost:9443/{TENANT}/v2.0"})
    assert s.authority_host == "https://localhost:9443"
    assert not s.is_microsoft_authority


def test_explicit_authority_host_wins_over_the_issuer_host() -> None:
    s = load_settings({"API_CLIENT_ID": API, "AUTHORITY_HOST": "https://localhost:9443/",
                       "WEBSITE_AUTH_OPENID_ISSUER": f"https://sts.windows.net/{TENANT}/"})
    assert s.authority_host == "https://localhost:9443"
    assert s.authority_netloc == "localhost:9443"


def test_allowed_tenants_from_app_service_setting() -> None:
    other = "11111111-2222-3333-4444-555555555555"
    s = load_settings(base_env(WEBSITE_AUTH_AAD_ALLOWED_TENANTS=f"{TENANT}, {other}"))
    assert s.allowed_tenants == (TENANT, other)


def test_lists_accept_commas_and_spaces() -> None:
    s = load_settings(base_env(GRAPH_SCOPES="User.Read,  Mail.Read", ALLOWED_CLIENT_APPS=SPA.upper()))
    assert s.graph_scopes == ("User.Read", "Mail.Read")
    assert s.allowed_client_apps == (SPA,)


@pytest.mark.parametrize(("env", "setting"), [
    ({"TENANT_ID": TENANT}, "API_CLIENT_ID"),
    ({"API_CLIENT_ID": "not-a-guid", "TENANT_ID": TENANT}, "API_CLIENT_ID"),
    ({"API_CLIENT_ID": API}, "TENANT_ID"),
    ({"API_CLIENT_ID": API, "TENANT_ID": "contoso.onmicrosoft.com"}, "TENANT_ID"),
    ({"API_CLIENT_ID": API, "WEBSITE_AUTH_OPENID_ISSUER": "https://example.com/x"}, "WEBSITE_AUTH_OPENID_ISSUER"),
    ({"API_CLIENT_ID": API, "WEBSITE_AUTH_OPENID_ISSUER": "https://sts.windows.net/common/"},
     "WEBSITE_AUTH_OPENID_ISSUER"),
    ({"API_CLIENT_ID": API, "TENANT_ID": TENANT,
      "WEBSITE_AUTH_OPENID_ISSUER": "https://sts.windows.net/11111111-2222-3333-4444-555555555555/"}, "TENANT_ID"),
    (base_env(AUTHORITY_HOST="http://localhost:9443"), "AUTHORITY_HOST"),
    (base_env(GRAPH_BASE_URL="graph.microsoft.com"), "GRAPH_BASE_URL"),
    (base_env(GRAPH_SCOPES="User.Read offline_access"), "GRAPH_SCOPES"),
    (base_env(API_SCOPE="api://x/user_impersonation"), "API_SCOPE"),
    (base_env(ALLOWED_TENANTS="contoso"), "ALLOWED_TENANTS"),
    (base_env(USER_TOKEN_HEADER="X User"), "USER_TOKEN_HEADER"),
    (base_env(CA_BUNDLE="/nonexistent/ca.pem"), "CA_BUNDLE"),
    (base_env(DIAGNOSTICS_ENABLED="maybe"), "DIAGNOSTICS_ENABLED"),
    (base_env(TOKEN_CACHE="disk"), "TOKEN_CACHE"),
    (base_env(TOKEN_CACHE="redis", TOKEN_CACHE_KEYS=KEY), "REDIS_URL"),
    (base_env(TOKEN_CACHE="redis", REDIS_URL="redis://127.0.0.1:1/0"), "TOKEN_CACHE_KEYS"),
    (base_env(TOKEN_CACHE_KEYS="k1:not-base64!"), "TOKEN_CACHE_KEYS"),
    (base_env(MANAGED_IDENTITY_CLIENT_ID="0a1b2c3d-0000-0000-0000-000000000001"), "MANAGED_IDENTITY_CLIENT_ID"),
    (base_env(CLIENT_SECRET="", MANAGED_IDENTITY_CLIENT_ID="0a1b2c3d-0000-0000-0000-000000000001"),
     "IDENTITY_ENDPOINT"),
    (base_env(CLIENT_SECRET="", CLIENT_CERTIFICATE_PATH="/nonexistent.pem",
              CLIENT_CERTIFICATE_THUMBPRINT="A" * 40), "CLIENT_CERTIFICATE_PATH"),
    (base_env(CLIENT_SECRET="", CLIENT_CERTIFICATE_PATH="/etc/hostname"), "CLIENT_CERTIFICATE_THUMBPRINT"),
])
def test_misconfiguration_names_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(Misconfigured) as caught:
        load_settings(env)
    assert caught.value.setting == setting
    assert setting in caught.value.detail
    assert caught.value.status == 500 and caught.value.code == "misconfigured"


def test_misconfiguration_never_echoes_secret_values() -> None:
    with pytest.raises(Misconfigured) as caught:
        load_settings(base_env(MANAGED_IDENTITY_CLIENT_ID="0a1b2c3d-0000-0000-0000-000000000001"))
    assert "unit-test-secret" not in str(caught.value.detail)


def test_managed_identity_credential(tmp_path) -> None:
    s = load_settings(base_env(CLIENT_SECRET="", MANAGED_IDENTITY_CLIENT_ID="0A1B2C3D-0000-0000-0000-000000000001",
                               IDENTITY_ENDPOINT="http://localhost:8081/msi/token", IDENTITY_HEADER="h"))
    assert s.credential == ManagedIdentityAssertion("0a1b2c3d-0000-0000-0000-000000000001",
                                                    "http://localhost:8081/msi/token", "h")
    assert "header=" not in repr(s.credential)  # the identity header is a secret


def test_certificate_credential(tmp_path) -> None:
    pem = tmp_path / "api.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    s = load_settings(base_env(CLIENT_SECRET="", CLIENT_CERTIFICATE_PATH=str(pem),
                               CLIENT_CERTIFICATE_THUMBPRINT="ab:" * 19 + "ab"))
    assert s.credential == ClientCertificate(pem, "AB" * 20, None)


def test_require_credential_names_the_setting() -> None:
    s = load_settings(base_env(CLIENT_SECRET=""))
    with pytest.raises(Misconfigured) as caught:
        s.require_credential()
    assert caught.value.setting == "CLIENT_SECRET"


def test_secrets_are_not_in_repr() -> None:
    s = load_settings(base_env(TOKEN_CACHE="redis", REDIS_URL="redis://:pw@127.0.0.1:1/0",
                               TOKEN_CACHE_KEYS=KEY))
    text = repr(s)
    assert "unit-test-secret" not in text and ":pw@" not in text and "AAAA" not in text
    assert s.token_cache_keys == (("k1", bytes(32)),)


def test_services_read_the_settings_once_and_can_be_rebuilt(env) -> None:
    first = services.current()
    env.setenv("API_SCOPE", "access_as_user")
    assert services.current() is first and first.settings.api_scope == "user_impersonation"
    services.reset()
    assert services.current().settings.api_scope == "access_as_user"


def test_services_raise_until_the_settings_are_fixed(env) -> None:
    env.delenv("API_CLIENT_ID")
    with pytest.raises(Misconfigured):
        services.current()
    env.setenv("API_CLIENT_ID", API)
    assert services.current().settings.api_client_id == API


def test_importing_the_app_reads_no_settings(monkeypatch) -> None:
    import importlib
    import sys

    monkeypatch.delenv("API_CLIENT_ID", raising=False)
    monkeypatch.delenv("WEBSITE_AUTH_CLIENT_ID", raising=False)
    for name in [m for m in sys.modules if m == "main" or m.startswith("function_app")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("main")
    assert {f.get_function_name() for f in module.app.get_functions()} >= {
        "get_profile", "get_profile_photo", "get_config", "get_diagnostics"}


def test_relative_ca_bundle_resolves_from_the_app_root(monkeypatch, tmp_path) -> None:
    import function_app.settings as settings_module

    root, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    (root / ".localdev" / "certs").mkdir(parents=True)
    elsewhere.mkdir()
    ca = root / ".localdev" / "certs" / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(settings_module, "APP_ROOT", root)
    monkeypatch.chdir(elsewhere)
    s = load_settings(base_env(CA_BUNDLE=".localdev/certs/ca.pem"))
    assert s.ca_bundle == str(ca.resolve()) and s.tls_verify == s.ca_bundle


def test_admin_consent_link_names_the_registered_reply_url() -> None:
    s = load_settings(base_env(ADMIN_CONSENT_REDIRECT_URI="https://app.example.net/"))
    assert s.admin_consent_url == (f"https://idp.test/{TENANT}/adminconsent?client_id={API}"
                                   "&redirect_uri=https%3A%2F%2Fapp.example.net%2F")
    local = load_settings(base_env(ADMIN_CONSENT_REDIRECT_URI="http://localhost:4280/"))
    assert local.admin_consent_url.endswith("&redirect_uri=http%3A%2F%2Flocalhost%3A4280%2F")
    assert load_settings(base_env()).admin_consent_url == f"https://idp.test/{TENANT}/adminconsent?client_id={API}"


@pytest.mark.parametrize("value", ["http://app.example.net/", "ftp://localhost/", "https://app.example.net/#x",
                                   "not a url"])
def test_admin_consent_reply_url_must_be_one_entra_accepts(value: str) -> None:
    with pytest.raises(Misconfigured) as caught:
        load_settings(base_env(ADMIN_CONSENT_REDIRECT_URI=value))
    assert caught.value.setting == "ADMIN_CONSENT_REDIRECT_URI"
