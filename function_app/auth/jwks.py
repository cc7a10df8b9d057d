"""Signing keys from the tenant's OpenID discovery metadata, cached, with a policy for when fetching fails.

Keys come from the `jwks_uri` of both the v2 and the v1 discovery documents (v1 tokens, issuer
`https://sts.windows.net/{tid}/`, are signed with keys published there). The policy (docs/architecture.md,
"Signing keys when the identity provider fails"):

- keys are refreshed `ttl_seconds` (24 h) after the last successful fetch;
- a failed fetch is remembered: no new attempt before a back-off (2 s, doubling per consecutive failure, at most
  5 min), so a burst of requests against a cold cache makes one attempt per window, not one per request;
  those requests get 503 `identity_unavailable` with a Retry-After of what is left of the window;
- while refreshes fail, keys stay usable until `last_known_good_seconds` (25 h) after the last successful
  fetch; after that a token is refused with 401 `invalid_token` whose detail says the keys could not be
  refreshed, and each failed attempt logs `jwks_keys_past_last_known_good`;
- a token whose `kid` is unknown triggers a refetch at most once per `unknown_kid_interval` (5 min), so forged
  `kid`s can't hammer the identity provider.

Nothing here fetches on behalf of diagnostics: `status()` only reports, `ensure()` fetches only when no key
is known and the back-off allows it, like any request would.
"""
from __future__ import annotations

import json
import logging
import math
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
# How long keys stay usable after the last successful fetch while every refresh fails: the 24 h refresh
# interval plus Microsoft.IdentityModel's default last-known-good lifetime, one hour
# (BaseConfigurationManager.DefaultLastKnownGoodConfigurationLifetime). Past it, a key Entra may have
# withdrawn in an emergency rollover is no longer trusted; docs/architecture.md explains the choice.
LAST_KNOWN_GOOD_SECONDS = DEFAULT_TTL_SECONDS + 3600
UNKNOWN_KID_INTERVAL_SECONDS = 5 * 60
# Back-off after a failed fetch: 2 s, doubling per consecutive failure, at most 5 min (Microsoft.IdentityModel's
# RefreshInterval, the floor between metadata retrievals after a failure).
FIRST_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0
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
    fetched_at: float | None     # clock time of the last successful fetch
    last_error: str | None       # why the last attempt failed (None after a success)
    usable: bool                 # known keys, not past their last-known-good lifetime
    retry_in: float | None       # seconds until the back-off allows another attempt


class JwksCache:
    def __init__(self, discovery: tuple[str, ...], fetch_json: FetchJson, *,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 last_known_good_seconds: float = LAST_KNOWN_GOOD_SECONDS,
                 unknown_kid_interval: float = UNKNOWN_KID_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._discovery = discovery
        self._fetch_json = fetch_json
        self._ttl = ttl_seconds
        self._last_known_good = max(ttl_seconds, last_known_good_seconds)
        self._unknown_kid_interval = unknown_kid_interval
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._retry_at: float | None = None      # no attempt before this (set by a failure)
        self._failures = 0                       # consecutive failed attempts
        self._last_unknown_kid_refetch: float | None = None
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._unknown_kid_lock = threading.Lock()

    def get_key(self, kid: str) -> jwt.PyJWK:
        now = self._clock()
        if self._fetched_at is None:
            self._refresh(reason="cold")
        elif now - self._fetched_at >= self._ttl:
            self._refresh(reason="expired")
        self._require_usable()
        key = self._keys.get(kid) or self._refetch_for_unknown_kid(kid)
        if key is None:
            raise InvalidToken("The token is signed with a key this API does not know.")
        return key

    def _require_usable(self) -> None:
        now = self._clock()
        if not self._keys or self._fetched_at is None:
            raise IdentityUnavailable("The identity provider's signing keys are unavailable.",
                                      retry_after=math.ceil(self._retry_in(now) or FIRST_BACKOFF_SECONDS))
        if now - self._fetched_at >= self._last_known_good:
            raise InvalidToken(
                f"The signing keys could not be refreshed from the identity provider for "
                f"{(now - self._fetched_at) / 3600:.0f} hours (key refresh keeps failing), so they are no longer "
                f"trusted; try again later.")

    def _refetch_for_unknown_kid(self, kid: str) -> jwt.PyJWK | None:
        # Serialised so that requests arriving together with a freshly rotated key wait for the one refetch
        # instead of being refused while it is in flight; late arrivals find the key without fetching again.
        with self._unknown_kid_lock:
            key = self._keys.get(kid)
            if key is None and self._may_refetch_for_unknown_kid() and self._retry_in(self._clock()) is None:
                self._last_unknown_kid_refetch = self._clock()
                self._refresh(reason="unknown_kid")
                key = self._keys.get(kid)
            return key

    def status(self) -> JwksStatus:
        now = self._clock()
        usable = bool(self._keys) and self._fetched_at is not None and now - self._fetched_at < self._last_known_good
        return JwksStatus(keys=len(self._keys), fetched_at=self._fetched_at, last_error=self._last_error,
                          usable=usable, retry_in=self._retry_in(now))

    def warm(self) -> None:
        """Fetch the keys now if none are known yet (a new instance's warm-up); raises `IdentityUnavailable`."""
        if self._fetched_at is None:
            self._refresh(reason="warmup")
            self._require_usable()

    def ensure(self) -> JwksStatus:
        """Fetch only when no key is known and the back-off allows it (diagnostics); never raises, never forces."""
        if self._fetched_at is None:
            self._refresh(reason="diagnostics")
        return self.status()

    def _retry_in(self, now: float) -> float | None:
        if self._retry_at is None or now >= self._retry_at:
            return None
        return self._retry_at - now

    def _may_refetch_for_unknown_kid(self) -> bool:
        last = self._last_unknown_kid_refetch
        return last is None or self._clock() - last >= self._unknown_kid_interval

    def _refresh(self, *, reason: str) -> None:
        """One attempt, unless the back-off forbids it or another thread attempted while this one waited."""
        attempt_started = self._clock()
        if self._retry_in(attempt_started) is not None:
            return
        with self._lock:
            if self._last_attempt is not None and self._last_attempt >= attempt_started:
                return  # another thread attempted while this one waited for the lock: use its result
            if self._retry_in(self._clock()) is not None:
                return
            self._last_attempt = self._clock()
            try:
                keys = self._fetch_keys()
            except FetchError as exc:
                self._failed(reason, str(exc))
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._failures = 0
            self._retry_at = None
            self._last_error = None
            log_event("jwks_fetched", reason=reason, keys=len(keys))

    def _failed(self, reason: str, error: str) -> None:
        self._failures += 1
        backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** min(self._failures - 1, 16))
        now = self._clock()
        self._retry_at = now + backoff
        self._last_error = error
        log_event("jwks_fetch_failed", logging.WARNING, reason=reason, error=error, cached_keys=len(self._keys),
                  failures=self._failures, retry_in_s=math.ceil(backoff))
        if self._keys and self._fetched_at is not None and now - self._fetched_at >= self._last_known_good:
            log_event("jwks_keys_past_last_known_good", logging.ERROR, age_h=round((now - self._fetched_at) / 3600, 1),
                      last_known_good_h=round(self._last_known_good / 3600, 1), failures=self._failures)

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
