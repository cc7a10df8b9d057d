"""Short-lived server-side records: authorization codes, refresh tokens, browser sessions and
sign-in interactions in progress. All opaque handles are random; records expire on their own."""
from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

CODE_LIFETIME_S = 600
SPA_REFRESH_LIFETIME_S = 24 * 3600  # Entra's fixed lifetime for refresh tokens issued to SPAs
REFRESH_LIFETIME_S = 90 * 24 * 3600
SESSION_LIFETIME_S = 12 * 3600
INTERACTION_LIFETIME_S = 900
PRUNE_AT = 4096
MAX_RECORDS = 50_000  # per store; the oldest are forgotten beyond this


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    user_oid: str
    scopes: list[str]
    spa: bool
    amr: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    session_id: str | None
    expires_at: float
    redeemed: bool = False
    issued_at: float = field(default_factory=time.time)


@dataclass
class RefreshGrant:
    client_id: str
    user_oid: str
    spa: bool
    amr: list[str]
    auth_time: int
    expires_at: float
    issued_at: float = field(default_factory=time.time)


@dataclass
class Session:
    user_oid: str
    amr: list[str]
    auth_time: int
    expires_at: float
    started_at: float = field(default_factory=time.time)


@dataclass
class Interaction:
    """An /authorize request waiting for the user (sign-in, MFA approval, consent)."""
    params: dict[str, str]
    tenant_segment: str
    user_oid: str | None = None
    amr: list[str] = field(default_factory=list)
    mfa_required: bool = False
    expires_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


T = TypeVar("T")


class Store(Generic[T]):
    """A thread-safe handle -> record map that forgets expired records."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()
        self._adds = 0

    def add(self, record: T) -> str:
        handle = self._prefix + secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._items[handle] = record
        return handle

    def get(self, handle: str | None) -> T | None:
        if not handle:
            return None
        with self._lock:
            return self._items.get(handle)

    def pop(self, handle: str) -> T | None:
        with self._lock:
            return self._items.pop(handle, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _prune(self) -> None:
        # Cheap amortised cleanup: a full scan once every PRUNE_AT additions, and only for a big map.
        self._adds += 1
        if self._adds % PRUNE_AT or len(self._items) < PRUNE_AT:
            return
        now = time.time()
        # Keep recently expired records for a day so "expired" can be told apart from "unknown".
        for handle in [h for h, r in self._items.items() if getattr(r, "expires_at", now) < now - 86400]:
            del self._items[handle]
        # Long load runs must not grow memory without bound: forget the oldest records beyond the cap.
        excess = len(self._items) - MAX_RECORDS
        for handle in list(itertools.islice(self._items, max(0, excess))):
            del self._items[handle]
