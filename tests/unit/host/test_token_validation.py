"""Bearer tokens are validated like App Service's Microsoft provider does, with cached keys and results."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.host.authsettings import AuthSettings
from localdev.host.token_validation import KeysUnavailable, Rejection, TokenValidator
from tests.integration.host.issuer import API_CLIENT_ID, SPA_CLIENT_ID, USER_OID, LocalIssuer

REPO_AUTH_SETTINGS = Path(__file__).resolve().parents[3] / "infra" / "auth" / "authsettings.json"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    server = LocalIssuer().start()
    yield server
    server.stop()


def _validator(issuer: LocalIssuer, **env: str) -> TokenValidator:
    environ = {**issuer.env(), **env}
    return TokenValidator(AuthSettings.load(REPO_AUTH_SETTINGS, environ), environ)


def _validate(validator: TokenValidator, *tokens: str) -> list[Any]:
    async def run() -> list[Any]:
        results: list[Any] = []
        try:
            for token in tokens:
                try:
                    results.append(await validator.validate(token))
                except (Rejection, KeysUnavailable) as exc:
                    results.append(exc)
        finally:
            await validator.close()
        return results

    return asyncio.run(run())


def test_valid_v2_and_v1_tokens(issuer: LocalIssuer) -> None:
    v2, v1 = _validate(_validator(issuer), issuer.mint(), issuer.mint(version="1.0", aud=f"api://{API_CLIENT_ID}"))
    assert v2["oid"] == USER_OID and v2["azp"] == SPA_CLIENT_ID
    assert v1["iss"] == f"https://sts.windows.net/{issuer.tenant_id}/"


@pytest.mark.parametrize(
    ("claims", "code", "status"),
    [
        ({"exp": 1_000_000}, "token_expired", 401),
        ({"nbf": 4_000_000_000}, "invalid_token", 401),
        ({"aud": "https://graph.microsoft.com"}, "invalid_token", 401),
        ({"iss": "https://sts.windows.net/another-tenant/"}, "invalid_token", 401),
        ({"iss": "https://evil.example/tenant/v2.0"}, "invalid_token", 401),
        ({"exp": None}, "invalid_token", 401),
        ({"azp": "some-other-client"}, "invalid_token", 403),
    ],
)
def test_rejections(issuer: LocalIssuer, claims: dict[str, Any], code: str, status: int) -> None:
    (result,) = _validate(_validator(issuer), issuer.mint(**claims))
    assert isinstance(result, Rejection)
    assert (result.code, result.status) == (code, status)


def test_wrong_signature_unknown_kid_and_garbage(issuer: LocalIssuer) -> None:
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    results = _validate(_validator(issuer), issuer.mint(key=foreign), issuer.mint(kid="nope"), "not.a.jwt", "abc")
    assert all(isinstance(r, Rejection) and r.code == "invalid_token" for r in results)
    assert "signature" in results[0].detail


def test_keys_are_fetched_once_and_results_cached(issuer: LocalIssuer) -> None:
    before = dict(issuer.requests)
    token = issuer.mint()
    results = _validate(_validator(issuer), token, token, issuer.mint(), token)
    assert all(isinstance(r, dict) for r in results)
    assert issuer.requests["discovery"] - before["discovery"] == 1
    assert issuer.requests["jwks"] - before["jwks"] == 1


def test_rotated_key_is_picked_up_and_unknown_kid_refetch_is_rate_limited(issuer: LocalIssuer) -> None:
    validator = _validator(issuer, LOCALDEV_EASYAUTH_JWKS_REFETCH_SECONDS="0")

    async def across_rotation() -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            first = await validator.validate(issuer.mint())
            issuer.rotate()
            return first, await validator.validate(issuer.mint())
        finally:
            await validator.close()

    first, second = asyncio.run(across_rotation())
    assert first["oid"] == second["oid"] == USER_OID

    limited = _validator(issuer, LOCALDEV_EASYAUTH_JWKS_REFETCH_SECONDS="3600")
    before = issuer.requests["jwks"]
    results = _validate(limited, issuer.mint(), issuer.mint(kid="unknown-1"), issuer.mint(kid="unknown-2"))
    assert isinstance(results[0], dict)
    assert all(isinstance(r, Rejection) for r in results[1:])
    assert issuer.requests["jwks"] - before == 1


def test_jwks_outage_is_not_a_token_problem(issuer: LocalIssuer) -> None:
    issuer.jwks_status = 500
    try:
        (result,) = _validate(_validator(issuer), issuer.mint())
    finally:
        issuer.jwks_status = 200
    assert isinstance(result, KeysUnavailable)


def test_allowed_identities_policy(tmp_path: Path, issuer: LocalIssuer) -> None:
    document = json.loads(REPO_AUTH_SETTINGS.read_text())
    policy = document["identityProviders"]["azureActiveDirectory"]["validation"]["defaultAuthorizationPolicy"]
    policy["allowedPrincipals"] = {"identities": ["someone-else"]}
    path = tmp_path / "auth.json"
    path.write_text(json.dumps(document))
    validator = TokenValidator(AuthSettings.load(path, issuer.env()), issuer.env())
    (result,) = _validate(validator, issuer.mint())
    assert isinstance(result, Rejection) and result.status == 403
