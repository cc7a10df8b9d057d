"""Process-local `TokenStore`: a bounded LRU of entries, each expiring with its own TTL.

The bound keeps memory flat however many callers use the instance. Exchanges need no cross-process lock
here: the OBO client already coalesces concurrent misses in-process.
"""
from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

from ..lru import LruTtlCache

DEFAULT_MAX_ENTRIES = 10_000


class MemoryTokenStore:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        # No cache-wide TTL: every entry carries its own (see `save`).
        self._entries: LruTtlCache[str, str] = LruTtlCache(max_entries, math.inf, clock=clock)

    def load(self, name: str) -> str | None:
        return self._entries.get(name)

    def save(self, name: str, text: str, ttl_seconds: int) -> None:
        self._entries.put(name, text, ttl_seconds)  # a TTL <= 0 forgets the entry

    def delete(self, name: str) -> None:
        self._entries.pop(name)

    def forget_local(self, name: str) -> None:
        """Nothing to do: this store is the only copy."""

    def exchange_lock(self, name: str) -> AbstractContextManager[None]:
        return nullcontext()

    def names(self) -> list[str]:
        """Entry names (tests and diagnostics inspect what is kept)."""
        return self._entries.keys()

    def __len__(self) -> int:
        return len(self._entries)
