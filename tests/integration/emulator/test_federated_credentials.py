"""Federated identity credentials with real MSAL Python: the managed identity's token for
`api://AzureADTokenExchange` as the API app's client assertion, and the errors a misconfigured
credential gets from Entra (70021, 700213, 7002138, 700229)."""
from __future__ import annotations

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import api_app, user_assertion

EXCHANGE = "api://AzureADTokenExchange"


def identity(emulator: Emulator) -> dict:
    return emulator.config["managed_identities"][0]


def identity_endpoint(emulator: Emulator, header: str | None = None, **params: str):  # noqa: ANN201
    query = {"resource": EXCHANGE, "api-version": "2019-08-01", "client_id": identity(emulator)["client_id"],
             **params}
    return emulator.session.get(emulator.config["identity_endpoint"], params=query,
                                headers={"X-IDENTITY-HEADER": header or emulator.config["identity_header"]})


def identity_token(emulator: Emulator, **claims: object) -> str:
    return emulator.mint(managed_identity=identity(emulator)["name"], claims=claims)


def obo_with(emulator: Emulator, assertion: str) -> dict:
    app = api_app(emulator, credential={"client_assertion": lambda: assertion})
    return app.acquire_token_on_behalf_of(user_assertion(emulator), ["User.Read"])


def assert_error(result: dict, code: int, error: str) -> None:
    assert "access_token" not in result, result
    assert result["error"] == error and result["error_codes"] == [code], result


def test_seeded_credential_is_the_one_infra_declares(emulator: Emulator) -> None:
    (credential,) = emulator.app("api")["federated_credentials"]
    assert credential == {"name": "function-app-managed-identity", "issuer": f"{emulator.authority}/v2.0",
                          "subject": identity(emulator)["principal_id"], "audiences": [EXCHANGE]}


def test_identity_endpoint_gives_the_identitys_token(fresh_emulator: Emulator) -> None:
    response = identity_endpoint(fresh_emulator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resource"] == EXCHANGE and body["token_type"] == "Bearer"
    assert body["client_id"] == identity(fresh_emulator)["client_id"] and int(body["expires_on"]) > 0
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == EXCHANGE and claims["iss"] == f"{fresh_emulator.authority}/v2.0"
    assert claims["sub"] == claims["oid"] == identity(fresh_emulator)["principal_id"]
    assert claims["idtyp"] == "app" and "scp" not in claims


def test_identity_endpoint_refuses_a_wrong_header_or_identity(fresh_emulator: Emulator) -> None:
    assert identity_endpoint(fresh_emulator, header="wrong").status_code == 401
    unknown = identity_endpoint(fresh_emulator, client_id="00000000-0000-0000-0000-000000000001")
    assert unknown.status_code == 400 and "No User Assigned" in unknown.json()["message"]


def test_identity_token_is_the_api_apps_client_assertion(fresh_emulator: Emulator) -> None:
    token = identity_endpoint(fresh_emulator).json()["access_token"]
    result = obo_with(fresh_emulator, token)
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"


def test_assertion_from_another_issuer_is_70021(fresh_emulator: Emulator) -> None:
    result = obo_with(fresh_emulator, identity_token(fresh_emulator, iss="https://login.microsoftonline.com/x/v2.0"))
    assert_error(result, 70021, "invalid_request")
    assert "Assertion Issuer: 'https://login.microsoftonline.com/x/v2.0'" in result["error_description"]


def test_assertion_for_another_audience_is_70021(fresh_emulator: Emulator) -> None:
    result = obo_with(fresh_emulator, identity_token(fresh_emulator, aud="api://SomethingElse"))
    assert_error(result, 70021, "invalid_request")
    assert "Assertion Audience: 'api://SomethingElse'" in result["error_description"]


def test_assertion_about_another_subject_is_700213(fresh_emulator: Emulator) -> None:
    other = "0f1e2d3c-4b5a-4697-8877-665544332211"
    result = obo_with(fresh_emulator, identity_token(fresh_emulator, sub=other, oid=other))
    assert_error(result, 700213, "invalid_client")
    assert f"assertion subject '{other}'" in result["error_description"]
    assert "case-sensitive comparison" in result["error_description"]


def test_subject_that_differs_only_in_case_is_7002138(fresh_emulator: Emulator) -> None:
    upper = identity(fresh_emulator)["principal_id"].upper()
    result = obo_with(fresh_emulator, identity_token(fresh_emulator, sub=upper))
    assert_error(result, 7002138, "invalid_client")
    assert "matches with case-insensitive comparison" in result["error_description"]


def test_user_token_as_federated_credential_is_700229(fresh_emulator: Emulator) -> None:
    user_token = user_assertion(fresh_emulator, audience=fresh_emulator.app("api")["client_id"])
    assert_error(obo_with(fresh_emulator, user_token), 700229, "invalid_client")


@pytest.mark.parametrize("change", ["signature", "expired"])
def test_forged_or_expired_identity_token_is_refused(fresh_emulator: Emulator, change: str) -> None:
    token = identity_token(fresh_emulator)
    if change == "signature":
        header, payload, _ = token.split(".")
        token = f"{header}.{payload}.{identity_token(fresh_emulator, jti='x').split('.')[2]}"
        assert_error(obo_with(fresh_emulator, token), 700027, "invalid_client")
    else:
        expired = fresh_emulator.mint(managed_identity=identity(fresh_emulator)["client_id"], expires_in=-60)
        assert_error(obo_with(fresh_emulator, expired), 700024, "invalid_client")


def test_fault_injection_produces_each_code_with_entras_error(fresh_emulator: Emulator) -> None:
    expected = {70021: "invalid_request", 700213: "invalid_client", 7002138: "invalid_client",
                50013: "invalid_grant", 50173: "invalid_grant"}
    for code, error in expected.items():
        fresh_emulator.fault(endpoint="token", aadsts=code)
        assert_error(obo_with(fresh_emulator, identity_token(fresh_emulator)), code, error)
