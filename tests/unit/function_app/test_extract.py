"""Finding exactly one bearer token: header precedence, scheme, folded values, size limit."""
from __future__ import annotations

import pytest

from function_app.auth.extract import MAX_TOKEN_HEADER_BYTES, extract_token
from function_app.errors import HeaderTooLarge, InvalidToken, MissingToken

TOKEN_A = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"
TOKEN_B = "eyJhbGciOi.eyJvdGhlciI.b3RoZXJzaWc"
CUSTOM = "X-User-Authorization"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"X-User-Authorization": f"Bearer {TOKEN_A}", "Authorization": f"Bearer {TOKEN_B}"}, (TOKEN_A, CUSTOM)),
    ({"Authorization": f"Bearer {TOKEN_B}", "X-MS-TOKEN-AAD-ACCESS-TOKEN": TOKEN_A}, (TOKEN_B, "Authorization")),
    ({"X-MS-TOKEN-AAD-ACCESS-TOKEN": TOKEN_A}, (TOKEN_A, "X-MS-TOKEN-AAD-ACCESS-TOKEN")),
    ({"x-user-authorization": f"bearer {TOKEN_A}"}, (TOKEN_A, CUSTOM)),
    ({"authorization": f"BEARER   {TOKEN_A}  "}, (TOKEN_A, "Authorization")),
    ({"X-User-Authorization": "   ", "Authorization": f"Bearer {TOKEN_B}"}, (TOKEN_B, "Authorization")),
    ({"x-ms-token-aad-access-token": f"Bearer {TOKEN_A}"}, (TOKEN_A, "X-MS-TOKEN-AAD-ACCESS-TOKEN")),
])
def test_precedence_and_scheme(headers: dict[str, str], expected: tuple[str, str]) -> None:
    found = extract_token(headers, CUSTOM)
    assert (found.token, found.header_name) == expected


def test_configured_header_name_is_used() -> None:
    found = extract_token({"X-Api-Token": f"Bearer {TOKEN_A}", "Authorization": f"Bearer {TOKEN_B}"}, "X-Api-Token")
    assert (found.token, found.header_name) == (TOKEN_A, "X-Api-Token")


@pytest.mark.parametrize("value", [
    f"Bearer {TOKEN_A} {TOKEN_B}",
    f"Bearer {TOKEN_A}, Bearer {TOKEN_B}",
    f"Bearer {TOKEN_A},Bearer {TOKEN_B}",
    f"Bearer {TOKEN_A},{TOKEN_B}",
    "Bearer",
    f"Basic {TOKEN_A}",
    TOKEN_A,  # no scheme in a header that requires one
    "Bearer tok\"en",
])
def test_anything_but_exactly_one_bearer_token_is_invalid(value: str) -> None:
    with pytest.raises(InvalidToken):
        extract_token({"X-User-Authorization": value}, CUSTOM)


def test_malformed_higher_precedence_header_does_not_fall_through() -> None:
    with pytest.raises(InvalidToken):
        extract_token({"X-User-Authorization": "Basic dXNlcjpwYXNz", "Authorization": f"Bearer {TOKEN_B}"}, CUSTOM)


def test_missing_token_says_which_header_to_use() -> None:
    with pytest.raises(MissingToken) as caught:
        extract_token({"Accept": "application/json"}, CUSTOM)
    assert "X-User-Authorization: Bearer" in caught.value.detail
    assert caught.value.status == 401


def test_client_principal_alone_never_identifies_a_user() -> None:
    principal = "eyJhdXRoX3R5cCI6ImFhZCIsInVzZXJJZCI6IngifQ=="
    with pytest.raises(MissingToken) as caught:
        extract_token({"X-MS-CLIENT-PRINCIPAL": principal, "X-MS-CLIENT-PRINCIPAL-ID": "x"}, CUSTOM)
    assert "X-MS-CLIENT-PRINCIPAL" in caught.value.detail


def test_oversized_header_is_rejected_before_parsing() -> None:
    huge = "Bearer " + "a" * MAX_TOKEN_HEADER_BYTES
    with pytest.raises(HeaderTooLarge) as caught:
        extract_token({"Authorization": huge}, CUSTOM)
    assert caught.value.status == 431
