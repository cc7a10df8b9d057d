"""Bearer tokens are validated like App Service's Microsoft provider does, with cached keys and results."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.host.authsettings import AuthSettings
import jwt

from localdev.host.token_validation import KeysUnavailable, Rejection, TokenValidator, ValidatedTokens
from tests.integration.host.issuer import API_CLIENT_ID, SPA_CLIENT_ID, USER_OID, LocalIssuer

REPO_AUTH_SETTINGS = Path(__file__).resolve().parents[3] / "infra" / "auth" / "authsettings.json"


def _validator(issuer: LocalIssuer, cache: ValidatedTokens | None = None, **env: str) -> TokenValidator:
    environ = {**issuer.env(), **env}
    return TokenValidator(AuthSettings.load(REPO_AUTH_SETTINGS, environ), environ, cache=cache)


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


# -- cache of successful validations ---------------------------------------------------------------------------

@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many signature verifications (jwt.decode with a key) ran."""
    count = [0]
    real = jwt.decode

    def decode(token: str, key: Any = None, *args: Any, **kwargs: Any) -> Any:
        if key is not None:
            count[0] += 1
        return real(token, key, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    return count


def test_a_repeated_token_is_verified_once(issuer: LocalIssuer, verifications: list[int]) -> None:
    token = issuer.mint()
    results = _validate(_validator(issuer), token, token, token)
    assert results[0] is results[1] is results[2]
    assert verifications[0] == 1


def test_cached_results_live_at_most_the_max_age_and_never_past_exp(issuer: LocalIssuer,
                                                                    verifications: list[int]) -> None:
    now = [time.time()]
    cache = ValidatedTokens(max_age_seconds=300, clock=lambda: now[0])
    validator = _validator(issuer, cache)
    long_lived, short_lived = issuer.mint(), issuer.mint(lifetime=20, name="short")

    async def run() -> None:
        try:
            await validator.validate(long_lived)
            await validator.validate(short_lived)
            now[0] += 19
            await validator.validate(long_lived)
            await validator.validate(short_lived)
            assert verifications[0] == 2
            now[0] += 2  # past the short token's exp: validated in full again (and accepted within the leeway)
            await validator.validate(long_lived)
            await validator.validate(short_lived)
            assert verifications[0] == 3
            await validator.validate(short_lived)  # inside the leeway after exp: never cached
            assert verifications[0] == 4
            now[0] += 300  # past the max age
            await validator.validate(long_lived)
            assert verifications[0] == 5
        finally:
            await validator.close()

    asyncio.run(run())


def test_the_cache_is_bounded(issuer: LocalIssuer, verifications: list[int]) -> None:
    cache = ValidatedTokens(max_entries=2)
    a, b, c = (issuer.mint(name=name) for name in "abc")
    _validate(_validator(issuer, cache), a, b, a, c, a, b)
    assert len(cache) == 2
    assert verifications[0] == 4  # a, b, c, then b again (evicted by c; a was used more recently)


def test_results_never_cross_tokens(issuer: LocalIssuer) -> None:
    other_oid = "00000000-0000-0000-0000-0000000000bb"
    mine, theirs = issuer.mint(), issuer.mint(oid=other_oid)
    header, _, signature = mine.split(".")
    spliced = ".".join((header, theirs.split(".")[1], signature))  # their claims under my signature
    results = _validate(_validator(issuer), mine, theirs, spliced, mine)
    assert results[0]["oid"] == USER_OID and results[1]["oid"] == other_oid
    assert isinstance(results[2], Rejection) and results[2].code == "invalid_token"
    assert results[3]["oid"] == USER_OID


def test_rejections_are_never_cached(issuer: LocalIssuer, verifications: list[int]) -> None:
    cache = ValidatedTokens()
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged, expired = issuer.mint(key=foreign), issuer.mint(exp=1_000_000)
    results = _validate(_validator(issuer, cache), forged, forged, expired, expired)
    assert all(isinstance(r, Rejection) for r in results)
    assert verifications[0] == 4 and len(cache) == 0


def test_a_key_outage_is_not_remembered(issuer: LocalIssuer) -> None:
    token = issuer.mint()
    validator = _validator(issuer, LOCALDEV_EASYAUTH_JWKS_REFETCH_SECONDS="0")

    async def run() -> tuple[Any, Any]:
        try:
            issuer.jwks_status = 500
            try:
                await validator.validate(token)
            except KeysUnavailable as exc:
                first: Any = exc
            finally:
                issuer.jwks_status = 200
            return first, await validator.validate(token)
        finally:
            await validator.close()

    first, second = asyncio.run(run())
    assert isinstance(first, KeysUnavailable) and second["oid"] == USER_OID
