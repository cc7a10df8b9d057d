"""Long-running sessions: Graph access for work that outlives the caller's request (the profile report).

`start` performs a fresh On-Behalf-Of exchange with the caller's current token (never from a cache, so
Entra ID evaluates Conditional Access for this very token) and keeps the result, refresh token included,
under a random session id. Background steps get Graph tokens from that session only (`graph_token`), and
the job ends it (`end`). The record expires by itself at the job's maximum run time. This follows MSAL.NET's
InitiateLongRunningProcessInWebApi / AcquireTokenInLongRunningProcess, with the session id always random
(https://learn.microsoft.com/entra/msal/dotnet/acquiring-tokens/web-apps-apis/on-behalf-of-flow).
"""
from __future__ import annotations

import hashlib
import time
from typing import Sequence

import msal

from ..auth.validate import Principal
from ..concurrency import KeyedLocks
from ..errors import ApiError, IdentityUnavailable, InteractionRequired, InvalidToken, TokenExpired
from ..logging_setup import log_event
from ..settings import Settings
from ..token_cache.store import TokenStore
from .aadsts import map_msal_error
from .cache_policy import SessionRecord, new_session_id, session_key
from .client import canonical_scopes, user_ref
from .msal_apps import TRANSPORT_ERRORS, MsalApps, exchange_on_behalf_of
from .msal_http import ResponseRecorder

_ENDED = "The sign-in that started this job has ended or was revoked; sign in again and start a new job."


def session_ref(session_id: str) -> str:
    """A reference to a session for logs that doesn't reveal its id."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


class LongRunningSessions:
    def __init__(self, settings: Settings, store: TokenStore, apps: MsalApps) -> None:
        self._settings = settings
        self._store = store
        self._apps = apps
        # Steps of one job may run at once; one refresh at a time keeps the record's last write coherent.
        self._locks: KeyedLocks[str] = KeyedLocks()

    def start(self, principal: Principal, assertion: str, scopes: Sequence[str], ttl_seconds: int) -> str:
        """Exchange the caller's token now and open a session; returns its id. Raises the mapped error."""
        scopes = canonical_scopes(scopes, self._settings.graph_scopes)
        cache = msal.SerializableTokenCache()
        app, http = self._apps.session_app(cache)
        exchange_on_behalf_of(app, http, self._settings, assertion, scopes, event="session_exchange",
                              user=user_ref(principal))
        if not any(True for _ in cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)):
            raise InteractionRequired("The identity provider issued no refresh token, so background work can't "
                                      "act for the user; sign in again.")
        session_id = new_session_id()
        record = SessionRecord(msal_cache=cache.serialize(), deadline=time.time() + ttl_seconds)
        self._store.save(session_key(session_id), record.serialize(), ttl_seconds)
        log_event("session_started", user=user_ref(principal), session=session_ref(session_id), ttl=ttl_seconds)
        return session_id

    def graph_token(self, session_id: str, scopes: Sequence[str]) -> str:
        """A Graph token from the session (its access token, else its refresh token); raises
        `InteractionRequired` when the session is gone or the identity provider refuses it."""
        scopes = canonical_scopes(scopes, self._settings.graph_scopes)
        key = _key(session_id)
        with self._locks.hold(key):
            record = self._load(key)
            cache = msal.SerializableTokenCache()
            try:
                cache.deserialize(record.msal_cache)
            except ValueError:
                self._store.delete(key)
                raise InteractionRequired(_ENDED) from None
            app, http = self._apps.session_app(cache)
            accounts = app.get_accounts()
            if not accounts:
                raise InteractionRequired(_ENDED)
            try:
                result = app.acquire_token_silent_with_error(list(scopes), account=accounts[0])
            except TRANSPORT_ERRORS:
                raise IdentityUnavailable("The identity provider is unavailable.", retry_after=http.retry_after) from None
            if cache.has_state_changed and record.ttl() > 0:
                self._store.save(key, SessionRecord(cache.serialize(), record.deadline).serialize(), record.ttl())
            if result and "access_token" in result:
                return result["access_token"]
            raise self._error(result, http)

    def forget_access_tokens(self, session_id: str) -> None:
        """Graph refused the session's access token: drop it (and its siblings), so the next Graph token comes
        from the refresh token. Nothing to do for a session that is gone."""
        try:
            key = session_key(session_id)
        except ValueError:
            return
        with self._locks.hold(key):
            text = self._store.load(key)
            record = SessionRecord.parse(text) if text else None
            if record is None or record.ttl() <= 0:
                return
            cache = msal.SerializableTokenCache()
            try:
                cache.deserialize(record.msal_cache)
            except ValueError:
                return
            for token in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(token)
            self._store.save(key, SessionRecord(cache.serialize(), record.deadline).serialize(), record.ttl())

    def end(self, session_id: str) -> None:
        """Delete the session (idempotent)."""
        try:
            key = session_key(session_id)
        except ValueError:
            return
        self._store.delete(key)
        log_event("session_ended", session=session_ref(session_id))

    def exists(self, session_id: str) -> bool:
        try:
            return self._store.load(session_key(session_id)) is not None
        except ValueError:
            return False

    def _load(self, key: str) -> SessionRecord:
        text = self._store.load(key)
        record = SessionRecord.parse(text) if text else None
        if record is None or record.ttl() <= 0:
            raise InteractionRequired(_ENDED)
        return record

    def _error(self, result: dict | None, http: ResponseRecorder) -> ApiError:
        if result and (http.status == 429 or (http.status or 0) >= 500 or
                       result.get("error") in ("temporarily_unavailable", "server_error")):
            return IdentityUnavailable("The identity provider is unavailable.", retry_after=http.retry_after)
        if result:
            error = map_msal_error(result, self._settings, status=http.status, retry_after=http.retry_after)
            # A refused refresh (revoked, expired) ends the session: the caller's token is long gone, so
            # "token invalid/expired" would point at the wrong thing.
            return InteractionRequired(_ENDED) if isinstance(error, (InvalidToken, TokenExpired)) else error
        return InteractionRequired(_ENDED)


def _key(session_id: str) -> str:
    try:
        return session_key(session_id)
    except ValueError:
        raise InteractionRequired(_ENDED) from None
