"""The partition store interface behind the On-Behalf-Of token cache.

MSAL Python keys its cache without the user assertion, so one shared cache would mix users. Each user
gets a partition (`{tid}.{oid}` of the validated token) holding that user's serialized MSAL cache.
Implementations: `MemoryPartitionStore` (bounded LRU, one process) and `RedisPartitionStore`
(in-process L1 in front of an encrypted Redis L2, shared by every instance).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class PartitionStore(Protocol):
    def load(self, partition_key: str) -> str | None:
        """The partition's serialized MSAL cache (MSAL's JSON text), or None when absent or unreadable."""

    def save(self, partition_key: str, serialized: str, ttl_seconds: int) -> None:
        """Store the partition; it may be evicted after `ttl_seconds`. Never raises for backend outages."""

    def delete(self, partition_key: str) -> None:
        """Forget the partition (sign-out, revoked consent)."""

    def exchange_lock(self, partition_key: str) -> AbstractContextManager[None]:
        """Held around a token exchange so that processes sharing the store make one exchange per user.

        In-process callers are already coalesced by the OBO client; a process-local store returns a no-op.
        A distributed lock must be short-lived and must not fail the request when the backend is down.
        """
