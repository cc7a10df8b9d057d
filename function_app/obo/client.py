"""`OboClient`: Microsoft Graph tokens On-Behalf-Of the caller, for interactive requests.

Each Graph token is cached under the caller's validated token plus the scopes (`cache_policy`), so every
new caller token gets exactly one exchange of its own, across instances:
- a hit in the store (in-process L1, then the shared Redis L2) costs no exchange;
- concurrent misses for one key share one in-flight exchange (`SingleFlight`), inside the store's
  cross-process `exchange_lock`, and the store is re-read after taking the lock;
- failures are never cached, so the next request asks the identity provider again; the one exception is
  Graph's claims challenge for a token already handed out, kept in the token's place (`cache_policy`).
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Sequence

from ..auth.validate import Principal
from ..concurrency import SingleFlight
from ..errors import InteractionRequired
from ..logging_setup import log_event
from ..settings import Settings
from ..token_cache.store import TokenStore
from .cache_policy import CachedGraphToken, ClaimsChallenge, assertion_key, interactive_ttl
from .msal_apps import MsalApps, exchange_on_behalf_of

RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


def canonical_scopes(scopes: Sequence[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(scopes) if scopes else tuple(default)
    if {s.lower() for s in chosen} & RESERVED_SCOPES:
        raise ValueError("openid, profile and offline_access are added by MSAL; don't pass them")
    return tuple(sorted(set(chosen)))


def user_ref(principal: Principal) -> str:
    """A stable, non-identifying reference to a user for logs."""
    return hashlib.sha256(principal.user_key.encode()).hexdigest()[:12]


class OboClient:
    def __init__(self, settings: Settings, store: TokenStore, apps: MsalApps) -> None:
        self._settings = settings
        self._store = store
        self._apps = apps
        self._flights: SingleFlight[str] = SingleFlight()

    @property
    def store(self) -> TokenStore:
        return self._store

    def graph_token(self, principal: Principal, assertion: str, scopes: Sequence[str] | None = None) -> str:
        """A Graph token for this caller's token: from the cache, else one (shared) exchange."""
        scopes = canonical_scopes(scopes, self._settings.graph_scopes)
        key = assertion_key(assertion, scopes)
        token = self._cached(key)
        if token is not None:
            return token
        return self._flights.run(key, lambda: self._exchange(key, principal, assertion, scopes))

    def forget(self, assertion: str, scopes: Sequence[str] | None = None) -> None:
        """Drop the Graph token cached for this caller's token (Graph rejected it, or consent was revoked)."""
        self._store.delete(assertion_key(assertion, canonical_scopes(scopes, self._settings.graph_scopes)))

    def challenged(self, principal: Principal, assertion: str, scopes: Sequence[str] | None, claims: str) -> None:
        """Graph answered this caller token's Graph token with a claims challenge: keep the challenge in the
        token's place until the caller's token expires, so every request with that token gets it."""
        key = assertion_key(assertion, canonical_scopes(scopes, self._settings.graph_scopes))
        ttl = int(principal.expires_at - time.time())
        if ttl <= 0:
            self._store.delete(key)
            return
        self._store.save(key, ClaimsChallenge(claims).serialize(), ttl)
        log_event("graph_claims_challenge_kept", user=user_ref(principal), ttl=ttl)

    def warm_up(self) -> None:
        """Discovery and the exchanging application, built ahead of the first user (benchmarks, diagnostics)."""
        self._apps.warm_up()

    def open_connections(self, count: int) -> int:
        """Connections to the token endpoint opened ahead of the first exchanges; how many opened."""
        return self._apps.open_connections(count)

    def _cached(self, key: str) -> str | None:
        """The cached Graph token, None on a miss; raises the kept claims challenge for a challenged token."""
        text = self._store.load(key)
        if not text:
            return None
        entry = CachedGraphToken.parse(text)
        if entry is None and (challenge := ClaimsChallenge.parse(text)) is not None:
            raise InteractionRequired("Microsoft Graph requires the user to sign in again.", claims=challenge.claims)
        return entry.access_token if entry is not None and entry.usable() else None

    def _exchange(self, key: str, principal: Principal, assertion: str, scopes: tuple[str, ...]) -> str:
        with self._store.exchange_lock(key):
            self._store.forget_local(key)  # another instance may have stored it while we waited
            token = self._cached(key)
            if token is not None:
                return token
            app, http = self._apps.exchanger()
            result = exchange_on_behalf_of(app, http, self._settings, assertion, scopes, event="obo_exchange",
                                           user=user_ref(principal))
            token = result["access_token"]
            expires_on = time.time() + _seconds(result.get("expires_in"))
            ttl = interactive_ttl(expires_on, principal.expires_at)
            if ttl > 0:
                self._store.save(key, CachedGraphToken(token, expires_on).serialize(), ttl)
            else:
                log_event("obo_result_not_cached", logging.DEBUG, user=user_ref(principal), ttl=ttl)
            return token


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
