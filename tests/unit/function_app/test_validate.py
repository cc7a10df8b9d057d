"""Token validation with locally generated RSA keys and an in-memory JWKS fetcher."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from function_app.auth.jwks import FetchError, JwksCache, discovery_urls
from function_app.auth.validate import TokenValidator, ValidatedTokens
from function_app.errors import IdentityUnavailable, InsufficientScope, InvalidToken, TokenExpired
from function_app.settings import load_settings
from tests.unit.function_app.support import (API, AUTHORITY_HOST, SPA, TENANT, USER_OID, base_env, jwk, mint,
                                             private_key)

OTHER_TENANT = "11111111-2222-3333-4444-555555555555"


class FakeFetcher:
    def __init__(self, kids: tuple[str, ...] = ("k1",)) -> None:
        self.kids = list(kids)
        self.calls: list[str] = []
        self.down = False

    def __call__(self, url: str) -> Any:
        self.calls.append(url)
        if self.down:
            raise FetchError(f"{url}: HTTP 503")
        if url.endswith("openid-configuration"):
            return {"jwks_uri": f"{AUTHORITY_HOST}/{TENANT}/discovery/v2.0/keys"}
        return {"keys": [jwk(k) for k in self.kids] + [{"kty": "EC", "kid": "ec", "crv": "P-256"}]}

    def jwks_calls(self) -> int:
        return sum(1 for url in self.calls if url.endswith("/keys"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_validator(fetcher: FakeFetcher | None = None, clock: Clock | None = None,
                   results: ValidatedTokens | None = None, **env: str):
    settings = load_settings(base_env(**env))
    jwks = JwksCache(discovery_urls(settings.authority_host, settings.tenant_id), fetcher or FakeFetcher(),
                     clock=clock or Clock())
    return TokenValidator(settings, jwks, cache=results)


def test_valid_v2_token() -> None:
    principal = make_validator().validate(mint(), "X-User-Authorization")
    assert principal.user_key == f"{TENANT}.{USER_OID}"
    assert principal.scopes == ("user_impersonation",)
    assert principal.client_app_id == SPA
    assert principal.token_version == "2.0"
    assert principal.public_claims()["aud"] == API
    assert "name" not in principal.public_claims()


def test_valid_v1_token_with_api_uri_audience() -> None:
    token = mint(iss=f"https://sts.windows.net/{TENANT}/", aud=f"api://{API}", ver="1.0", azp=None, appid=SPA,
                 scp="openid user_impersonation")
    principal = make_validator().validate(token, "Authorization")
    assert principal.token_version == "1.0"
    assert principal.client_app_id == SPA


@pytest.mark.parametrize("overrides", [
    {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"},  # another authority host
    {"iss": f"{AUTHORITY_HOST}/{TENANT}/v2.0/"},
    {"iss": f"https://sts.windows.net/{TENANT}"},
    {"iss": f"{AUTHORITY_HOST}/{OTHER_TENANT}/v2.0"},  # issuer tenant differs from tid
    {"tid": "common", "iss": f"{AUTHORITY_HOST}/common/v2.0"},
    {"aud": "00000003-0000-0000-c000-000000000000"},
    {"aud": f"api://{API}/user_impersonation"},
    {"tid": None},
])
def test_tokens_for_someone_else_are_rejected_with_a_header_hint(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken) as caught:
        make_validator().validate(mint(**overrides), "Authorization")
    assert "X-User-Authorization" in caught.value.detail


def test_swa_style_platform_token_gets_the_hint() -> None:
    with pytest.raises(InvalidToken) as caught:
        make_validator().validate("not-a-jwt", "Authorization")
    assert "Static Web Apps" in caught.value.detail and "X-User-Authorization" in caught.value.detail


def test_expired_token_with_leeway() -> None:
    now = int(time.time())
    validator = make_validator()
    validator.validate(mint(exp=now - 30), "Authorization")  # inside the 60 s leeway
    with pytest.raises(TokenExpired) as caught:
        validator.validate(mint(exp=now - 120), "Authorization")
    assert caught.value.status == 401 and caught.value.code == "token_expired"


def test_not_yet_valid_token() -> None:
    now = int(time.time())
    make_validator().validate(mint(nbf=now + 30), "Authorization")
    with pytest.raises(InvalidToken):
        make_validator().validate(mint(nbf=now + 600), "Authorization")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("kind", ["string", "bool"])
def test_time_claims_must_be_numbers(claim: str, kind: str) -> None:
    value = int(time.time()) + (3600 if claim == "exp" else -60)
    wrong = str(value) if kind == "string" else True
    with pytest.raises(InvalidToken) as caught:
        make_validator().validate(mint(**{claim: wrong}), "Authorization")
    assert caught.value.status == 401 and caught.value.code == "invalid_token"


@pytest.mark.parametrize("scp", ["User.Read", "user_impersonation_extra", "user_imp", "openid profile", ""])
def test_scope_must_match_exactly(scp: str) -> None:
    with pytest.raises(InsufficientScope) as caught:
        make_validator().validate(mint(scp=scp), "Authorization")
    assert caught.value.status == 403
    assert 'error="insufficient_scope"' in caught.value.challenge()


def test_custom_api_scope() -> None:
    make_validator(API_SCOPE="access_as_user").validate(mint(scp="openid access_as_user"), "Authorization")


def test_app_only_token_is_refused() -> None:
    with pytest.raises(InsufficientScope) as caught:
        make_validator().validate(mint(scp=None, roles=["Profile.Read.All"]), "Authorization")
    assert "App-only" in caught.value.detail


@pytest.mark.parametrize("oid", [None, "", "not-a-guid"])
def test_oid_is_required(oid: str | None) -> None:
    with pytest.raises(InvalidToken):
        make_validator().validate(mint(oid=oid), "Authorization")


def test_tenant_allow_list() -> None:
    token = mint(tid=OTHER_TENANT, iss=f"{AUTHORITY_HOST}/{OTHER_TENANT}/v2.0")
    with pytest.raises(InvalidToken):
        make_validator().validate(token, "Authorization")
    principal = make_validator(ALLOWED_TENANTS=f"{TENANT},{OTHER_TENANT}").validate(token, "Authorization")
    assert principal.tenant_id == OTHER_TENANT


def test_client_app_allow_list() -> None:
    validator = make_validator(ALLOWED_CLIENT_APPS=SPA)
    validator.validate(mint(), "Authorization")
    with pytest.raises(InvalidToken):
        validator.validate(mint(azp="006ee29a-d1fb-4ca6-8524-17ac2a0a53a7"), "Authorization")
    with pytest.raises(InvalidToken):
        validator.validate(mint(azp=None), "Authorization")


@pytest.mark.parametrize("headers", [
    {"jku": "https://evil.example/keys"},
    {"x5u": "https://evil.example/cert"},
    {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
    {"crit": ["exp"]},
])
def test_headers_that_choose_their_own_key_are_refused(headers: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        make_validator().validate(mint(headers=headers), "Authorization")


def test_only_rs256() -> None:
    validator = make_validator()
    with pytest.raises(InvalidToken):
        validator.validate(mint(alg="RS512"), "Authorization")
    with pytest.raises(InvalidToken):
        validator.validate(mint(alg="HS256", key="k" * 32), "Authorization")
    with pytest.raises(InvalidToken):
        validator.validate(mint(alg="ES256", key=ec.generate_private_key(ec.SECP256R1())), "Authorization")
    unsigned = jwt.encode({"aud": API}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        validator.validate(unsigned, "Authorization")


def test_signature_by_an_unpublished_key_is_rejected() -> None:
    forged = jwt.encode(__import__("tests.unit.function_app.support", fromlist=["claims"]).claims(),
                        private_key("attacker"), algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken) as caught:
        make_validator().validate(forged, "Authorization")
    assert "signature" in caught.value.detail


def test_missing_kid() -> None:
    token = jwt.encode(__import__("tests.unit.function_app.support", fromlist=["claims"]).claims(),
                       private_key("k1"), algorithm="RS256")
    with pytest.raises(InvalidToken):
        make_validator().validate(token, "Authorization")


# -- JWKS cache ---------------------------------------------------------------------------------------------

def test_keys_are_cached() -> None:
    fetcher = FakeFetcher()
    validator = make_validator(fetcher)
    for _ in range(5):
        validator.validate(mint(), "Authorization")
    assert fetcher.jwks_calls() == 1
    assert sum(url.endswith("openid-configuration") for url in fetcher.calls) == 2  # v2 and v1 discovery


def test_unknown_kid_refetches_at_most_once_per_five_minutes() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    validator = make_validator(fetcher, clock)
    validator.validate(mint(), "Authorization")
    fetcher.kids.append("k2")  # rotation: a new key is published
    clock.now += 1
    validator.validate(mint(kid="k2"), "Authorization")  # first unknown kid: refetch right away
    assert fetcher.jwks_calls() == 2
    for _ in range(20):  # forged kids can't make us hammer the identity provider
        with pytest.raises(InvalidToken):
            validator.validate(mint(kid="forged", key=private_key("k1")), "Authorization")
    assert fetcher.jwks_calls() == 2
    clock.now += 301
    with pytest.raises(InvalidToken):
        validator.validate(mint(kid="forged", key=private_key("k1")), "Authorization")
    assert fetcher.jwks_calls() == 3


class SlowFetcher(FakeFetcher):
    """Key fetches take a while, so requests carrying a new kid arrive while the refetch is in flight."""

    def __call__(self, url: str) -> Any:
        if url.endswith("/keys"):
            time.sleep(0.05)
        return super().__call__(url)


def test_requests_arriving_together_with_a_rotated_key_all_pass_after_one_refetch() -> None:
    fetcher, clock = SlowFetcher(), Clock()
    validator = make_validator(fetcher, clock)
    validator.validate(mint(), "Authorization")
    fetcher.kids.append("k2")
    clock.now += 1
    token = mint(kid="k2")
    with ThreadPoolExecutor(max_workers=16) as pool:
        principals = list(pool.map(lambda _: validator.validate(token, "Authorization"), range(16)))
    assert {p.object_id for p in principals} == {USER_OID}
    assert fetcher.jwks_calls() == 2  # the cold fetch and one refetch for the new kid


def test_rotation_keeps_working_for_new_keys_published_before_use() -> None:
    fetcher, clock = FakeFetcher(("k1",)), Clock()
    validator = make_validator(fetcher, clock)
    validator.validate(mint(kid="k1"), "Authorization")
    fetcher.kids = ["k3"]
    clock.now += 400
    assert validator.validate(mint(kid="k3"), "Authorization").object_id == USER_OID


def test_cold_cache_fetch_failure_is_identity_unavailable() -> None:
    fetcher = FakeFetcher()
    fetcher.down = True
    with pytest.raises(IdentityUnavailable) as caught:
        make_validator(fetcher).validate(mint(), "Authorization")
    assert caught.value.status == 503
    assert int(caught.value.headers["Retry-After"]) > 0


def test_expired_keys_keep_working_while_the_provider_is_down() -> None:
    """Past the 24 h refresh but inside the last-known-good lifetime (25 h after the last successful fetch)."""
    fetcher, clock = FakeFetcher(), Clock()
    validator = make_validator(fetcher, clock, results=ValidatedTokens(max_entries=0))  # every call reaches JWKS
    validator.validate(mint(), "Authorization")
    fetcher.down = True
    clock.now += 24.5 * 3600
    validator.validate(mint(), "Authorization")
    calls = fetcher.calls.copy()
    validator.validate(mint(), "Authorization")  # the failed refresh is not retried on every request
    assert fetcher.calls == calls
    fetcher.down = False
    clock.now += 61
    validator.validate(mint(), "Authorization")
    assert len(fetcher.calls) > len(calls)


# -- cache of successful validations ---------------------------------------------------------------------------

class CountingDecode:
    """Counts signature verifications (jwt.decode with a key) made by the validator."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.verified = 0
        real = jwt.decode

        def decode(token: str, key: Any = None, *args: Any, **kwargs: Any) -> Any:
            if key is not None:
                self.verified += 1
            return real(token, key, *args, **kwargs)

        monkeypatch.setattr(jwt, "decode", decode)


