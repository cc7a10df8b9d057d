"""Property-based fuzzing of the token extractor, the validator and the HTTP layer (hypothesis).

- extractor: any header set gives exactly one well-formed token or a `MissingToken` / `InvalidToken` /
  `HeaderTooLarge` problem; nothing else escapes.
- validator: structured JWTs (any `alg`, `kid`, extra JOSE headers, mutated claims, real / foreign / HMAC /
  missing signatures) and raw strings. It either refuses with a 401/403 problem, or accepts, and then an
  independent PyJWT check with the real key, RS256 and the exact issuer/audience/scope rules must agree.
- strict JSON: correctly signed tokens whose header or payload text names a member twice (at any depth) or
  holds `NaN`, `Infinity` or a number a double cannot hold are always refused with `invalid_token`.
- separators: an `Authorization` value whose scheme and token are separated by anything but SP/HTAB (NBSP,
  U+2028, the information separators, other Unicode spaces) never yields a token.
- HTTP: random headers, methods and routes against the real app in the local host (App Service
  authentication on and off): never a 5xx, every error is problem+json.

`make test` runs a small sample (a few hundred examples in all); `make fuzz` sets SECURITY_FUZZ_SCALE so the
three properties see 10,000+ inputs, and SECURITY_FUZZ_REPORT to a file where the counts are written.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from function_app.auth.extract import MAX_TOKEN_HEADER_BYTES, ExtractedToken, extract_token, header_precedence
from function_app.auth.jwks import JwksCache, discovery_urls
from function_app.auth.validate import Principal, TokenValidator
from function_app.errors import ApiError, HeaderTooLarge, InsufficientScope, InvalidToken, MissingToken, TokenExpired
from function_app.settings import load_settings
from tests.fixtures.host import HostHandle, emulator_app_env, start_host
from tests.security.support import (MIRA, USER_HEADER, assemble, b64url, foreign_key, hmac_token, public_jwk,
                                    rsa_token, rsa_token_raw, session, user_token)

SCALE = float(os.environ.get("SECURITY_FUZZ_SCALE", "1"))
EXAMPLES = {"extractor": int(150 * SCALE), "validator": int(150 * SCALE), "strict": int(100 * SCALE),
            "http": int(60 * SCALE)}
COUNTS = {name: 0 for name in EXAMPLES}
OUTCOMES: dict[str, dict[str, int]] = {name: {} for name in EXAMPLES}


def _count(name: str, outcome: str) -> None:
    COUNTS[name] += 1
    OUTCOMES[name][outcome] = OUTCOMES[name].get(outcome, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    target = os.environ.get("SECURITY_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps({"examples": EXAMPLES, "inputs": COUNTS, "outcomes": OUTCOMES}))


def fuzz_settings(name: str, **extra: Any) -> Any:
    return settings(max_examples=max(1, EXAMPLES[name]), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **extra)


# -- strategies -------------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)
b64ish = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.~", max_size=120)
token_like = st.one_of(
    b64ish,
    st.builds(lambda parts: ".".join(parts), st.lists(b64ish, min_size=0, max_size=6)),
    st.text(max_size=80),
    st.builds(lambda header, claims: f"{b64url(header)}.{b64url(claims)}.", st.binary(max_size=60),
              st.binary(max_size=60)),
)
# Only SP and HTAB separate a scheme from its credentials (RFC 9110 5.6.3); the rest look alike to str.split().
NOT_SEPARATORS = ["\u00a0", "\u2028", "\u2029", "\u3000", "\u2003", "\u0085", "\x1c", "\x1d", "\x1e", "\x1f",
                  "\x0b", "\x0c", "\n", "\r"]
SCHEMES = ["Bearer ", "bearer ", "BEARER ", "Bearer  ", " Bearer ", "Basic ", "Digest ", "Token ", "", "Bearer\t",
           *[f"Bearer{c}" for c in NOT_SEPARATORS], *[f"Bearer {c}" for c in NOT_SEPARATORS]]
header_values = st.one_of(
    st.builds(lambda scheme, token: scheme + token, st.sampled_from(SCHEMES), token_like),
    st.text(max_size=200),
    st.builds(lambda n: "Bearer " + "A" * n, st.integers(MAX_TOKEN_HEADER_BYTES - 16, MAX_TOKEN_HEADER_BYTES + 64)),
    st.builds(lambda a, b: f"Bearer {a}, Bearer {b}", b64ish, b64ish),
)
HEADER_NAMES = [USER_HEADER, USER_HEADER.lower(), "Authorization", "authorization", "X-MS-TOKEN-AAD-ACCESS-TOKEN",
                "X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-ID", "Cookie", "X-Other"]


# -- extractor --------------------------------------------------------------------------------------

@fuzz_settings("extractor")
@given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4))
def test_extractor_gives_one_token_or_a_problem(headers: dict[str, str]) -> None:
    try:
        found = extract_token(headers, USER_HEADER)
    except (MissingToken, InvalidToken, HeaderTooLarge) as error:
        _count("extractor", error.code)
        assert error.status in (401, 431)
        if isinstance(error, HeaderTooLarge):
            assert any(len(v.encode("utf-8", "surrogateescape")) > MAX_TOKEN_HEADER_BYTES for v in headers.values())
        return
    _count("extractor", "token")
    assert isinstance(found, ExtractedToken)
    raw = (headers.get(found.header_name) or headers.get(found.header_name.lower()) or "").strip(" \t")
    scheme, found_token = raw[:-len(found.token)], raw[-len(found.token):]
    assert found_token == found.token
    assert scheme == "" or re.fullmatch(r"(?i)bearer[ \t]+", scheme), repr(scheme)  # only SP/HTAB separate
    assert found.header_name in header_precedence(USER_HEADER)
    assert found.token and " " not in found.token and "," not in found.token
    assert found.token in (headers.get(found.header_name) or headers.get(found.header_name.lower()) or "")


# -- validator --------------------------------------------------------------------------------------

TENANT = "51699e8e-eeb2-486e-94da-600eb1357656"
API = "ca7a86f5-36ed-459f-b0e6-3acb0993c979"
SPA = "f470f8c7-08c2-4e1a-800e-6a42aba7e306"
AUTHORITY = "https://login.fuzz.example"
KID = "fuzz-key-1"


class Keys:
    """The tenant's published key set, served to the validator from memory (no network in this property)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = public_jwk(self.private, KID)
        self.fetches = 0

    def fetch(self, url: str) -> Any:
        self.fetches += 1
        if url.endswith("openid-configuration"):
            return {"jwks_uri": f"{AUTHORITY}/{TENANT}/discovery/v2.0/keys"}
        return {"keys": [self.jwk, {"kty": "EC", "kid": "ec-key", "crv": "P-256", "x": "AA", "y": "AA"}]}


