"""In-process coordination: a lock per key, and single flight (one computation per key at a time).

Both keep an entry only while someone holds or waits for it, so memory stays bounded however many keys
(users, tokens, sessions) pass through.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Hashable, Iterator, TypeVar

from .errors import IdentityUnavailable

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

FLIGHT_WAIT_SECONDS = 30.0


class KeyedLocks(Generic[K]):
    """A `threading.Lock` per key that exists only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[threading.Lock, list[int]]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: K) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class SingleFlight(Generic[K]):
    """Concurrent callers with the same key share one run of `work`: its result, or its exception."""

    def __init__(self, wait_seconds: float = FLIGHT_WAIT_SECONDS) -> None:
        self._wait = wait_seconds
        self._flights: dict[K, _Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: K, work: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            if not flight.done.wait(self._wait):
                raise IdentityUnavailable("Timed out waiting for a token exchange in progress.")
            if flight.error is not None:
                raise flight.error
            return flight.result
        try:
            flight.result = work()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)
