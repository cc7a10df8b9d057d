"""The `azureStaticWebApps` provider of the App Service authentication emulation, against real platform tokens."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from localdev.host.authsettings import AuthSettings
from localdev.host.static_web_apps import PlatformKeys, PlatformTokenValidator, site_audiences
from localdev.host.token_validation import Rejection
from localdev.linked_backend import platform_token
from localdev.linked_backend.keys import PlatformKey

SITE = "localhost:4280"
AUDIENCE = "http://127.0.0.1:7071"
REPO_AUTH_SETTINGS = Path(__file__).resolve().parents[3] / "infra" / "auth" / "authsettings.json"


@pytest.fixture
def key(tmp_path: Path) -> PlatformKey:
    return PlatformKey.load_or_create(tmp_path / "site")


@pytest.fixture
def validator(key: PlatformKey) -> PlatformTokenValidator:
    return PlatformTokenValidator(SITE, site_audiences({"WEBSITE_HOSTNAME": "localhost:7071"}),
                                  PlatformKeys(key.jwks_path))


def token(key: PlatformKey, *, site: str = SITE, audience: str = AUDIENCE, now: float | None = None) -> str:
    return platform_token.mint(key, platform_token.claims_for(site, audience, platform_token.anonymous_principal(),
                                                              now=now))


def rejected(validator: PlatformTokenValidator, value: str) -> Rejection:
    with pytest.raises(Rejection) as caught:
        validator.validated(value)
    return caught.value


def test_a_platform_token_of_the_linked_site_is_accepted(validator: PlatformTokenValidator, key: PlatformKey) -> None:
    value = token(key)
    assert validator.handles(value)
    entry = validator.validated(value)
    assert entry.provider == "azureStaticWebApps"
    assert entry.claims["iss"] == "https://localhost:4280/.auth" and entry.claims["aud"] == AUDIENCE
    assert entry.claims["exp"] - entry.claims["nbf"] == 300


def test_forged_platform_tokens_are_refused(validator: PlatformTokenValidator, key: PlatformKey,
                                            tmp_path: Path) -> None:
    other_key = PlatformKey.load_or_create(tmp_path / "elsewhere")
    assert rejected(validator, token(other_key)).code == "invalid_token"
    wrong_audience = rejected(validator, token(key, audience="http://127.0.0.1:1"))
    assert wrong_audience.code == "invalid_token" and "audience" in wrong_audience.detail
    expired = rejected(validator, token(key, now=time.time() - 3600))
    assert expired.status == 401 and expired.code == "token_expired"


def test_only_tokens_naming_the_site_as_issuer_go_to_this_provider(validator: PlatformTokenValidator,
                                                                   key: PlatformKey) -> None:
    assert not validator.handles(token(key, site="other-site.azurestaticapps.net"))
    assert not validator.handles("not-a-jwt")


def test_the_key_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    first = PlatformKey.load_or_create(tmp_path)
    validator = PlatformTokenValidator(SITE, (AUDIENCE,), PlatformKeys(first.jwks_path))
    validator.validated(token(first))
    first.private_key_path.unlink()
    second = PlatformKey.load_or_create(tmp_path)  # a new key, published in the same file
    os.utime(second.jwks_path, ns=(time.time_ns() + 10**9,) * 2)
    assert second.kid != first.kid
    assert validator.validated(token(second)).claims["iss"] == "https://localhost:4280/.auth"


def test_without_the_key_file_every_platform_token_is_refused(tmp_path: Path, key: PlatformKey) -> None:
    validator = PlatformTokenValidator(SITE, (AUDIENCE,), PlatformKeys(tmp_path / "missing.json"))
    assert "key" in rejected(validator, token(key)).detail


def test_site_audiences_are_the_site_urls() -> None:
    assert set(site_audiences({"WEBSITE_HOSTNAME": "localhost:7071"})) == {
        "http://localhost:7071", "https://localhost:7071", "http://127.0.0.1:7071", "https://127.0.0.1:7071"}
    assert site_audiences({"WEBSITE_HOSTNAME": "func.azurewebsites.net"}) == (
        "http://func.azurewebsites.net", "https://func.azurewebsites.net")
    assert site_audiences({}) == ()


def test_the_deployed_auth_settings_configure_the_provider() -> None:
    env = {"API_CLIENT_ID": "ca7a86f5-36ed-459f-b0e6-3acb0993c979", "SPA_CLIENT_ID": "f470f8c7-08c2-4e1a-800e-6a42aba7e306", "TENANT_ID": "51699e8e-eeb2-486e-94da-600eb1357656"}
    settings = AuthSettings.load(REPO_AUTH_SETTINGS, env)
    assert settings.swa_enabled and settings.swa_client_id == "localhost:4280"
    assert AuthSettings.load(REPO_AUTH_SETTINGS, {**env, "SWA_CLIENT_ID": "localhost:5000"}).swa_client_id == \
        "localhost:5000"
    validator = PlatformTokenValidator.from_environment(settings, {"WEBSITE_HOSTNAME": "localhost:7071"})
    assert validator.issuer == "https://localhost:4280/.auth"


def test_a_token_validated_before_is_not_decoded_again_to_pick_its_provider(
        validator: PlatformTokenValidator, key: PlatformKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """Picking the provider decodes the token, which costs more than the whole cached path: a token either
    provider accepted before is found by its digest first."""
    import asyncio

    from localdev.host.easyauth import EasyAuth
    from localdev.host.token_validation import TokenValidator, token_digest

    env = {"API_CLIENT_ID": "ca7a86f5-36ed-459f-b0e6-3acb0993c979", "TENANT_ID": "51699e8e-eeb2-486e-94da-600eb1357656",
           "SPA_CLIENT_ID": "f470f8c7-08c2-4e1a-800e-6a42aba7e306"}
    settings = AuthSettings.load(REPO_AUTH_SETTINGS, env)
    aad = TokenValidator(settings, env)
    auth = EasyAuth(settings, aad, platform=validator)
    platform_value = token(key)
    aad_value = "header.payload.signature"  # stands for a user token the aad provider validated before
    aad.cache.put(token_digest(aad_value), {"iss": settings.issuer, "exp": time.time() + 600})
    assert asyncio.run(auth._validated({"Authorization": f"Bearer {platform_value}"})).provider == "azureStaticWebApps"

    def no_decoding(self: PlatformTokenValidator, value: str) -> bool:
        raise AssertionError("the provider was picked by decoding the token again")

    monkeypatch.setattr(PlatformTokenValidator, "handles", no_decoding)
    assert asyncio.run(auth._validated({"Authorization": f"Bearer {platform_value}"})).provider == "azureStaticWebApps"
    assert asyncio.run(auth._validated({"Authorization": f"Bearer {aad_value}"})).provider == "aad"
    # An unknown token still goes through the provider check (and is refused by it here).
    with pytest.raises(AssertionError):
        asyncio.run(auth._validated({"Authorization": "Bearer other.token.value"}))
