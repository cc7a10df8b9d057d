"""Parser differentials inside signed tokens, identifiers, and the Authorization scheme separator.

Every token here is correctly signed with the tenant's key: the validator must refuse it for what its bytes
say, before PyJWT (which accepts all of these) reads it."""
from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from function_app.auth.extract import extract_token
from function_app.auth.segments import SegmentError, decode_compact, decode_segment
from function_app.errors import InvalidToken, Misconfigured
from function_app.settings import load_settings
from tests.unit.function_app.support import AUTHORITY_HOST, SPA, TENANT, USER_OID, base_env, claims, private_key
from tests.unit.function_app.test_validate import make_validator

HEADER = '{"alg":"RS256","typ":"JWT","kid":"k1"}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_raw(header: bytes | str, payload: bytes | str) -> str:
    """Sign exact header and payload bytes with the published key k1 (any JSON text, valid or not)."""
    header_bytes = header.encode() if isinstance(header, str) else header
    payload_bytes = payload.encode() if isinstance(payload, str) else payload
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}".encode()
    signature = private_key("k1").sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64(signature)


def payload_json(**overrides: Any) -> str:
    return json.dumps(claims(**overrides), separators=(",", ":"))


def refused(token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        make_validator().validate(token, "X-User-Authorization")
    return caught.value


def test_the_raw_signer_makes_tokens_the_validator_accepts() -> None:
    """The control: the same construction with clean JSON is accepted."""
    assert make_validator().validate(sign_raw(HEADER, payload_json()), "Authorization").object_id == USER_OID


# -- duplicate member names ---------------------------------------------------------------------------------

def with_duplicate(name: str, first: Any, second: Any) -> str:
    body = claims()
    body.pop(name, None)
    text = json.dumps(body, separators=(",", ":"))[:-1]
    return text + f',"{name}":{json.dumps(first)},"{name}":{json.dumps(second)}}}'


@pytest.mark.parametrize("payload", [
    with_duplicate("oid", "00000000-0000-0000-0000-000000000001", USER_OID),
    with_duplicate("aud", "00000003-0000-0000-c000-000000000000", claims()["aud"]),
    with_duplicate("scp", "User.Read", "user_impersonation"),
    with_duplicate("tid", "11111111-2222-3333-4444-555555555555", TENANT),
    with_duplicate("exp", 1, int(time.time()) + 3600),
    payload_json()[:-1] + ',"nested":{"a":1,"a":2}}',
], ids=["oid", "aud", "scp", "tid", "exp", "nested"])
def test_duplicate_claims_are_refused(payload: str) -> None:
    assert "same member twice" in refused(sign_raw(HEADER, payload)).detail


def test_duplicate_header_members_are_refused() -> None:
    # The classic differential: one reader sees "none", another "RS256".
    header = '{"alg":"none","alg":"RS256","typ":"JWT","kid":"k1"}'
    assert "same member twice" in refused(sign_raw(header, payload_json())).detail
    refused(sign_raw('{"alg":"RS256","kid":"k2","kid":"k1"}', payload_json()))


# -- numbers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "null"])
def test_time_claims_must_be_finite_numbers(claim: str, literal: str) -> None:
    body = json.dumps({k: v for k, v in claims().items() if k != claim}, separators=(",", ":"))[:-1]
    refused(sign_raw(HEADER, body + f',"{claim}":{literal}}}'))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999"])
def test_non_finite_numbers_anywhere_are_refused(literal: str) -> None:
    refused(sign_raw(HEADER, payload_json()[:-1] + f',"custom":{literal}}}'))


# -- encodings -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_payloads_that_are_not_plain_utf8_are_refused(encoding: str) -> None:
    refused(sign_raw(HEADER, payload_json().encode(encoding)))


def test_header_in_utf16_or_with_a_bom_is_refused() -> None:
    refused(sign_raw(HEADER.encode("utf-16"), payload_json()))
    refused(sign_raw(b"\xef\xbb\xbf" + HEADER.encode(), payload_json()))


def test_invalid_utf8_and_lone_surrogates_are_refused() -> None:
    refused(sign_raw(HEADER, payload_json().encode()[:-1] + b',"nickname":"\xc3\x28"}'))
    refused(sign_raw(HEADER, payload_json()[:-1] + ',"nickname":"\\ud800"}'))  # a JSON escape of a lone surrogate
    refused(sign_raw(HEADER, payload_json()[:-1] + ',"\\udfff":"x"}'))
    assert make_validator().validate(sign_raw(HEADER, payload_json()[:-1] + ',"nickname":"\\ud83d\\ude00"}'),
                                     "Authorization").object_id == USER_OID  # a surrogate pair is fine


def test_deep_nesting_is_refused_not_a_crash() -> None:
    """Nesting beyond 32 levels is refused before any recursive parser sees it."""
    refused(sign_raw(HEADER, payload_json()[:-1] + ',"deep":' + "[" * 5000 + "]" * 5000 + "}"))
    refused(sign_raw(HEADER, payload_json()[:-1] + ',"deep":' + "[" * 40 + "]" * 40 + "}"))


def test_padded_or_non_base64url_segments_are_refused() -> None:
    token = sign_raw(HEADER, payload_json())
    head, body, signature = token.split(".")
    refused(f"{head}.{body}==.{signature}")
    refused(f"{head}.{body.replace('-', '+')}+.{signature}")


def test_segment_reader_directly() -> None:
    assert decode_segment(b64(b'{"a":[1,{"b":2.5}]}'), "payload") == {"a": [1, {"b": 2.5}]}
    for raw in (b"[1]", b'"x"', b"", b'{"a":1', b'{"a":1}{"b":2}'):
        with pytest.raises(SegmentError):
            decode_segment(b64(raw), "payload")
    with pytest.raises(SegmentError):
        decode_compact("a.b")


# -- identifiers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", ["oid", "tid"])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\u2028"])
def test_guid_with_trailing_characters_is_refused(claim: str, suffix: str) -> None:
    value = (USER_OID if claim == "oid" else TENANT) + suffix
    overrides: dict[str, Any] = {claim: value}
    if claim == "tid":
        overrides["iss"] = f"{AUTHORITY_HOST}/{value}/v2.0"
    refused(sign_raw(HEADER, payload_json(**overrides)))


def test_empty_azp_does_not_fall_back_to_appid() -> None:
    """Entra never issues an empty azp; two readers could disagree about the client, so it is refused."""
    refused(sign_raw(HEADER, payload_json(azp="", appid=SPA)))
    # The same holds with no client allow-list configured.
    with pytest.raises(InvalidToken):
        make_validator(**{"ALLOWED_CLIENT_APPS": ""}).validate(
            sign_raw(HEADER, payload_json(azp="", appid=SPA)), "Authorization")


@pytest.mark.parametrize("value", [" ", "not-a-guid", 42, None, SPA + "\n"])
def test_azp_that_is_not_an_application_id_is_refused(value: Any) -> None:
    body = claims()
    body["azp"] = value
    refused(sign_raw(HEADER, json.dumps(body)))


def test_v1_token_uses_appid_when_azp_is_absent() -> None:
    token = sign_raw(HEADER, payload_json(azp=None, appid=SPA, iss=f"https://sts.windows.net/{TENANT}/", ver="1.0"))
    assert make_validator().validate(token, "Authorization").client_app_id == SPA


def test_settings_refuse_an_issuer_whose_tenant_has_a_trailing_newline() -> None:
    env = base_env(WEBSITE_AUTH_OPENID_ISSUER=f"https://login.microsoftonline.com/{TENANT}\n/v2.0")
    env.pop("TENANT_ID")
    with pytest.raises(Misconfigured) as caught:
        load_settings(env)
    assert caught.value.setting == "WEBSITE_AUTH_OPENID_ISSUER"


# -- the scheme separator --------------------------------------------------------------------------------

TOKEN = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"


@pytest.mark.parametrize("separator", ["\u00a0", "\x1f", "\x1c", "\u2028", "\u2029", "\u3000", "\u2003", "\x85",
                                       "\x0b", "\x0c", "\n", "\r"])
def test_only_space_and_tab_separate_the_scheme(separator: str) -> None:
    for value in (f"Bearer{separator}{TOKEN}", f"Bearer {separator}{TOKEN}", f"Bearer {TOKEN}{separator}"):
        with pytest.raises(InvalidToken):
            extract_token({"X-User-Authorization": value}, "X-User-Authorization")


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}", f"Bearer\t{TOKEN}", f" Bearer  \t {TOKEN} \t"])
def test_space_and_tab_still_work(value: str) -> None:
    assert extract_token({"Authorization": value}, "X-User-Authorization").token == TOKEN


def test_a_header_of_unicode_spaces_counts_as_present() -> None:
    """The first header present decides: NBSP alone is a malformed value, not an absent header."""
    with pytest.raises(InvalidToken):
        extract_token({"X-User-Authorization": "\u00a0", "Authorization": f"Bearer {TOKEN}"}, "X-User-Authorization")