def test_a_repeated_token_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    validator = make_validator()
    token = mint()
    first = validator.validate(token, "Authorization")
    for _ in range(5):
        assert validator.validate(token, "X-User-Authorization") is first
    assert counter.verified == 1


def test_cached_results_expire_after_the_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    now = [time.time()]
    validator = make_validator(results=ValidatedTokens(max_age_seconds=300, clock=lambda: now[0]))
    token = mint()
    validator.validate(token, "Authorization")
    now[0] += 299
    validator.validate(token, "Authorization")
    assert counter.verified == 1
    now[0] += 2
    validator.validate(token, "Authorization")  # older than 5 minutes: validated in full again
    assert counter.verified == 2


def test_cached_results_end_at_the_tokens_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    real_now = int(time.time())
    now = [float(real_now)]
    results = ValidatedTokens(max_age_seconds=300, clock=lambda: now[0])
    validator = make_validator(results=results)
    token = mint(exp=real_now + 30)
    validator.validate(token, "Authorization")
    now[0] += 29
    validator.validate(token, "Authorization")
    assert counter.verified == 1
    now[0] += 1  # at exp: the cached result is gone; PyJWT (real clock, 60 s leeway) decides again
    validator.validate(token, "Authorization")
    assert counter.verified == 2
    assert len(results) == 0  # not re-cached: its exp has passed by the cache's clock
    validator.validate(token, "Authorization")
    assert counter.verified == 3


