"""Identity headers look like App Service's, and callers can never supply them."""
from __future__ import annotations

import base64
import json

from multidict import CIMultiDict

from localdev.host.principal import (NAME_CLAIM_TYPE, ROLE_CLAIM_TYPE, auth_me_entry, principal_headers,
                                     strip_platform_headers)

CLAIMS = {
    "aud": "api://app", "iss": "https://login.example/tid/v2.0", "exp": 1700000000, "nbf": 1699990000,
    "oid": "oid-1", "tid": "tid-1", "scp": "user_impersonation", "roles": ["Reader", "Writer"],
    "preferred_username": "adele@contoso.test", "name": "Adele Vance", "azp": "spa-id", "ver": "2.0",
    "xms_flag": True, "nested": {"a": 1},
}


def _decoded(headers: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(headers["X-MS-CLIENT-PRINCIPAL"]))


def test_principal_header_is_app_service_json() -> None:
    headers = principal_headers(CLAIMS)
    document = _decoded(headers)
    assert document["auth_typ"] == "aad"
    assert document["name_typ"] == NAME_CLAIM_TYPE
    assert document["role_typ"] == ROLE_CLAIM_TYPE
    claims = {(c["typ"], c["val"]) for c in document["claims"]}
    # Mapped claim types, one entry per list item, every value a string.
    assert ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid-1") in claims
    assert ("http://schemas.microsoft.com/identity/claims/tenantid", "tid-1") in claims
    assert ("http://schemas.microsoft.com/identity/claims/scope", "user_impersonation") in claims
    assert (ROLE_CLAIM_TYPE, "Reader") in claims and (ROLE_CLAIM_TYPE, "Writer") in claims
    assert ("preferred_username", "adele@contoso.test") in claims
    assert ("name", "Adele Vance") in claims
    assert ("exp", "1700000000") in claims
    assert ("xms_flag", "true") in claims
    assert ("nested", '{"a":1}') in claims
    assert all(isinstance(c["val"], str) for c in document["claims"])


def test_id_name_and_idp_headers() -> None:
    headers = principal_headers(CLAIMS)
    assert headers["X-MS-CLIENT-PRINCIPAL-ID"] == "oid-1"
    assert headers["X-MS-CLIENT-PRINCIPAL-NAME"] == "adele@contoso.test"
    assert headers["X-MS-CLIENT-PRINCIPAL-IDP"] == "aad"


def test_name_falls_back_to_upn_for_v1_tokens() -> None:
    headers = principal_headers({"oid": "o", "upn": "user@contoso.test", "name": "User"})
    assert headers["X-MS-CLIENT-PRINCIPAL-NAME"] == "user@contoso.test"


def test_auth_me_entry_never_contains_a_token() -> None:
    entry = auth_me_entry(CLAIMS)
    assert entry["provider_name"] == "aad"
    assert entry["user_id"] == "adele@contoso.test"
    assert entry["expires_on"].startswith("2023-11-14T22:13:20")
    assert "access_token" not in entry and "id_token" not in entry


def test_every_x_ms_header_is_stripped_and_others_kept() -> None:
    incoming = CIMultiDict([
        ("X-MS-CLIENT-PRINCIPAL", "forged"), ("x-ms-client-principal-id", "forged"),
        ("X-Ms-Client-Principal-Name", "forged"), ("X-MS-CLIENT-PRINCIPAL-IDP", "forged"),
        ("X-MS-TOKEN-AAD-ACCESS-TOKEN", "forged"), ("X-MS-TOKEN-AAD-ID-TOKEN", "forged"),
        ("Authorization", "Bearer abc"), ("X-User-Authorization", "Bearer abc"), ("Accept", "a"), ("Accept", "b"),
    ])
    stripped = strip_platform_headers(incoming)
    assert not [k for k in stripped if k.lower().startswith("x-ms-")]
    assert stripped["Authorization"] == "Bearer abc"
    assert stripped["X-User-Authorization"] == "Bearer abc"
    assert stripped.getall("Accept") == ["a", "b"]


def test_the_static_web_apps_provider_is_named_as_the_identity_provider() -> None:
    claims = {"iss": "https://localhost:4280/.auth", "aud": "http://127.0.0.1:7071", "sub": "site-guid", "prn": "e30="}
    headers = principal_headers(claims, "azureStaticWebApps")
    assert headers["X-MS-CLIENT-PRINCIPAL-IDP"] == "azureStaticWebApps"
    assert headers["X-MS-CLIENT-PRINCIPAL-ID"] == "site-guid"
    assert _decoded(headers)["auth_typ"] == "azureStaticWebApps"
    assert auth_me_entry(claims, "azureStaticWebApps")["provider_name"] == "azureStaticWebApps"
