"""Hostile or malformed input never crashes the emulator: every answer is an Entra error envelope."""
from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.emulator import Emulator

GRANTS = ["authorization_code", "refresh_token", "client_credentials",
          "urn:ietf:params:oauth:grant-type:jwt-bearer", "password", ""]
text = st.text(max_size=60)


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grant=st.sampled_from(GRANTS), scope=text, code=text, refresh=text,
       claims=st.dictionaries(st.sampled_from(["aud", "iss", "exp", "nbf", "iat", "oid", "tid", "scp", "amr",
                                               "azp", "idtyp", "roles"]), json_values, max_size=6),
       header=st.dictionaries(st.sampled_from(["alg", "kid", "typ"]), json_values, max_size=3))
def test_token_endpoint_answers_every_request_with_an_entra_error_or_tokens(
        emulator: Emulator, grant: str, scope: str, code: str, refresh: str, claims: dict, header: dict) -> None:
    api = emulator.app("api")
    forged = f"{b64(header)}.{b64(claims)}.c2ln"
    form = {"grant_type": grant, "client_id": api["client_id"], "client_secret": api["client_secret"],
            "scope": scope, "code": code, "refresh_token": refresh, "assertion": forged,
            "requested_token_use": "on_behalf_of", "redirect_uri": "http://localhost:4280/"}
    response = emulator.session.post(emulator.token_endpoint, data=form, timeout=30)
    assert response.status_code in (200, 400, 401), response.text
    body = response.json()
    if response.status_code != 200:
        assert body["error"] and body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}:")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(claims=st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "amr", "oid", "aud", "scp"]), json_values,
                              max_size=4))
def test_signed_assertions_with_odd_claim_types_are_refused_cleanly(emulator: Emulator, claims: dict) -> None:
    """Correctly signed tokens whose claims have unexpected types (what a validation bug might let through)."""
    api = emulator.app("api")
    assertion = emulator.mint(user="mira.okafor@larkspur.example", client_id=emulator.app("spa")["client_id"],
                              audience=api["client_id"], claims={k: v for k, v in claims.items() if v is not None})
    response = emulator.session.post(emulator.token_endpoint, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_id": api["client_id"],
        "client_secret": api["client_secret"], "assertion": assertion, "requested_token_use": "on_behalf_of",
        "scope": "User.Read"}, timeout=30)
    assert response.status_code in (200, 400), response.text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["client_id", "redirect_uri", "response_type", "scope", "prompt",
                                               "response_mode", "code_challenge", "code_challenge_method",
                                               "login_hint", "claims", "state", "nonce"]), text, max_size=8),
       spa=st.booleans())
def test_authorize_never_fails_with_a_server_error(emulator: Emulator, params: dict, spa: bool) -> None:
    if spa:
        params = {"client_id": emulator.app("spa")["client_id"], "redirect_uri": "http://localhost:4280/", **params}
    response = emulator.session.get(f"{emulator.authority}/oauth2/v2.0/authorize", params=params,
                                    allow_redirects=False, timeout=30)
    assert response.status_code in (200, 302, 400), response.text[:300]
