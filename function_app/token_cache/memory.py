"""Process-local `PartitionStore`: a bounded LRU of serialized MSAL caches, one entry per user.

The bound keeps memory flat however many users call the instance (each partition is a few KB).
Exchanges need no cross-process lock here: the OBO client already coalesces concurrent misses in-process.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

DEFAULT_MAX_PARTITIONS = 10_000


class MemoryPartitionStore:
    def __init__(self, max_partitions: int = DEFAULT_MAX_PARTITIONS, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_partitions < 1:
            raise ValueError("max_partitions must be >= 1")
        self._max = max_partitions
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, partition_key: str) -> str | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(partition_key)
            if entry is None:
                return None
            expires_at, serialized = entry
            if expires_at <= now:
                del self._entries[partition_key]
                return None
            self._entries.move_to_end(partition_key)
            return serialized

    def save(self, partition_key: str, serialized: str, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            self.delete(partition_key)
            return
        expires_at = self._clock() + ttl_seconds
        with self._lock:
            self._entries[partition_key] = (expires_at, serialized)
            self._entries.move_to_end(partition_key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def delete(self, partition_key: str) -> None:
        with self._lock:
            self._entries.pop(partition_key, None)

    def exchange_lock(self, partition_key: str) -> AbstractContextManager[None]:
        return nullcontext()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