def test_a_token_inside_the_leeway_after_exp_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    results = ValidatedTokens()
    validator = make_validator(results=results)
    token = mint(exp=int(time.time()) - 10)  # expired, still accepted with the 60 s leeway
    validator.validate(token, "Authorization")
    validator.validate(token, "Authorization")
    assert counter.verified == 2
    assert len(results) == 0


def test_the_cache_is_bounded_and_least_recently_used_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    results = ValidatedTokens(max_entries=2)
    validator = make_validator(results=results)
    a, b, c = (mint(oid=oid) for oid in ("00000000-0000-0000-0000-00000000000a",
                                         "00000000-0000-0000-0000-00000000000b",
                                         "00000000-0000-0000-0000-00000000000c"))
    validator.validate(a, "Authorization")
    validator.validate(b, "Authorization")
    validator.validate(a, "Authorization")  # a is now the most recently used
    validator.validate(c, "Authorization")  # evicts b
    assert len(results) == 2 and counter.verified == 3
    validator.validate(a, "Authorization")
    assert counter.verified == 3
    validator.validate(b, "Authorization")
    assert counter.verified == 4


def test_cached_results_never_cross_users_or_tokens() -> None:
    validator = make_validator()
    ana = mint()
    other_oid = "00000000-0000-0000-0000-0000000000bb"
    bob = mint(oid=other_oid)
    assert validator.validate(ana, "Authorization").object_id == USER_OID
    assert validator.validate(bob, "Authorization").object_id == other_oid
    assert validator.validate(ana, "Authorization").object_id == USER_OID
    # Ana's claims with a signature that doesn't match: a different string, so a full (failing) validation.
    header, payload, signature = ana.split(".")
    forged = ".".join((header, mint(oid=other_oid).split(".")[1], signature))
    with pytest.raises(InvalidToken):
        validator.validate(forged, "Authorization")
    tampered = ana[:-4] + ("AAAA" if not ana.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        validator.validate(tampered, "Authorization")


def test_failures_are_never_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecode(monkeypatch)
    results = ValidatedTokens()
    validator = make_validator(results=results)
    bad = mint(kid="k1", key=private_key("k2"))  # signed by a key the tenant doesn't publish under k1
    for _ in range(3):
        with pytest.raises(InvalidToken):
            validator.validate(bad, "Authorization")
    assert counter.verified == 3 and len(results) == 0
    for _ in range(2):
        with pytest.raises(InsufficientScope):
            validator.validate(mint(scp="User.Read"), "Authorization")
    assert len(results) == 0


def test_a_failure_while_keys_are_unavailable_is_not_remembered() -> None:
    fetcher, clock = FakeFetcher(), Clock()
    fetcher.down = True
    validator = make_validator(fetcher, clock)
    token = mint()
    with pytest.raises(IdentityUnavailable):
        validator.validate(token, "Authorization")
    fetcher.down = False
    clock.now += 400  # past the JWKS cache's own retry back-off
    assert validator.validate(token, "Authorization").object_id == USER_OID


def test_cached_results_still_respect_the_allow_lists() -> None:
    # The allow-lists are static per process; a shared cache shows the re-check on every hit.
    results = ValidatedTokens()
    token = mint(tid=OTHER_TENANT, iss=f"{AUTHORITY_HOST}/{OTHER_TENANT}/v2.0")
    lenient = make_validator(results=results, ALLOWED_TENANTS=f"{TENANT},{OTHER_TENANT}")
    assert lenient.validate(token, "Authorization").tenant_id == OTHER_TENANT
    with pytest.raises(InvalidToken):
        make_validator(results=results).validate(token, "Authorization")
    with pytest.raises(InvalidToken):
        make_validator(results=results, ALLOWED_TENANTS=f"{TENANT},{OTHER_TENANT}",
                       ALLOWED_CLIENT_APPS="006ee29a-d1fb-4ca6-8524-17ac2a0a53a7").validate(token, "Authorization")


def test_non_ascii_tokens_are_validated_without_caching() -> None:
    results = ValidatedTokens()
    validator = make_validator(results=results)
    with pytest.raises(InvalidToken):
        validator.validate(mint() + "\u00e9", "Authorization")
    assert len(results) == 0


def test_concurrent_validations_of_many_tokens_stay_consistent() -> None:
    validator = make_validator(results=ValidatedTokens(max_entries=8))
    oids = [f"00000000-0000-0000-0000-{i:012x}" for i in range(24)]
    tokens = {oid: mint(oid=oid) for oid in oids}

    def check(i: int) -> bool:
        oid = oids[i % len(oids)]
        return validator.validate(tokens[oid], "Authorization").object_id == oid

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(check, range(400)))