KEYS = Keys()
SETTINGS = load_settings({"API_CLIENT_ID": API, "TENANT_ID": TENANT, "AUTHORITY_HOST": AUTHORITY,
                          "ALLOWED_CLIENT_APPS": SPA, "CLIENT_SECRET": "unused"})
VALIDATOR = TokenValidator(SETTINGS, JwksCache(discovery_urls(AUTHORITY, TENANT), KEYS.fetch))
ISSUERS = [f"{AUTHORITY}/{TENANT}/v2.0", f"https://sts.windows.net/{TENANT}/"]
DELETE = object()


def template() -> dict[str, Any]:
    now = int(time.time())
    return {"aud": API, "iss": ISSUERS[0], "tid": TENANT, "oid": str(uuid.uuid4()), "scp": "user_impersonation",
            "azp": SPA, "exp": now + 3600, "nbf": now - 10, "iat": now - 10, "ver": "2.0",
            "preferred_username": "fuzz@example"}


CLAIM_NAMES = ["aud", "iss", "tid", "oid", "scp", "azp", "appid", "exp", "nbf", "iat", "ver", "roles", "name"]
claim_values = st.one_of(
    json_values,
    st.sampled_from([API, f"api://{API}", SPA, TENANT, TENANT.upper(), "common", *ISSUERS,
                     f"{AUTHORITY}/common/v2.0", "user_impersonation", "user_impersonation User.Read",
                     "user_impersonation_admin", "User_Impersonation", [API], [f"api://{API}", "x"]]),
    st.integers(0, 2**33).map(lambda n: n), st.builds(lambda d: int(time.time()) + d, st.integers(-10**6, 10**6)),
    st.builds(lambda d: str(int(time.time()) + d), st.integers(-10**4, 10**4)),
)
mutations = st.dictionaries(st.sampled_from(CLAIM_NAMES), st.one_of(st.just(DELETE), claim_values), max_size=4)
ALGS = ["RS256", "none", "None", "NONE", "HS256", "HS512", "RS384", "PS256", "ES256", "", "rs256"]
jose_headers = st.fixed_dictionaries(
    {"alg": st.one_of(st.sampled_from(ALGS), json_values)},
    optional={"kid": st.one_of(st.sampled_from([KID, "ec-key", "unknown", "", "../" * 3, KID.upper()]), json_values),
              "typ": st.sampled_from(["JWT", "at+jwt", "", "JOSE"]),
              "jku": st.just("https://attacker.example/keys"), "x5u": st.just("https://attacker.example/c"),
              "jwk": st.just(KEYS.jwk), "crit": st.one_of(st.just(["exp"]), json_values),
              "x5t": b64ish, "zip": st.just("DEF"), "enc": st.just("A256GCM")})
