"""Choose the partition store from settings (`TOKEN_CACHE=memory|redis`)."""
from __future__ import annotations

from ..settings import Settings
from .memory import MemoryPartitionStore
from .store import PartitionStore


def build_partition_store(settings: Settings) -> PartitionStore:
    if settings.token_cache == "redis":
        # Imported lazily: the memory default must not pay for (or require) the redis client at import.
        from .redis_store import RedisPartitionStore

        assert settings.redis_url is not None  # enforced by settings
        return RedisPartitionStore(settings.redis_url, list(settings.token_cache_keys))
    return MemoryPartitionStore()
