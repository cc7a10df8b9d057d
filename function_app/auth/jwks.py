"""Signing keys from the tenant's OpenID discovery metadata, cached.

Keys come from the `jwks_uri` of both the v2 and the v1 discovery documents (v1 tokens, issuer
`https://sts.windows.net/{tid}/`, are signed with keys published there). They are cached for
`ttl_seconds` (24 h); a token whose `kid` is unknown triggers a refetch at most once per
`unknown_kid_interval` (5 min; docs/architecture.md, "Platform facts") so forged `kid`s can't hammer the identity provider.
When a refresh fails, keys already known keep working; with a cold cache the caller gets a 503
`identity_unavailable` with Retry-After.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import jwt
import requests

from ..errors import IdentityUnavailable, InvalidToken
from ..logging_setup import log_event

FetchJson = Callable[[str], Any]

DEFAULT_TTL_SECONDS = 24 * 3600
UNKNOWN_KID_INTERVAL_SECONDS = 5 * 60
RETRY_AFTER_SECONDS = 30
STALE_RETRY_SECONDS = 60  # while expired keys still work, retry a failing refresh at most this often
FETCH_TIMEOUT = (3.05, 5.0)


class FetchError(Exception):
    """Discovery or JWKS could not be fetched or parsed."""


def requests_fetcher(session: requests.Session) -> FetchJson:
    def fetch(url: str) -> Any:
        try:
            response = session.get(url, timeout=FETCH_TIMEOUT, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise FetchError(f"{url}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise FetchError(f"{url}: not JSON") from None

    return fetch


def discovery_urls(authority_host: str, tenant_id: str) -> tuple[str, str]:
    return (f"{authority_host}/{tenant_id}/v2.0/.well-known/openid-configuration",
            f"{authority_host}/{tenant_id}/.well-known/openid-configuration")


@dataclass(frozen=True)
class JwksStatus:
    keys: int
    fetched_at: float | None
    last_error: str | None


class JwksCache:
    def __init__(self, discovery: tuple[str, ...], fetch_json: FetchJson, *,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 unknown_kid_interval: float = UNKNOWN_KID_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._discovery = discovery
        self._fetch_json = fetch_json
        self._ttl = ttl_seconds
        self._unknown_kid_interval = unknown_kid_interval
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._last_unknown_kid_refetch: float | None = None
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._unknown_kid_lock = threading.Lock()

    def get_key(self, kid: str) -> jwt.PyJWK:
        now = self._clock()
        if self._fetched_at is None:
            self._refresh(reason="cold")
        elif now - self._fetched_at >= self._ttl and self._since_last_attempt(now) >= STALE_RETRY_SECONDS:
            self._refresh(reason="expired")
        key = self._keys.get(kid) or self._refetch_for_unknown_kid(kid)
        if key is None:
            raise InvalidToken("The token is signed with a key this API does not know.")
        return key

    def _refetch_for_unknown_kid(self, kid: str) -> jwt.PyJWK | None:
        # Serialised so that requests arriving together with a freshly rotated key wait for the one refetch
        # instead of being refused while it is in flight; late arrivals find the key without fetching again.
        with self._unknown_kid_lock:
            key = self._keys.get(kid)
            if key is None and self._may_refetch_for_unknown_kid():
                self._last_unknown_kid_refetch = self._clock()
                self._refresh(reason="unknown_kid")
                key = self._keys.get(kid)
            return key

    def status(self) -> JwksStatus:
        return JwksStatus(keys=len(self._keys), fetched_at=self._fetched_at, last_error=self._last_error)

    def warm(self) -> None:
        """Fetch the keys now if none are known yet (a new instance's warm-up); raises `IdentityUnavailable`."""
        if self._fetched_at is None:
            self._refresh(reason="warmup")

    def probe(self) -> JwksStatus:
        """Force a fetch (diagnostics); never raises."""
        try:
            self._refresh(reason="probe", force=True)
        except IdentityUnavailable:
            pass
        return self.status()

    def _since_last_attempt(self, now: float) -> float:
        return float("inf") if self._last_attempt is None else now - self._last_attempt

    def _may_refetch_for_unknown_kid(self) -> bool:
        last = self._last_unknown_kid_refetch
        return last is None or self._clock() - last >= self._unknown_kid_interval

    def _refresh(self, *, reason: str, force: bool = False) -> None:
        attempt_started = self._clock()
        with self._lock:
            # Another thread refreshed while this one waited for the lock: use its result.
            if not force and self._last_attempt is not None and self._last_attempt >= attempt_started:
                if self._keys:
                    return
                raise IdentityUnavailable("The identity provider's signing keys are unavailable.",
                                          retry_after=RETRY_AFTER_SECONDS)
            self._last_attempt = self._clock()
            try:
                keys = self._fetch_keys()
            except FetchError as exc:
                self._last_error = str(exc)
                log_event("jwks_fetch_failed", logging.WARNING, reason=reason, error=str(exc),
                          cached_keys=len(self._keys))
                if self._keys:
                    return  # keep serving the keys we have; the TTL check retries on a later request
                raise IdentityUnavailable("The identity provider's signing keys are unavailable.",
                                          retry_after=RETRY_AFTER_SECONDS) from None
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_error = None
            log_event("jwks_fetched", reason=reason, keys=len(keys))

    def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        jwks_uris: list[str] = []
        for url in self._discovery:
            metadata = self._fetch_json(url)
            uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise FetchError(f"{url}: no https jwks_uri")
            if uri not in jwks_uris:
                jwks_uris.append(uri)
        keys: dict[str, jwt.PyJWK] = {}
        for uri in jwks_uris:
            document = self._fetch_json(uri)
            entries = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(entries, list):
                raise FetchError(f"{uri}: no keys")
            for entry in entries:
                key = _rsa_signing_key(entry)
                if key is not None:
                    keys.setdefault(entry["kid"], key)
        if not keys:
            raise FetchError("no RSA signing keys published")
        return keys


def _rsa_signing_key(entry: Any) -> jwt.PyJWK | None:
    if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
        return None
    if entry.get("use", "sig") != "sig":
        return None
    try:
        return jwt.PyJWK({k: v for k, v in entry.items() if k != "alg"} | {"alg": "RS256"}, algorithm="RS256")
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, json.JSONDecodeError):
        return None
