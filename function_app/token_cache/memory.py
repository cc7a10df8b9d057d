"""Process-local `PartitionStore`: a bounded LRU of serialized MSAL caches, one entry per user.

The bound keeps memory flat however many users call the instance (each partition is a few KB), and each
partition expires with the TTL the OBO client gives it. Exchanges need no cross-process lock here: the OBO
client already coalesces concurrent misses in-process.
"""
from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

from .l1 import LruTtlCache

DEFAULT_MAX_PARTITIONS = 10_000


class MemoryPartitionStore:
    def __init__(self, max_partitions: int = DEFAULT_MAX_PARTITIONS, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_partitions < 1:
            raise ValueError("max_partitions must be >= 1")
        # No cache-wide TTL: every partition carries its own (see `save`).
        self._entries = LruTtlCache(max_partitions, math.inf, clock=clock)

    def load(self, partition_key: str) -> str | None:
        return self._entries.get(partition_key)

    def save(self, partition_key: str, serialized: str, ttl_seconds: int) -> None:
        self._entries.put(partition_key, serialized, ttl_seconds)  # a TTL <= 0 forgets the partition

    def delete(self, partition_key: str) -> None:
        self._entries.pop(partition_key)

    def exchange_lock(self, partition_key: str) -> AbstractContextManager[None]:
        return nullcontext()

    def __len__(self) -> int:
        return len(self._entries)
