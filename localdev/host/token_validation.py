"""Bearer token validation as App Service's Microsoft provider does it, fast enough to sit in front of every call.

Signing keys come from the issuer's OpenID discovery document (`{issuer}/.well-known/openid-configuration`
→ `jwks_uri`), fetched lazily on the first token (so the host starts before the identity provider does) and
kept; an unknown `kid` triggers one refetch, rate limited. Successful validations are remembered in a bounded
LRU keyed by the SHA-256 of the exact token string, each until min(the token's `exp`, 5 minutes after it was
validated), with `exp` re-checked on every hit; rejections are never remembered. So a caller reusing its
token costs a hash and a dictionary lookup, and what the middleware derives from the claims (the principal
headers) is computed once per cached token too. Checks: the header and payload read strictly, with the product's
own reader (`function_app.auth.segments`: no duplicate member names, NaN/Infinity or overflowing numbers, UTF-8
only), then RS256 signature, issuer
(the configured v2 issuer or the tenant's v1 `https://sts.windows.net/{tid}/`), `exp`/`nbf` with a small
leeway, audience, and the default authorization policy (allowed client applications via `azp`/`appid`,
allowed identities via `oid`; a present but empty `azp` never falls back to `appid`).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import aiohttp
import jwt
from jwt import PyJWK

from function_app.auth.segments import SegmentError, decode_compact
from function_app.auth.verdict import Failure, Refusal, decode_verified
from function_app.errors import Misconfigured
from function_app.http_sessions import client_tls_context
from function_app.lru import LruTtlCache
from function_app.settings import load_settings
from localdev.settings import local_settings
from localdev.host.authsettings import AuthSettings

log = logging.getLogger("localdev.host.easyauth")

LEEWAY_SECONDS = 60
JWKS_MAX_AGE_SECONDS = 3600
CACHE_MAX_ENTRIES = 10_000
CACHE_MAX_AGE_SECONDS = 300.0


@dataclass(frozen=True)
class Rejection(Exception):
    """Why a request's credentials were not accepted; maps to one problem response."""

    status: int
    code: str
    title: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def missing_token() -> Rejection:
    return Rejection(401, "missing_token", "Authentication required",
                     "Send an Entra ID access token for this API as 'Authorization: Bearer <token>'.")


def invalid_token(detail: str) -> Rejection:
    return Rejection(401, "invalid_token", "Invalid access token", detail)


def verify_rs256(token: str, key: Any, *, audiences: Iterable[str], issuers: Iterable[str],
                 messages: Mapping[Failure, str], otherwise: str) -> dict[str, Any]:
    """RS256 signature, issuer, audience and lifetime (with the provider's leeway), as both providers check them;
    a refusal in the caller's words (`messages`, else `otherwise`): 401 `token_expired` or `invalid_token`."""
    try:
        return decode_verified(token, key, algorithms=["RS256"], audience=list(audiences), issuer=list(issuers),
                               leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]})
    except Refusal as refusal:
        detail = refusal.worded(messages, otherwise)
        if refusal.failure is Failure.EXPIRED:
            raise Rejection(401, "token_expired", "Access token expired", detail) from None
        raise invalid_token(detail) from None


def forbidden(detail: str) -> Rejection:
    # App Service answers 403 when a valid token fails the authorization policy.
    return Rejection(403, "invalid_token", "Caller not allowed", detail)


@dataclass
class Validated:
    """A successful validation: the claims, the provider that accepted them, and a place for callers to keep
    what they derive from them."""

    claims: dict[str, Any]
    valid_until: float
    derived: dict[str, Any] = field(default_factory=dict)
    provider: str = "aad"


def token_digest(token: str) -> bytes:
    """The key a validated token is cached under."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class ValidatedTokens:
    """Successful validations by token digest, each kept until min(exp, max age): the code base's one expiring
    LRU (`function_app.lru`), as the product's own validator uses it."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES, max_age_seconds: float = CACHE_MAX_AGE_SECONDS,
                 clock: Callable[[], float] | None = None, provider: str = "aad") -> None:
        self._clock = clock
        self._provider = provider
        self._entries: LruTtlCache[bytes, Validated] = LruTtlCache(max(0, max_entries), max_age_seconds,
                                                                   clock=self.now)

    def __len__(self) -> int:
        return len(self._entries)

    def now(self) -> float:
        return self._clock() if self._clock is not None else time.time()

    def get(self, digest: bytes) -> Validated | None:
        return self._entries.get(digest)  # an entry never outlives the token's exp (see `put`)

    def put(self, digest: bytes, claims: dict[str, Any]) -> Validated:
        now = self.now()
        exp = claims.get("exp")
        valid_until = min(float(exp), now + self._entries.ttl_seconds) if isinstance(exp, (int, float)) else now
        entry = Validated(claims, valid_until, provider=self._provider)
        self._entries.put(digest, entry, valid_until - now)  # inside the leeway after exp: never cached
        return entry


class KeysUnavailable(Exception):
    """Discovery or JWKS could not be fetched."""


def ssl_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """The product's trust store (CA_BUNDLE, the local CA, as `function_app.settings` resolves it), else the default
    one: the stand-in for App Service trusts what the app's own settings say, read the app's way."""
    try:
        bundle = load_settings(environ).ca_bundle
    except Misconfigured:
        bundle = None
    return client_tls_context(bundle)


