"""Validate an Entra ID access token for this API and return the signed-in user (docs/architecture.md, "Platform facts").

Behind App Service authentication with a linked Static Web App the platform only proves the request came
through the SWA, so the function checks the user's JWT itself: first the header and payload read strictly
(segments.py; docs/architecture.md, "Strict token parsing"), then RS256 signature with a key from the
tenant's discovery metadata, issuer (v2 `{AUTHORITY_HOST}/{tid}/v2.0` or v1 `https://sts.windows.net/{tid}/`,
`tid` a GUID equal to the `tid` claim), audience (`{clientId}` or `api://{clientId}`), `exp`/`nbf` with 60 s
leeway, `scp` containing the API scope, `oid` (a whole GUID), and the tenant and client-app allow-lists (the
client is `azp` when present, else `appid`).

A caller sends the same token with every request until it renews it, so successful results are kept in a
bounded LRU keyed by the SHA-256 of the exact token string, each until min(the token's `exp`, 5 minutes after
it was validated): within that window a repeat costs a hash and a dictionary lookup instead of an RS256
verification. `exp` is re-checked on every hit (no leeway: after `exp` the token goes through full validation
again, which applies the leeway), the allow-lists are re-checked too, and failures are never cached, so a
token that was once rejected is validated again in full every time.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import AuthError, InsufficientScope, InvalidToken, TokenExpired
from ..settings import Settings, is_guid
from ..lru import LruTtlCache
from .jwks import JwksCache
from .segments import SegmentError, decode_compact
from .verdict import Failure, Refusal, decode_verified

LEEWAY_SECONDS = 60
ALGORITHMS = ("RS256",)
# JOSE headers that would let the token choose its own verification key (or demand semantics we don't implement).
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "crit")
NON_SECRET_CLAIMS = ("aud", "iss", "tid", "oid", "scp", "azp", "appid", "ver", "exp", "nbf", "iat")
VALIDATION_CACHE_MAX_AGE_SECONDS = 300.0
VALIDATION_CACHE_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    object_id: str
    scopes: tuple[str, ...]
    client_app_id: str | None
    username: str | None
    name: str | None
    token_version: str
    expires_at: int
    claims: dict[str, Any] = field(repr=False, compare=False)

    @property
    def user_key(self) -> str:
        """`{tid}.{oid}`: who the user is, across token versions and apps (logs hash it; no cache is keyed by it)."""
        return f"{self.tenant_id}.{self.object_id}"

    def public_claims(self) -> dict[str, Any]:
        """The claims `/api/diagnostics` may show (no names, no e-mail, no signatures)."""
        return {name: self.claims[name] for name in NON_SECRET_CLAIMS if name in self.claims}


def client_application(claims: dict[str, Any]) -> str | None:
    """The application that requested the token: `azp` (v2 tokens), else `appid` (v1), else None.

    A claim that is present decides, even when it is empty: an empty `azp` does not fall back to `appid`, because
    Entra never issues one and two readers could then disagree about who the client is. A present value must be
    a GUID (Entra's application ids are)."""
    for name in ("azp", "appid"):
        if name in claims:
            value = claims[name]
            if not is_guid(value):
                raise InvalidToken(f"The token's '{name}' claim is not an application id.")
            return value
    return None


def _not_ours(header_name: str, user_token_header: str, why: str) -> InvalidToken:
    if header_name.lower() == user_token_header.lower():
        return InvalidToken(f"{why} The {header_name} header must carry an Entra ID access token for this API.")
    return InvalidToken(
        f"{why} If this request came through Azure Static Web Apps, the platform replaced the Authorization "
        f"header with its own token: send the user's access token for this API in '{user_token_header}: "
        f"Bearer <token>'.")


# What this API says when PyJWT refuses a token (an expired token has its own error, `token_expired`).
_REFUSALS = {
    Failure.NOT_YET_VALID: "The access token is not valid yet.",
    Failure.SIGNATURE: "The token's signature is not valid.",
    Failure.MISSING_CLAIM: "The token has no '{claim}' claim.",
}


def _refused(refusal: Refusal) -> AuthError:
    if refusal.failure is Failure.EXPIRED:
        return TokenExpired("The access token has expired; acquire a new one.")
    return InvalidToken(refusal.worded(_REFUSALS, "The token failed validation."))


class ValidatedTokens:
    """Successful validations by SHA-256 of the token, each kept until min(token exp, max age)."""

    def __init__(self, max_entries: int = VALIDATION_CACHE_MAX_ENTRIES,
                 max_age_seconds: float = VALIDATION_CACHE_MAX_AGE_SECONDS,
                 clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time  # wall clock: entries are measured against the token's exp
        self._entries: LruTtlCache[bytes, Principal] = LruTtlCache(max(0, max_entries), max_age_seconds,
                                                                   clock=self._clock)

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def digest(token: str) -> bytes | None:
        # A JWT is ASCII; anything else is never cached (and can't make encoding fail).
        return hashlib.sha256(token.encode("ascii")).digest() if token.isascii() else None

    def get(self, digest: bytes) -> Principal | None:
        return self._entries.get(digest)  # an entry never outlives its token's exp (see `put`)

    def put(self, digest: bytes, principal: Principal) -> None:
        # Inside the leeway after exp the TTL is <= 0 and nothing is kept: such tokens validate in full.
        self._entries.put(digest, principal, float(principal.expires_at) - self._clock())

    def clear(self) -> None:
        self._entries.clear()


class TokenValidator:
    def __init__(self, settings: Settings, jwks: JwksCache, *, cache: ValidatedTokens | None = None) -> None:
        self._settings = settings
        self._jwks = jwks
        self._audiences = (settings.api_client_id, f"api://{settings.api_client_id}")
        self._validated = cache if cache is not None else ValidatedTokens()

    @property
    def jwks(self) -> JwksCache:
        return self._jwks

    def issuers_for(self, tenant_id: str) -> tuple[str, str]:
        return (f"{self._settings.authority_host}/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/")

    def validate(self, token: str, header_name: str) -> Principal:
        digest = ValidatedTokens.digest(token)
        if digest is not None:
            cached = self._validated.get(digest)
            if cached is not None and self._allowed(cached):
                return cached
        principal = self._validate(token, header_name)  # raises for any failure: nothing is cached then
        if digest is not None:
            self._validated.put(digest, principal)
        return principal

    def _allowed(self, principal: Principal) -> bool:
        """The allow-lists, again, for a cached result (they are static per process; this is cheap insurance)."""
        settings = self._settings
        if principal.tenant_id not in settings.allowed_tenants:
            return False
        return settings.allowed_client_apps is None or principal.client_app_id in settings.allowed_client_apps

    def _validate(self, token: str, header_name: str) -> Principal:
        settings = self._settings
        # Read header and payload strictly first (segments.py): PyJWT's own reading must never be the only one.
        try:
            segments = decode_compact(token)
        except SegmentError as error:
            if token.count(".") != 2:
                raise _not_ours(header_name, settings.user_token_header, "The bearer token is not a JWT.") from None
            raise InvalidToken(f"The token is malformed: {error}.") from None
        header, unverified = segments.header, segments.payload

        tid = unverified.get("tid")
        iss = unverified.get("iss")
        if not is_guid(tid) or iss not in self.issuers_for(tid):
            raise _not_ours(header_name, settings.user_token_header,
                            "The token was not issued by this API's Entra ID authority.")
        aud = unverified.get("aud")
        if aud not in self._audiences:
            raise _not_ours(header_name, settings.user_token_header, "The token's audience is not this API.")

        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("The token must be signed with RS256.")
        if any(name in header for name in _FORBIDDEN_HEADERS):
            raise InvalidToken("The token's header names a key source or critical extension this API refuses.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("The token's header has no key id.")

        key = self._jwks.get_key(kid)
        try:
            claims = decode_verified(
                token, key, algorithms=list(ALGORITHMS), audience=list(self._audiences), issuer=self.issuers_for(tid),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "tid", "oid"], "verify_iat": False},
            )
        except Refusal as refusal:
            raise _refused(refusal) from None

        tid = tid.lower()
        if tid not in settings.allowed_tenants:
            raise InvalidToken("The token's tenant is not allowed to call this API.")
        oid = claims.get("oid")
        if not is_guid(oid):
            raise InvalidToken("The token has no valid 'oid' claim.")

        client_app = client_application(claims)
        if settings.allowed_client_apps is not None and (
                not isinstance(client_app, str) or client_app.lower() not in settings.allowed_client_apps):
            raise InvalidToken("The client application that requested this token is not allowed to call this API.")

        scp = claims.get("scp")
        if scp is None:
            # No `scp`: an app-only token (roles), which has no user to act for, so OBO is impossible.
            raise InsufficientScope("App-only tokens are not accepted: this API acts on behalf of a signed-in user.",
                                    scope=settings.api_scope)
        scopes = tuple(scp.split(" ")) if isinstance(scp, str) else ()
        if settings.api_scope not in scopes:  # exact scope value, not a prefix match
            raise InsufficientScope(f"The token lacks the '{settings.api_scope}' scope.", scope=settings.api_scope)

        username = claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name")
        return Principal(
            tenant_id=tid,
            object_id=oid.lower(),
            scopes=tuple(s for s in scopes if s),
            client_app_id=client_app.lower() if client_app is not None else None,
            username=username if isinstance(username, str) else None,
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            token_version=str(claims.get("ver", "1.0" if iss.startswith("https://sts.windows.net/") else "2.0")),
            expires_at=int(claims["exp"]),
            claims=claims,
        )
