"""The corpus of hostile and malformed tokens (test_hostile_tokens.py sends each through three channels).

Each `Case` builds the full header value from a `Ctx` (the emulator, a valid token, its claims and the
emulator's signing key) and names the code the function must answer. Cases about what a token's bytes say
(duplicate members, non-finite numbers, encodings, identifiers) are in corpus_parsing.py.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.security.support import (MIRA, Published, assemble, b64url, b64url_json, foreign_key, hmac_token, now,
                                    public_jwk, rsa_token, user_token)

OTHER_TENANT = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
STATUS_OF = {"missing_token": 401, "invalid_token": 401, "token_expired": 401, "insufficient_scope": 403,
             "header_too_large": 431}


@dataclass
class Ctx:
    emulator: Any
    valid: str
    claims: dict[str, Any]
    header: dict[str, Any]
    published: Published
    real_key: Any

    @property
    def tid(self) -> str:
        return self.emulator.tenant_id

    @property
    def api(self) -> str:
        return self.emulator.app("api")["client_id"]

    def mint(self, **body: Any) -> str:
        return user_token(self.emulator, MIRA, **body)

    def claims_with(self, **changes: Any) -> dict[str, Any]:
        claims = dict(self.claims)
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def real_signed(self, header: dict[str, Any], alg: str = "RS256", **claims: Any) -> str:
        assert self.real_key is not None, "the emulator's signing key must be readable from .localdev/emulator"
        return rsa_token(self.real_key, {"kid": self.published.kid, "typ": "JWT", **header},
                         self.claims_with(**claims), alg=alg)

    def foreign_signed(self, header: dict[str, Any], **claims: Any) -> str:
        return rsa_token(foreign_key(), {"typ": "JWT", **header}, self.claims_with(**claims))


@dataclass(frozen=True)
class Case:
    id: str
    value: Callable[[Ctx], str]          # the full header value (usually "Bearer <token>")
    code: str                            # what the function answers
    platform: frozenset[str] = field(default_factory=frozenset)  # extra codes App Service auth may answer
    statuses: frozenset[int] = field(default_factory=frozenset)  # when not STATUS_OF[code]
    detail_names_header: bool = False    # the refusal tells the caller to use X-User-Authorization


def bearer(build: Callable[[Ctx], str]) -> Callable[[Ctx], str]:
    return lambda ctx: f"Bearer {build(ctx)}"


def none_alg(alg: str) -> Callable[[Ctx], str]:
    return bearer(lambda c: assemble({"alg": alg, "typ": "JWT", "kid": c.published.kid}, c.claims))


def minted(**body: Any) -> Callable[[Ctx], str]:
    return bearer(lambda c: c.mint(**body))


def minted_claims(build: Callable[[Ctx], dict[str, Any]], **body: Any) -> Callable[[Ctx], str]:
    return bearer(lambda c: c.mint(claims=build(c), **body))


EA_INVALID = frozenset({"invalid_token"})

CASES: list[Case] = [
    # -- alg "none" in any casing, and an unsigned token that keeps the real signature ---------------------
    *[Case(f"alg-{alg}", none_alg(alg), "invalid_token") for alg in ("none", "None", "NONE", "nOnE")],
    Case("alg-none-real-signature", bearer(lambda c: ".".join(
        [b64url_json({**c.header, "alg": "none"})] + c.valid.split(".")[1:])), "invalid_token"),
    Case("alg-missing", bearer(lambda c: assemble({"typ": "JWT", "kid": c.published.kid}, c.claims, b"x" * 256)),
         "invalid_token"),
    # -- HMAC keyed with the published public key (algorithm confusion) ------------------------------------
    Case("hs256-public-pem", bearer(lambda c: hmac_token({"alg": "HS256", "typ": "JWT", "kid": c.published.kid},
                                                         c.claims, c.published.public_pem_spki)), "invalid_token"),
    Case("hs256-public-pkcs1", bearer(lambda c: hmac_token({"alg": "HS256", "typ": "JWT", "kid": c.published.kid},
                                                           c.claims, c.published.public_pem_pkcs1)), "invalid_token"),
    Case("hs512-public-pem", bearer(lambda c: hmac_token({"alg": "HS512", "typ": "JWT", "kid": c.published.kid},
                                                         c.claims, c.published.public_pem_spki, "sha512")),
         "invalid_token"),
    Case("hs256-public-jwk", bearer(lambda c: hmac_token({"alg": "HS256", "typ": "JWT", "kid": c.published.kid},
                                                         c.claims, json.dumps(c.published.public_jwk).encode())),
         "invalid_token"),
    # -- foreign keys; kid traversal and injection -----------------------------------------------------
    Case("foreign-key-real-kid", bearer(lambda c: c.foreign_signed({"kid": c.published.kid})), "invalid_token"),
    Case("foreign-key-unknown-kid", bearer(lambda c: c.foreign_signed({"kid": str(uuid.uuid4())})), "invalid_token"),
    Case("foreign-key-no-kid", bearer(lambda c: c.foreign_signed({})), "invalid_token"),
    *[Case(f"kid-{name}", bearer(lambda c, kid=kid: c.foreign_signed({"kid": kid})), "invalid_token")
      for name, kid in (("traversal", "../../../../../../etc/passwd"), ("traversal-encoded", "..%2f..%2f..%2fkeys"),
                        ("absolute-path", "/dev/null"), ("sql", "' OR '1'='1' --"), ("shell", "x\"; rm -rf / #"),
                        ("template", "{{7*7}}${7*7}"), ("nul", "abc\u0000def"), ("empty", ""),
                        ("huge", "k" * 4000))],
    Case("kid-integer", bearer(lambda c: c.foreign_signed({"kid": 1})), "invalid_token"),
    Case("kid-object", bearer(lambda c: c.foreign_signed({"kid": {"$ne": None}})), "invalid_token"),
    # -- headers that let the token pick its own key, or demand unknown semantics -------------------------
    Case("jku-foreign", bearer(lambda c: c.foreign_signed({"kid": "attacker", "jku": "https://attacker.example/k"})),
         "invalid_token"),
    Case("x5u-foreign", bearer(lambda c: c.foreign_signed({"kid": "attacker", "x5u": "https://attacker.example/c"})),
         "invalid_token"),
    Case("jwk-embedded-foreign", bearer(lambda c: c.foreign_signed(
        {"kid": "attacker", "jwk": public_jwk(foreign_key(), "attacker")})), "invalid_token"),
    Case("jku-real-signature", bearer(lambda c: c.real_signed({"jku": "https://attacker.example/keys"})),
         "invalid_token"),
    Case("x5u-real-signature", bearer(lambda c: c.real_signed({"x5u": "https://attacker.example/cert.pem"})),
         "invalid_token"),
    Case("jwk-real-signature", bearer(lambda c: c.real_signed({"jwk": c.published.public_jwk})), "invalid_token"),
    Case("crit-unknown", bearer(lambda c: c.real_signed({"crit": ["urn:example:unknown"],
                                                         "urn:example:unknown": True})), "invalid_token"),
    Case("rs384-real-key", bearer(lambda c: c.real_signed({}, alg="RS384")), "invalid_token"),
    Case("ps256-real-key", bearer(lambda c: c.real_signed({}, alg="PS256")), "invalid_token"),
    # -- correctly signed (by the emulator) but wrong -------------------------------------------------
    Case("expired", minted(expires_in=-300), "token_expired"),
    Case("expired-long-ago", minted_claims(lambda c: {"exp": 1, "nbf": 0, "iat": 0}), "token_expired"),
    Case("not-yet-valid", minted_claims(lambda c: {"nbf": now() + 3600, "iat": now() + 3600}), "invalid_token"),
    Case("audience-graph", minted(audience="https://graph.microsoft.com", scopes=["User.Read"]), "invalid_token"),
    Case("audience-spa-app", minted_claims(lambda c: {"aud": c.emulator.app("spa")["client_id"]}), "invalid_token"),
    Case("audience-list", minted_claims(lambda c: {"aud": [c.api, "00000003-0000-0000-c000-000000000000"]}),
         "invalid_token"),
    Case("issuer-foreign", minted_claims(lambda c: {"iss": f"https://evil.example/{c.tid}/v2.0"}), "invalid_token"),
    Case("issuer-plain-http", minted_claims(
        lambda c: {"iss": f"http://{c.emulator.entra_url.split('://')[1]}/{c.tid}/v2.0"}), "invalid_token"),
    Case("another-tenant", minted_claims(lambda c: {"tid": OTHER_TENANT,
                                                    "iss": f"{c.emulator.entra_url}/{OTHER_TENANT}/v2.0"}),
         "invalid_token"),
    Case("tid-not-matching-issuer", minted_claims(lambda c: {"tid": OTHER_TENANT}), "invalid_token"),
    Case("tid-common", minted_claims(lambda c: {"tid": "common", "iss": f"{c.emulator.entra_url}/common/v2.0"}),
         "invalid_token"),
    Case("v1-issuer-other-tenant", minted_claims(lambda c: {"iss": f"https://sts.windows.net/{OTHER_TENANT}/"},
                                                 version="1.0"), "invalid_token"),
    Case("no-scp", minted_claims(lambda c: {"scp": None}), "insufficient_scope"),
    Case("scope-prefix-of-ours", minted_claims(lambda c: {"scp": "user_impersonation_admin"}), "insufficient_scope"),
    Case("scope-ending-in-ours", minted_claims(lambda c: {"scp": "not_user_impersonation"}), "insufficient_scope"),
    Case("scope-other-case", minted_claims(lambda c: {"scp": "User_Impersonation"}), "insufficient_scope"),
    Case("scope-comma-joined", minted_claims(lambda c: {"scp": "user_impersonation,User.Read"}), "insufficient_scope"),
    Case("scope-as-list", minted_claims(lambda c: {"scp": ["user_impersonation"]}), "insufficient_scope"),
    # The daemon app is not an allowed client (ALLOWED_CLIENT_APPS / allowedApplications): refused as such.
    Case("app-only-daemon", bearer(lambda c: c.emulator.mint(client_id=c.emulator.app("daemon")["client_id"],
                                                             audience=c.api)), "invalid_token", platform=EA_INVALID,
         statuses=frozenset({401, 403})),
    # An app-only token that names an allowed client: no `scp`, so no user to act for.
    Case("app-only-allowed-client", bearer(lambda c: c.emulator.mint(
        client_id=c.emulator.app("daemon")["client_id"], audience=c.api,
        claims={"azp": c.emulator.app("spa")["client_id"]})), "insufficient_scope"),
    Case("app-only-with-roles", bearer(lambda c: c.emulator.mint(
        client_id=c.emulator.app("daemon")["client_id"], audience=c.api, roles=["user_impersonation"],
        claims={"azp": c.emulator.app("spa")["client_id"]})), "insufficient_scope"),
    Case("exp-string", minted_claims(lambda c: {"exp": str(now() + 3600)}), "invalid_token"),
    # App Service auth (PyJWT) reads `true` as 1, an expired date: refused there as token_expired.
    Case("exp-boolean", minted_claims(lambda c: {"exp": True}), "invalid_token", platform=frozenset({"token_expired"})),
    Case("exp-list", minted_claims(lambda c: {"exp": [now() + 3600]}), "invalid_token"),
    Case("nbf-string", minted_claims(lambda c: {"nbf": str(now() - 60)}), "invalid_token"),
    Case("iat-string", minted_claims(lambda c: {"iat": "yesterday"}), "invalid_token"),
    Case("exp-missing", minted_claims(lambda c: {"exp": None}), "invalid_token"),
    Case("oid-missing", minted_claims(lambda c: {"oid": None}), "invalid_token"),
    Case("oid-not-guid", minted_claims(lambda c: {"oid": "admin"}), "invalid_token"),
    Case("tid-missing", minted_claims(lambda c: {"tid": None}), "invalid_token"),
    Case("iss-missing", minted_claims(lambda c: {"iss": None}), "invalid_token"),
    Case("aud-missing", minted_claims(lambda c: {"aud": None}), "invalid_token"),
    # -- garbage and wrong shapes ------------------------------------------------------------------------
    Case("garbage", lambda c: "Bearer not-a-jwt", "invalid_token"),
    Case("one-segment", lambda c: "Bearer " + b64url_json(c.claims), "invalid_token"),
    Case("two-segments", bearer(lambda c: ".".join(c.valid.split(".")[:2])), "invalid_token"),
    Case("four-segments", bearer(lambda c: c.valid + ".AAAA"), "invalid_token"),
    Case("five-segments-jwe-shape", bearer(lambda c: c.valid + ".AAAA.BBBB"), "invalid_token"),
    Case("empty-segments", lambda c: "Bearer ..", "invalid_token"),
    Case("header-not-json", bearer(lambda c: b64url(b"hello") + "." + c.valid.split(".", 1)[1]), "invalid_token"),
    Case("header-json-array", bearer(lambda c: b64url(b"[1,2,3]") + "." + c.valid.split(".", 1)[1]), "invalid_token"),
    Case("payload-not-json", bearer(lambda c: c.valid.split(".")[0] + "." + b64url(b"\xff\xfe") + ".c2ln"),
         "invalid_token"),
    Case("signature-truncated", bearer(lambda c: c.valid[:-10]), "invalid_token"),
    Case("signature-flipped", bearer(lambda c: c.valid[:-4] + ("AAAA" if not c.valid.endswith("AAAA") else "BBBB")),
         "invalid_token"),
    Case("non-base64url-chars", lambda c: "Bearer " + c.valid.replace(".", "!", 1), "invalid_token"),
    Case("big-token-10k", bearer(lambda c: c.valid + "A" * 10_000), "invalid_token"),
    # -- two tokens, other schemes --------------------------------------------------------------------
    Case("two-tokens-comma", lambda c: f"Bearer {c.valid}, Bearer {c.valid}", "invalid_token"),
    Case("two-tokens-space", lambda c: f"Bearer {c.valid} {c.valid}", "invalid_token"),
    Case("basic-scheme", lambda c: "Basic " + base64.b64encode(b"mira:local-only").decode(), "invalid_token",
         platform=frozenset({"missing_token"})),
    Case("digest-scheme", lambda c: 'Digest username="mira", realm="api", response="x"', "invalid_token",
         platform=frozenset({"missing_token"})),
    Case("token-scheme-valid-jwt", lambda c: f"Token {c.valid}", "invalid_token", platform=frozenset({"missing_token"})),
    Case("no-scheme-valid-jwt", lambda c: c.valid, "invalid_token", platform=frozenset({"missing_token"})),
    Case("bearer-without-token", lambda c: "Bearer", "invalid_token", platform=frozenset({"missing_token"})),
    Case("swa-platform-token", bearer(lambda c: rsa_token(foreign_key(), {"kid": "swa", "typ": "JWT"}, {
        "iss": "https://local-static-web-app.azurestaticapps.net/", "aud": "local-static-web-app",
        "exp": now() + 3600, "nbf": now() - 10, "iat": now() - 10, "sub": str(uuid.uuid4()),
        "client_principal": b64url_json({"identityProvider": "aad", "userId": "x"})})), "invalid_token",
         detail_names_header=True),
]
