"""The `claims` request parameter: capabilities, MFA, nbf, and malformed values (AADSTS90100)."""
from __future__ import annotations

import json

import pytest

from localdev.emulator.entra.claims_request import NO_CLAIMS, parse_claims, parse_claims_lenient
from localdev.emulator.entra.errors import OAuthError
from localdev.emulator.entra.revocation import Revocations


def test_msal_capabilities_merged_into_a_challenge() -> None:
    # The exact shape msal-python 1.39 sends: the challenge with xms_cc added to access_token.
    raw = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1700000001"},
                                       "xms_cc": {"values": ["CP1"]}}})
    parsed = parse_claims(raw)
    assert parsed.capabilities == ("CP1",) and parsed.cae_capable and parsed.not_before == 1700000001
    assert not parsed.mfa


@pytest.mark.parametrize("raw", [
    '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}',
    '{"access_token":{"polids":{"essential":true,"values":["p1"]}}}',
    '{"access_token":{"amr":{"essential":true,"values":["MFA"]}}}',
])
def test_mfa_requests(raw: str) -> None:
    assert parse_claims(raw).mfa


@pytest.mark.parametrize("raw", [None, "", "  ", "{}", '{"id_token":{"auth_time":{"essential":true}}}'])
def test_nothing_asked(raw: str | None) -> None:
    assert parse_claims(raw) == NO_CLAIMS


def test_only_known_capabilities_are_kept() -> None:
    assert parse_claims('{"access_token":{"xms_cc":{"values":["cp1","foo"]}}}').capabilities == ("cp1",)


@pytest.mark.parametrize("raw", ["{", "[]", '"x"', '{"access_token":[]}', '{"access_token":{"nbf":5}}',
                                 '{"access_token":{"nbf":{"value":"later"}}}',
                                 '{"access_token":{"nbf":{"value":true}}}'])
def test_malformed_claims_are_90100(raw: str) -> None:
    with pytest.raises(OAuthError) as caught:
        parse_claims(raw)
    assert caught.value.code == 90100 and caught.value.error == "invalid_request" and caught.value.status == 400
    assert parse_claims_lenient(raw) == NO_CLAIMS


def test_revocation_cutoff_is_the_next_whole_second() -> None:
    now = [1000.25]
    revocations = Revocations(clock=lambda: now[0])
    assert revocations.revoke("OID") == 1001
    assert revocations.revoked("oid", 1000.99) and not revocations.revoked("oid", 1001)
    assert revocations.revoked("oid", None) and not revocations.revoked("other", 0)
    now[0] = 999.0  # a clock that went back never moves a cutoff earlier
    assert revocations.revoke("oid") == 1001
    revocations.clear()
    assert revocations.cutoff("oid") is None
