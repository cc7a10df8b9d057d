"""The interface of the store behind the On-Behalf-Of token cache.

Entries are opaque text under a name the OBO code chooses (`obo.cache_policy`): a Graph token bound to a
caller's token, or a long-running session. Implementations: `MemoryTokenStore` (bounded LRU, one process)
and `RedisTokenStore` (in-process L1 in front of an encrypted Redis L2, shared by every instance).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class TokenStore(Protocol):
    def load(self, name: str) -> str | None:
        """The entry's text, or None when absent, expired or unreadable."""

    def save(self, name: str, text: str, ttl_seconds: int) -> None:
        """Store the entry until `ttl_seconds` from now (<= 0 deletes it). Never raises for backend outages."""

    def delete(self, name: str) -> None:
        """Forget the entry everywhere; a copy of its old value put back later must not be served."""

    def forget_local(self, name: str) -> None:
        """Drop any in-process copy, so the next `load` reads what other instances stored."""

    def exchange_lock(self, name: str) -> AbstractContextManager[None]:
        """Held around a token exchange so that processes sharing the store make one exchange per entry.

        In-process callers are already coalesced by the OBO client; a process-local store returns a no-op.
        A distributed lock must be short-lived and must not fail the request when the backend is down.
        """
