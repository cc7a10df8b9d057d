"""Corpus cases about what a correctly signed token's bytes say: parser differentials, numbers, encodings,
identifiers and the client application claim (docs/architecture.md, "Strict token parsing").

Every token here carries a valid RS256 signature by the emulator's own key, so only the strict reading of
the header and payload (function_app/auth/segments.py, shared by the App Service authentication emulation)
stands between it and the API. PyJWT alone accepts all of them.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from tests.security.corpus import Case, Ctx, bearer
from tests.security.support import rsa_token_raw

DEEP = 4000  # nesting past the recursion limit of json.loads


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def header_json(ctx: Ctx) -> str:
    return compact({"alg": "RS256", "typ": "JWT", "kid": ctx.published.kid})


def claims_json(ctx: Ctx, drop: tuple[str, ...] = ()) -> str:
    return compact({k: v for k, v in ctx.claims.items() if k not in drop})


def with_members(ctx: Ctx, members: str, drop: tuple[str, ...] = ()) -> str:
    """The valid claims (minus `drop`) followed by raw JSON members, as text."""
    return claims_json(ctx, drop)[:-1] + "," + members + "}"


def signed(payload: Callable[[Ctx], str | bytes], header: Callable[[Ctx], str | bytes] = header_json,
           ) -> Callable[[Ctx], str]:
    def build(ctx: Ctx) -> str:
        assert ctx.real_key is not None, "the emulator's signing key must be readable from .localdev/emulator"
        head, body = header(ctx), payload(ctx)
        return rsa_token_raw(ctx.real_key, head.encode() if isinstance(head, str) else head,
                             body.encode() if isinstance(body, str) else body)
    return bearer(build)


def duplicate(name: str, first: Callable[[Ctx], Any]) -> Callable[[Ctx], str]:
    """`name` twice: first a value of the attacker's choosing, then the genuine one (last wins in json.loads)."""
    return lambda c: with_members(c, f'"{name}":{json.dumps(first(c))},"{name}":{json.dumps(c.claims[name])}',
                                  drop=(name,))


def time_claim(name: str, literal: str) -> Callable[[Ctx], str]:
    return lambda c: with_members(c, f'"{name}":{literal}', drop=(name,))


OTHER_OID = "00000000-0000-0000-0000-00000000beef"
OTHER_TENANT = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"

PARSING_CASES: list[Case] = [
    # -- duplicate member names --------------------------------------------------------------------------
    Case("dup-header-alg-none-then-rs256", signed(
        claims_json, lambda c: f'{{"alg":"none","alg":"RS256","typ":"JWT","kid":"{c.published.kid}"}}'),
        "invalid_token"),
    Case("dup-header-kid", signed(
        claims_json, lambda c: f'{{"alg":"RS256","typ":"JWT","kid":"forged","kid":"{c.published.kid}"}}'),
        "invalid_token"),
    Case("dup-oid", signed(duplicate("oid", lambda c: OTHER_OID)), "invalid_token"),
    Case("dup-aud", signed(duplicate("aud", lambda c: "00000003-0000-0000-c000-000000000000")), "invalid_token"),
    Case("dup-tid", signed(duplicate("tid", lambda c: OTHER_TENANT)), "invalid_token"),
    Case("dup-scp", signed(duplicate("scp", lambda c: "User.Read")), "invalid_token"),
    Case("dup-exp", signed(duplicate("exp", lambda c: 1)), "invalid_token"),
    Case("dup-nested-member", signed(lambda c: with_members(c, '"x":{"a":1,"a":2}')), "invalid_token"),
    # -- numbers: NaN, Infinity, overflow; time claims must be finite JSON numbers ------------------------
    *[Case(f"{name}-{label}", signed(time_claim(name, literal)), "invalid_token")
      for name in ("exp", "nbf", "iat")
      for label, literal in (("nan", "NaN"), ("infinity", "Infinity"), ("minus-infinity", "-Infinity"),
                             ("overflow-float", "1e400"), ("overflow-int", "1" + "0" * 400), ("null", "null"))],
    Case("custom-claim-nan", signed(lambda c: with_members(c, '"x":NaN')), "invalid_token"),
    Case("custom-claim-overflow", signed(lambda c: with_members(c, '"x":[-1e999]')), "invalid_token"),
    # -- encodings -----------------------------------------------------------------------------------------
    *[Case(f"payload-{encoding}", signed(lambda c, e=encoding: claims_json(c).encode(e)), "invalid_token")
      for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig")],
    Case("header-utf-16", signed(claims_json, lambda c: header_json(c).encode("utf-16")), "invalid_token"),
    Case("header-bom", signed(claims_json, lambda c: b"\xef\xbb\xbf" + header_json(c).encode()), "invalid_token"),
    Case("payload-invalid-utf8", signed(lambda c: with_members(c, '"x":"').encode()[:-1] + b'\xc3\x28"}'),
         "invalid_token"),
    Case("payload-lone-surrogate", signed(lambda c: with_members(c, '"x":"\\ud800"')), "invalid_token"),
    Case("payload-deep-nesting", signed(lambda c: with_members(c, '"x":' + "[" * DEEP + "]" * DEEP)),
         "invalid_token"),
    # -- identifiers: whole GUIDs only -------------------------------------------------------------------
    Case("oid-guid-newline", signed(lambda c: _with(c, oid=c.claims["oid"] + "\n")), "invalid_token"),
    Case("tid-guid-newline", signed(lambda c: _with(c, tid=c.tid + "\n", iss=f"{c.emulator.entra_url}/{c.tid}\n/v2.0")),
         "invalid_token"),
    Case("oid-guid-braces", signed(lambda c: _with(c, oid="{" + c.claims["oid"] + "}")), "invalid_token"),
    # -- the client application: a present azp decides ---------------------------------------------------
    # Before: `azp or appid` read the allowed SPA from appid and accepted the token.
    Case("azp-empty-appid-allowed", signed(lambda c: _with(c, azp="", appid=c.emulator.app("spa")["client_id"])),
         "invalid_token"),
    Case("azp-not-a-guid", signed(lambda c: _with(c, azp="spa")), "invalid_token"),
    Case("azp-number", signed(lambda c: _with(c, azp=7)), "invalid_token"),
]


def _with(ctx: Ctx, **changes: Any) -> str:
    return compact({**ctx.claims, **changes})


# Characters `str.split()` treats as whitespace but HTTP does not (RFC 9110 5.6.3: only SP and HTAB). Control
# characters never reach the function through the local host: it refuses them with 400 `bad_request`, as
# Kestrel does.
UNICODE_SEPARATORS = {"nbsp": "\u00a0", "line-separator": "\u2028", "paragraph-separator": "\u2029",
                      "ideographic-space": "\u3000", "em-space": "\u2003", "next-line": "\u0085"}
CONTROL_SEPARATORS = {"unit-separator": "\x1f", "file-separator": "\x1c", "vertical-tab": "\x0b",
                      "form-feed": "\x0c"}
