"""Access-token checks the Graph emulator makes on every call, as Graph does for v1 Entra tokens.

Verification is the expensive part of a Graph call, so a verified token is cached by the SHA-256 of its
string until it expires; the set of published key ids is re-read at most once a second so that a key that
stops being published stops working promptly even for cached tokens.

Continuous access evaluation: a CAE-capable token (`xms_cc` contains `cp1`) issued before the user's
sessions were revoked gets Graph's `insufficient_claims` challenge. That check runs on every call, cached
tokens included; tokens that are not CAE-capable keep working until they expire, as with Graph.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from localdev.emulator.graph.errors import access_denied, invalid_token, revocation_challenge
from localdev.emulator.graph.permissions import Permissions

# Microsoft.IdentityModel allows clock skew; a small one keeps "expired" tests meaningful.
LEEWAY_SECONDS = 30
_KEYS_REFRESH_SECONDS = 1.0
_MAX_CACHED_TOKENS = 4096


class KeySource(Protocol):
    graph_app_id: str
    graph_resource: str
    entra_url: str

    def public_keys(self) -> list[tuple[str, RSAPublicKey]]: ...

    def revocation_cutoff(self, user_oid: str | None) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and with which Graph permissions (lower-cased for matching)."""

    oid: str | None
    app_id: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    delegated: bool
    issued_at: float | None = None
    cae_capable: bool = False

    @property
    def key(self) -> str:
        """Identifies the caller for binding skip tokens: the user, or the app for app-only tokens."""
        return f"user:{self.oid}" if self.delegated else f"app:{self.app_id}"

    def allowed(self, permissions: Permissions) -> bool:
        if self.delegated:
            return not self.scopes.isdisjoint(permissions.delegated)
        return not self.roles.isdisjoint(permissions.application)


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    scopes = frozenset(str(claims.get("scp") or "").lower().split())
    raw_roles = claims.get("roles") or []
    roles = frozenset(str(role).lower() for role in raw_roles) if isinstance(raw_roles, list) else frozenset()
    # A token with `scp` acts for a user; one without is app-only, whatever else it carries.
    delegated = "scp" in claims
    oid = claims.get("oid")
    app_id = claims.get("appid") or claims.get("azp")
    iat = claims.get("iat")
    capabilities = claims.get("xms_cc")
    if isinstance(capabilities, str):
        capabilities = [capabilities]
    return Caller(
        oid=str(oid) if oid else None,
        app_id=str(app_id) if app_id else None,
        scopes=scopes,
        roles=roles,
        delegated=delegated,
        issued_at=float(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None,
        cae_capable=isinstance(capabilities, list) and any(str(c).lower() == "cp1" for c in capabilities),
    )


class TokenVerifier:
    """Turns an `Authorization` header into a `Caller` or raises Graph's 401."""

    def __init__(self, state: KeySource, tenant_id: str, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._issuer = f"https://sts.windows.net/{tenant_id}/"
        resource = state.graph_resource.rstrip("/")
        # Graph accepts its app id and its resource URI with or without the trailing slash.
        self._audiences = [resource, resource + "/", state.graph_app_id]
        self._clock = clock
        self._cache: dict[bytes, tuple[Caller, float, str | None]] = {}
        self._keys: dict[str, RSAPublicKey] = {}
        self._keys_read_at = float("-inf")

    def verify(self, authorization: str | None) -> Caller:
        token = _bearer_token(authorization)
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None:
            caller, expires_at, kid = cached
            if now < expires_at and kid in self._published_keys(now):
                return self._not_revoked(caller)
            del self._cache[digest]
        caller, expires_at, kid = self._verify_uncached(token, now)
        if len(self._cache) >= _MAX_CACHED_TOKENS:
            self._cache.pop(next(iter(self._cache)))
        self._cache[digest] = (caller, expires_at, kid)
        return self._not_revoked(caller)

    def _not_revoked(self, caller: Caller) -> Caller:
        if caller.cae_capable and caller.delegated:
            cutoff = self._state.revocation_cutoff(caller.oid)
            if cutoff is not None and (caller.issued_at is None or caller.issued_at < cutoff):
                # Graph's challenge names Entra's authorize endpoint; realm="" means the common endpoint.
                authorize = f"{self._state.entra_url.rstrip('/')}/common/oauth2/authorize"
                raise revocation_challenge(authorize, cutoff)
        return caller

    def _published_keys(self, now: float) -> dict[str, RSAPublicKey]:
        if now - self._keys_read_at >= _KEYS_REFRESH_SECONDS:
            self._keys = dict(self._state.public_keys())
            self._keys_read_at = now
        return self._keys

    def _verify_uncached(self, token: str, now: float) -> tuple[Caller, float, str | None]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_token("IDX14100: JWT is not well formed, there are no dots (.).") from None
        if header.get("alg") != "RS256":
            raise invalid_token("Access token validation failure. Invalid signature algorithm.")
        # A rotation may have published a key this verifier has not read yet: force a re-read.
        self._keys_read_at = float("-inf")
        keys = self._published_keys(now)
        kid = header.get("kid")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise invalid_token("Access token validation failure. Invalid signature.")
        try:
            # Lifetime is checked below against this verifier's clock, the one the cache expires by.
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audiences,
                issuer=self._issuer,
                options={"require": ["exp", "iss", "aud"], "verify_exp": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as error:
            raise invalid_token(_refusal(error)) from None
        expires_at = _numeric(claims, "exp")
        not_before = _numeric(claims, "nbf") if "nbf" in claims else None
        if now >= expires_at + LEEWAY_SECONDS:
            raise invalid_token("Lifetime validation failed, the token is expired.")
        if not_before is not None and now + LEEWAY_SECONDS < not_before:
            raise invalid_token("Lifetime validation failed, the token is not yet valid.")
        caller = caller_from_claims(claims)
        if caller.delegated and not caller.oid:
            raise invalid_token("Access token validation failure. Missing claim 'oid'.")
        return caller, expires_at + LEEWAY_SECONDS, kid


# Graph's words after "Access token validation failure." for what PyJWT refuses (lifetime is checked apart). The
# emulator keeps this mapping to itself rather than using the product's `auth/verdict.py`: what the product is
# tested against must not share its code.
_REFUSAL_DETAILS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.InvalidAudienceError, " Invalid audience."),
    (jwt.InvalidIssuerError, " Invalid issuer."),
    (jwt.InvalidSignatureError, " Invalid signature."),
)


def _refusal(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"Access token validation failure. Missing claim '{error.claim}'."
    return "Access token validation failure." + next(
        (detail for cls, detail in _REFUSAL_DETAILS if isinstance(error, cls)), "")


def _numeric(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_token(f"Access token validation failure. Invalid claim '{name}'.")
    return float(value)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise invalid_token("Access token is empty.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_token("Access token is empty.")
    return token


def require(caller: Caller, permissions: Permissions) -> None:
    if not caller.allowed(permissions):
        raise access_denied()


__all__ = ["Caller", "LEEWAY_SECONDS", "TokenVerifier", "caller_from_claims", "require"]
