"""`auth/verdict.py`: PyJWT's refusal of a really signed token comes back as the failure that caused it."""
from __future__ import annotations

import time

import pytest

from function_app.auth.verdict import Failure, Refusal, decode_verified
from tests.unit.function_app.support import API, AUTHORITY_HOST, TENANT, mint, private_key

ISSUER = f"{AUTHORITY_HOST}/{TENANT}/v2.0"
CHECKS = {"algorithms": ["RS256"], "audience": [API], "issuer": [ISSUER],
          "options": {"require": ["exp", "iss", "aud", "oid"]}}


def refusal(token: str, key_id: str = "k1", **checks: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        decode_verified(token, private_key(key_id).public_key(), **(CHECKS | checks))
    return caught.value


def test_a_valid_token_gives_its_claims() -> None:
    claims = decode_verified(mint(), private_key("k1").public_key(), **CHECKS)
    assert claims["aud"] == API and claims["iss"] == ISSUER


@pytest.mark.parametrize(("token", "failure"), [
    (lambda: mint(exp=int(time.time()) - 120), Failure.EXPIRED),
    (lambda: mint(nbf=int(time.time()) + 600), Failure.NOT_YET_VALID),
    (lambda: mint(aud="api://someone-else"), Failure.AUDIENCE),
    (lambda: mint(iss="https://elsewhere.test/v2.0"), Failure.ISSUER),
    (lambda: mint(kid="other-key"), Failure.SIGNATURE),
])
def test_each_refusal_names_the_check_that_failed(token, failure) -> None:
    refused = refusal(token())
    assert refused.failure is failure
    assert refused.claim is None


def test_a_missing_required_claim_is_named() -> None:
    refused = refusal(mint(oid=None))
    assert refused.failure is Failure.MISSING_CLAIM and refused.claim == "oid"
    assert refused.worded({Failure.MISSING_CLAIM: "no '{claim}' here"}, "other") == "no 'oid' here"


def test_any_other_refusal_is_invalid_and_takes_the_callers_fallback() -> None:
    refused = refusal(mint(), algorithms=["RS512"])  # an algorithm the caller does not accept
    assert refused.failure is Failure.INVALID
    assert refused.worded({Failure.EXPIRED: "expired"}, "could not be validated") == "could not be validated"


def test_options_reach_pyjwt_unchanged() -> None:
    expired = mint(exp=int(time.time()) - 120)
    claims = decode_verified(expired, private_key("k1").public_key(),
                             **(CHECKS | {"options": {"verify_exp": False, "require": ["exp"]}}))
    assert claims["exp"] < time.time()
    assert refusal(expired, leeway=0).failure is Failure.EXPIRED
    decode_verified(expired, private_key("k1").public_key(), **(CHECKS | {"leeway": 300}))