class SigningKeys:
    """The issuer's JWKS, fetched through discovery with one in-flight fetch at a time."""

    def __init__(self, issuer: str, context: ssl.SSLContext, *, min_refetch_seconds: float,
                 max_age_seconds: float = JWKS_MAX_AGE_SECONDS) -> None:
        self._discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._context = context
        self._min_refetch = min_refetch_seconds
        self._max_age = max_age_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")  # a failed fetch is not retried within min_refetch_seconds
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._context),
                timeout=aiohttp.ClientTimeout(total=10), trust_env=False)
        return self._session

    async def _get_json(self, url: str) -> Any:
        async with self._client().get(url) as response:
            if response.status != 200:
                raise KeysUnavailable(f"GET {url} answered {response.status}")
            return await response.json(content_type=None)

    async def _fetch(self) -> None:
        try:
            if self._jwks_uri is None:
                document = await self._get_json(self._discovery_url)
                self._jwks_uri = str(document["jwks_uri"])
            jwks = await self._get_json(self._jwks_uri)
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as exc:
            raise KeysUnavailable(f"signing keys unavailable: {exc}") from exc
        keys: dict[str, PyJWK] = {}
        for entry in jwks.get("keys", []):
            try:
                key = PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type this validator does not use
            if entry.get("kid"):
                keys[entry["kid"]] = key
        self._keys = keys
        self._fetched_at = time.monotonic()
        log.info("fetched %d signing keys", len(keys))

    def _age(self) -> float:
        return time.monotonic() - self._fetched_at

    async def get(self, kid: str) -> PyJWK | None:
        """The key for `kid`; refetches when the set is old, or (rate limited) when `kid` is unknown."""
        if kid in self._keys and self._age() < self._max_age:
            return self._keys[kid]
        async with self._lock:
            age = self._age()
            if kid in self._keys and age < self._max_age:
                return self._keys[kid]  # fetched by whoever held the lock before us
            backing_off = time.monotonic() - self._failed_at < self._min_refetch
            if backing_off and kid not in self._keys:
                raise KeysUnavailable("signing keys unavailable (the last fetch failed moments ago)")
            if not backing_off and (age >= self._max_age or age >= self._min_refetch):
                try:
                    await self._fetch()
                except KeysUnavailable:
                    self._failed_at = time.monotonic()
                    if kid in self._keys:
                        return self._keys[kid]  # keep serving known keys while the provider is down
                    raise
            return self._keys.get(kid)


# The Microsoft provider's words for PyJWT's refusals.
_REFUSALS = {
    Failure.EXPIRED: "The access token has expired; acquire a new one.",
    Failure.NOT_YET_VALID: "The token is not valid yet (nbf/iat in the future).",
    Failure.AUDIENCE: "The token was not issued for this API (audience).",
    Failure.ISSUER: "The token was not issued by the configured issuer.",
    Failure.MISSING_CLAIM: "The token has no '{claim}' claim.",
    Failure.SIGNATURE: "The token signature is not valid.",
}


class TokenValidator:
    """Validates bearer tokens against one AuthSettings; thread-unsafe by design (one event loop)."""

    def __init__(self, settings: AuthSettings, environ: Mapping[str, str] | None = None, *,
                 keys: SigningKeys | None = None, cache: ValidatedTokens | None = None) -> None:
        env = os.environ if environ is None else environ
        self.settings = settings
        refetch = local_settings(env).easyauth_jwks_refetch_seconds
        self.keys = keys or SigningKeys(settings.issuer, ssl_context(env), min_refetch_seconds=refetch)
        self.cache = cache if cache is not None else ValidatedTokens()

    async def close(self) -> None:
        await self.keys.close()

    async def validate(self, token: str) -> dict[str, Any]:
        """The token's claims, or raises Rejection (or KeysUnavailable)."""
        return (await self.validated(token)).claims

    async def validated(self, token: str) -> Validated:
        """Like `validate`, with the cache entry (whose `derived` dict callers may fill)."""
        digest = token_digest(token)
        entry = self.cache.get(digest)
        if entry is not None:
            return entry
        claims = await self._validate(token)  # raises on any failure: failures are never cached
        return self.cache.put(digest, claims)

    async def _validate(self, token: str) -> dict[str, Any]:
        settings = self.settings
        try:
            header = decode_compact(token).header
        except SegmentError as error:
            raise invalid_token(f"The bearer token is not a well-formed JWT: {error}.") from None
        if header.get("alg") != "RS256":
            raise invalid_token("The token is not signed with RS256.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise invalid_token("The token header has no key id (kid).")
        key = await self.keys.get(kid)
        if key is None:
            raise invalid_token("The token is not signed by a key of the configured issuer.")
        claims = verify_rs256(token, key.key, audiences=settings.audiences, issuers=settings.accepted_issuers,
                              messages=_REFUSALS, otherwise="The token could not be validated.")
        self._authorize(claims)
        return claims

    def _authorize(self, claims: Mapping[str, Any]) -> None:
        settings = self.settings
        if claims.get("iss", "").startswith("https://sts.windows.net/"):
            # A v1 token names its tenant only in the issuer; check it is the configured tenant's.
            if claims.get("tid") not in (None, settings.tenant_id):
                raise invalid_token("The token's tenant does not match its issuer.")
        if settings.allowed_applications:
            client = claims["azp"] if "azp" in claims else claims.get("appid")
            if client not in settings.allowed_applications:
                raise forbidden("The client application that requested this token is not allowed.")
        if settings.allowed_identities and claims.get("oid") not in settings.allowed_identities:
            raise forbidden("This identity is not allowed to call the API.")
