"""The one bounded, thread-safe LRU with per-entry expiry in the code base.

Used by the Redis token store's in-process first level (L1), by the process-local token store, by the
token validator's cache of successful validations, and by the local host's App Service authentication
emulation. Misses are never cached by any of them.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruTtlCache(Generic[K, V]):
    """Thread-safe mapping with a size bound (least recently used evicted) and per-entry TTL."""

    def __init__(self, max_entries: int, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be >= 0")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    @property
    def enabled(self) -> bool:
        return self._max > 0 and self._ttl > 0

    def get(self, key: K) -> V | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if expires_at <= now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, ttl_seconds: float | None = None) -> None:
        """Remember `value`; `ttl_seconds` can only shorten the cache-wide TTL (e.g. an entry's own TTL)."""
        if not self.enabled:
            return
        ttl = self._ttl if ttl_seconds is None else min(self._ttl, ttl_seconds)
        if ttl <= 0:
            self.pop(key)
            return
        expires_at = self._clock() + ttl
        with self._lock:
            self._entries[key] = (expires_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[K]:
        """The keys of live entries, least recently used first."""
        now = self._clock()
        with self._lock:
            return [key for key, (expires_at, _) in self._entries.items() if expires_at > now]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