SIGNERS = ["real", "real", "real", "foreign", "hmac-public", "none", "garbage"]


def _finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def sign(signer: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    if signer == "real":
        return rsa_token(KEYS.private, header, claims)
    if signer == "foreign":
        return rsa_token(foreign_key(), header, claims)
    if signer == "hmac-public":
        return hmac_token(header, claims, json.dumps(KEYS.jwk).encode())
    if signer == "none":
        return assemble(header, claims)
    return assemble(header, claims, b"\x00" * 256)


def _numeric_date(value: Any) -> bool:
    """RFC 7519 NumericDate: a JSON number a double holds, so not NaN or an infinity (PyJWT alone would also take
    "1700000000" or true). Read by range, not by conversion as the product does, so the two can disagree."""
    return type(value) in (int, float) and -sys.float_info.max <= value <= sys.float_info.max


class _NotRfc8259(ValueError):
    pass


def _refuse(*_: Any) -> Any:
    raise _NotRfc8259()


def _finite_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: a number no double holds
        raise _NotRfc8259()
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({name for name, _ in pairs}) != len(pairs):
        raise _NotRfc8259()
    return dict(pairs)


def _strict_json_segments(token: str) -> bool:
    """Header and payload are JSON as RFC 8259 writes it (no NaN or Infinity anywhere, no number a double cannot
    hold, no member named twice); json.loads, under PyJWT, takes all three."""
    try:
        for segment in token.split(".")[:2]:
            text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
            json.loads(text, parse_constant=_refuse, parse_float=_finite_number, object_pairs_hook=_unique_members)
    except (ValueError, TypeError):  # _NotRfc8259 included
        return False
    return True


def oracle_accepts(token: str) -> bool:
    """An independent reading of the rules (docs/architecture.md, "Platform facts") with PyJWT and the real key."""
    if not _strict_json_segments(token):
        return False
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256" or header.get("kid") != KID:
            return False
        if any(name in header for name in ("jku", "x5u", "jwk", "crit")):
            return False
        claims = jwt.decode(token, KEYS.private.public_key(), algorithms=["RS256"], audience=[API, f"api://{API}"],
                            leeway=60, options={"require": ["exp", "iss", "aud", "tid", "oid"], "verify_iat": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    scp = claims.get("scp")
    tid = claims.get("tid")
    return (isinstance(claims.get("aud"), str)  # Entra's access tokens carry one audience, as a string
            # the issuer names the tenant of the `tid` claim (as written), which must be ours
            and isinstance(tid, str) and _is_guid(tid) and tid.lower() == TENANT
            and claims["iss"] in (f"{AUTHORITY}/{tid}/v2.0", f"https://sts.windows.net/{tid}/")
            and isinstance(claims.get("oid"), str) and _is_guid(claims["oid"])
            and isinstance(scp, str) and "user_impersonation" in scp.split(" ")
            # the client is `azp` whenever the claim is present (even empty), else `appid`; a GUID either way
            and _client(claims) == SPA
            # RFC 7519 NumericDate for every time claim present, `iat` included (null is not a number)
            and all(_numeric_date(claims[name]) for name in ("exp", "nbf", "iat") if name in claims))


def _client(claims: dict[str, Any]) -> str | None:
    value = claims["azp"] if "azp" in claims else claims.get("appid")
    return value.lower() if isinstance(value, str) and _is_guid(value) else None


def _is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False


def _validate(token: str) -> tuple[str, Principal | None]:
    try:
        principal = VALIDATOR.validate(token, USER_HEADER)
    except (InvalidToken, TokenExpired, InsufficientScope) as error:
        assert error.status in (401, 403)
        return error.code, None
    return "accepted", principal


WELL_FORMED = {"alg": "RS256", "kid": KID, "typ": "JWT"}


@fuzz_settings("validator")
@given(header=st.one_of(st.just(WELL_FORMED), jose_headers), changes=st.one_of(st.just({}), mutations),
       signer=st.sampled_from(SIGNERS))
def test_validator_refuses_or_agrees_with_the_oracle(header: dict[str, Any], changes: dict[str, Any],
                                                     signer: str) -> None:
    claims = template()
    for name, value in changes.items():
        if value is DELETE:
            claims.pop(name, None)
        else:
            claims[name] = value
    try:
        token = sign(signer, header, claims)
    except (TypeError, ValueError):  # a header or claim JSON can't carry (e.g. a non-str dict key)
        return
    outcome, principal = _validate(token)
    _count("validator", f"{signer}:{outcome}")
    if principal is not None:
        assert signer == "real"
        assert oracle_accepts(token), (header, claims)
        assert principal.tenant_id == TENANT and principal.object_id == str(claims["oid"]).lower()
        assert "user_impersonation" in principal.scopes
    elif outcome in ("invalid_token", "token_expired") and signer == "real" and all(map(_finite, claims.values())):
        assert not oracle_accepts(token), (header, claims)


@fuzz_settings("validator")
@given(raw=token_like)
def test_validator_refuses_raw_strings(raw: str) -> None:
    outcome, principal = _validate(raw)
    _count("validator", f"raw:{outcome}")
    assert principal is None


# -- strict JSON: duplicate members and non-finite numbers in signed tokens ---------------------------------

def _members(value: dict[str, Any]) -> list[str]:
    return [f"{json.dumps(k)}:{json.dumps(v, allow_nan=True)}" for k, v in value.items()]


member_names = st.one_of(st.sampled_from(CLAIM_NAMES + ["alg", "kid", "typ", "preferred_username"]),
                         st.text(max_size=8))
non_finite = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e309", "1" + "0" * 320,
                              "[1e999]", '{"x":-Infinity}'])


@st.composite
def strict_violations(draw: st.DrawFn) -> tuple[str, str, str]:
    """(where, header JSON text, payload JSON text) with one violation a strict reader must refuse."""
    header = dict(WELL_FORMED)
    claims = template()
    kind = draw(st.sampled_from(["duplicate-claim", "duplicate-header", "duplicate-nested", "non-finite-claim",
                                 "non-finite-header", "non-finite-nested"]))
    in_header = kind.endswith("header")
    target = header if in_header else claims
    members = _members(target)
    position = draw(st.integers(0, len(members)))
    if kind.startswith("duplicate"):
        name = draw(member_names)
        first, second = (json.dumps(draw(claim_values), allow_nan=True) for _ in range(2))
        if kind == "duplicate-nested":  # a new member holding an object that names `inner` twice
            name = draw(st.text(min_size=1, max_size=6).filter(lambda n: n not in target))
            inserted = [f'{json.dumps(name)}:{{"inner":{first},"inner":{second}}}']
        else:
            inserted = [f"{json.dumps(name)}:{first}", f"{json.dumps(name)}:{second}"]
    else:
        name = draw(member_names)
        literal = draw(non_finite)
        if kind == "non-finite-nested":
            literal = f"[0,{{\"deep\":{literal}}}]"
        members = [m for m in members if not m.startswith(json.dumps(name) + ":")]
        position = min(position, len(members))
        inserted = [f"{json.dumps(name)}:{literal}"]
    text = "{" + ",".join(members[:position] + inserted + members[position:]) + "}"
    if in_header:
        return kind, text, json.dumps(claims)
    return kind, json.dumps(header), text


@fuzz_settings("strict")
@given(case=strict_violations())
def test_validator_refuses_duplicate_members_and_non_finite_numbers(case: tuple[str, str, str]) -> None:
    kind, header_text, payload_text = case
    token = rsa_token_raw(KEYS.private, header_text.encode(), payload_text.encode())
    outcome, principal = _validate(token)
    _count("strict", f"{kind}:{outcome}")
    assert principal is None and outcome == "invalid_token", (kind, header_text, payload_text)


# -- HTTP layer ---------------------------------------------------------------------------------------

ROUTES = [("GET", "get-profile"), ("GET", "get-profile/photo"), ("GET", "diagnostics"), ("GET", "config"),
          ("POST", "jobs/profile-report"), ("GET", "jobs/{id}"), ("POST", "jobs/{id}/cancel"),
          ("DELETE", "get-profile"), ("PUT", "config"), ("GET", "get-profile/{id}"), ("GET", "{id}")]
printable = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120)
latin1 = st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0xFF), min_size=1, max_size=20)
http_values = st.one_of(
    st.builds(lambda scheme, token: (scheme + token).strip(), st.sampled_from(SCHEMES), printable),
    st.builds(lambda a, b: f"Bearer {a}{b}", printable, latin1),
    st.sampled_from(["VALID", "Bearer VALID", "Bearer VALID, Bearer VALID", "Bearer VALID.x", "Basic VALID"]),
    st.builds(lambda n: "Bearer " + "A" * n, st.integers(1, 7000)),
)
HTTP_HEADERS = [USER_HEADER, "Authorization", "X-MS-TOKEN-AAD-ACCESS-TOKEN", "X-MS-CLIENT-PRINCIPAL",
                "X-MS-CLIENT-PRINCIPAL-ID", "x-correlation-id", "Content-Type", "Accept"]


