"""The shared expiring LRU: bounded, least-recently-used eviction, per-entry TTL."""
from __future__ import annotations

import threading

import pytest

from function_app.lru import LruTtlCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_get_returns_what_was_put() -> None:
    cache = LruTtlCache(4, 30)
    cache.put("k", "v")
    assert cache.get("k") == "v"
    assert cache.get("other") is None


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache = LruTtlCache(4, 30, clock=clock)
    cache.put("k", "v")
    clock.now += 29.9
    assert cache.get("k") == "v"
    clock.now += 0.2
    assert cache.get("k") is None
    assert len(cache) == 0


def test_per_entry_ttl_only_shortens() -> None:
    clock = FakeClock()
    cache = LruTtlCache(4, 30, clock=clock)
    cache.put("short", "v", ttl_seconds=5)
    cache.put("long", "v", ttl_seconds=3600)
    clock.now += 6
    assert cache.get("short") is None
    assert cache.get("long") == "v"
    clock.now += 25
    assert cache.get("long") is None


def test_least_recently_used_is_evicted() -> None:
    cache = LruTtlCache(2, 30)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # a is now the most recently used
    cache.put("c", "3")
    assert cache.get("b") is None
    assert cache.get("a") == "1" and cache.get("c") == "3"
    assert len(cache) == 2


def test_overwrite_replaces_and_refreshes() -> None:
    cache = LruTtlCache(2, 30)
    cache.put("a", "1")
    cache.put("b", "2")
    cache.put("a", "1b")
    cache.put("c", "3")
    assert cache.get("a") == "1b"
    assert cache.get("b") is None


def test_pop_and_clear() -> None:
    cache = LruTtlCache(4, 30)
    cache.put("a", "1")
    cache.put("b", "2")
    cache.pop("a")
    cache.pop("missing")
    assert cache.get("a") is None and cache.get("b") == "2"
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("size, ttl", [(0, 30), (4, 0)])
def test_disabled_cache_stores_nothing(size: int, ttl: float) -> None:
    cache = LruTtlCache(size, ttl)
    cache.put("a", "1")
    assert cache.get("a") is None


def test_zero_ttl_put_removes_existing_entry() -> None:
    cache = LruTtlCache(4, 30)
    cache.put("a", "1")
    cache.put("a", "2", ttl_seconds=0)
    assert cache.get("a") is None


def test_bound_holds_under_concurrent_use() -> None:
    cache = LruTtlCache(50, 30)

    def worker(n: int) -> None:
        for i in range(500):
            cache.put(f"{n}-{i}", "v")
            cache.get(f"{n}-{i // 2}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50