@pytest.fixture(scope="module")
def fuzz_hosts(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    emulator.reset()  # no fault or revoked consent left behind by an earlier module
    env = emulator_app_env(emulator)
    auth = start_host(env=env, state_dir=tmp_path_factory.mktemp("fuzz-durable"))
    direct = start_host(env=env, auth=False, state_dir=tmp_path_factory.mktemp("fuzz-direct-durable"))
    http = session()
    yield {"auth": auth, "direct": direct, "http": http, "valid": user_token(emulator, MIRA)}
    http.close()
    auth.stop()
    direct.stop()


@fuzz_settings("http")
@given(data=st.data())
def test_http_never_answers_5xx(fuzz_hosts: dict[str, Any], data: st.DataObject) -> None:
    host: HostHandle = fuzz_hosts[data.draw(st.sampled_from(["auth", "direct"]), label="host")]
    method, route = data.draw(st.sampled_from(ROUTES), label="route")
    route = route.replace("{id}", data.draw(st.from_regex(r"[A-Za-z0-9._~-]{1,40}", fullmatch=True), label="id"))
    headers = data.draw(st.dictionaries(st.sampled_from(HTTP_HEADERS), http_values, max_size=4), label="headers")
    has_valid = any("VALID" in v for v in headers.values())
    headers = {k: v.replace("VALID", fuzz_hosts["valid"]) for k, v in headers.items()}
    if data.draw(st.booleans(), label="utf-8"):  # non-ASCII as UTF-8 bytes; otherwise as Latin-1 (obs-text)
        headers = {k: v.encode("utf-8") if not v.isascii() else v for k, v in headers.items()}  # type: ignore[misc]
    body = data.draw(st.one_of(st.just(b""), st.binary(max_size=200)), label="body")
    try:
        response = fuzz_hosts["http"].request(method, host.api(route), headers=headers, data=body, timeout=60)
    except (requests.exceptions.InvalidHeader, ValueError, UnicodeEncodeError):
        _count("http", "unsendable")  # the client library refuses to send it; nothing reached the host
        return
    _count("http", str(response.status_code))
    assert response.status_code < 500, (method, route, {k: v[:80] for k, v in headers.items()}, response.text[:300])
    if response.status_code < 300 and route not in ("config", "diagnostics"):
        assert has_valid, (method, route, response.text[:200])  # only a real token opens a user's data
    if response.status_code >= 400:
        assert response.headers.get("Content-Type", "").startswith("application/problem+json"), response.text[:200]
        problem = response.json()
        assert problem["status"] == response.status_code and problem["code"]
        assert fuzz_hosts["valid"] not in response.text
