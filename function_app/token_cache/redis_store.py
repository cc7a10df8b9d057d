"""`RedisTokenStore`: token cache entries shared by every instance through Redis.

Layers
------
- L1: an in-process LRU with a short TTL (`lru.LruTtlCache`), so the hot path costs no network round trip.
  A copy there may outlive a delete made by another instance for up to `l1_ttl_seconds`; the worst case is
  one more Graph call with a token Graph then rejects, which that instance forgets in turn.
- L2: Redis, shared by all instances. Values are AES-GCM envelopes (`crypto.KeyRing`): Redis never holds a
  token in the clear, an envelope only opens under its own entry name and generation, and never after its
  expiry.
- Redis key names are `<prefix>e:{<sha256(name)[:32]>}` (entry), `...g:{...}` (its generation) and
  `...lock:{...}`: fixed length, no token material and no directory ids for someone browsing the cache (the
  braces keep an entry, its generation and its lock in one Redis Cluster slot).

Integrity
---------
`delete` removes the entry and increments its generation, which every envelope binds in its associated
data. An old blob written back under its own name therefore fails authentication: a deleted Graph token
(Graph rejected it, consent was revoked) or an ended session can't be resurrected by a replay. A
generation counter outlives any envelope sealed under it (its TTL is refreshed past `max_ttl_seconds`).

Expiry
------
An entry lives `min(requested TTL, max_ttl_seconds)`: interactive Graph tokens until the earlier of their
own and the caller's token's expiry, sessions until their job's maximum run time (`obo.cache_policy`).

Single exchange across instances
--------------------------------
`exchange_lock` takes a short Redis lock (`SET NX PX` with a random token, released by a Lua
compare-and-delete so an expired holder never frees someone else's lock). A process that finds the lock
taken polls until the lock is free or the entry changes, then the OBO client re-reads the entry (its L1
copy is dropped first) and normally finds the token the holder obtained. The wait is bounded: after
`lock_wait_seconds` the caller proceeds and exchanges itself, a duplicate exchange being better than a
failed request.

Redis outages
-------------
No method raises because Redis is down. Short socket timeouts bound an attempt, a circuit breaker skips
Redis for a few seconds after consecutive failures, and a rate-limited warning says what happened. The
store then behaves like a per-process cache (L1 plus an exchange on a miss, without cross-process lock).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .crypto import EnvelopeError, KeyRing
from ..lru import LruTtlCache
from .outage import CircuitBreaker, RateLimitedLogger

logger = logging.getLogger(__name__)

MAX_ENTRY_TTL_SECONDS: Final = 24 * 3600
DEFAULT_KEY_PREFIX: Final = "obo-cache:v2:"
# A generation must outlive every envelope sealed under the previous one.
GENERATION_TTL_MARGIN_SECONDS: Final = 3600

# Compare-and-delete: only the holder (who knows the random token) may release the lock.
_RELEASE_LOCK_LUA: Final = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""

T = TypeVar("T")


class _Failed:
    """Marker for "Redis did not answer" (distinct from a None reply, which means "no such key")."""

    def __repr__(self) -> str:
        return "<redis unavailable>"


FAILED: Final = _Failed()


class RedisTokenStore:
    """`TokenStore` backed by an encrypted Redis L2 with an in-process L1; see the module docstring."""

    def __init__(
        self,
        url: str,
        keys: Sequence[tuple[str, bytes]],
        *,
        l1_max_entries: int = 1024,
        l1_ttl_seconds: float = 30.0,
        max_ttl_seconds: int = MAX_ENTRY_TTL_SECONDS,
        socket_timeout: float = 0.25,
        connect_timeout: float = 0.5,
        lock_ttl_ms: int = 10_000,
        lock_wait_seconds: float = 5.0,
        lock_poll_seconds: float = 0.01,
        breaker: CircuitBreaker | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        warn_interval_seconds: float = 60.0,
        credential_provider: redis.CredentialProvider | None = None,
    ) -> None:
        self._keyring = KeyRing(keys)
        self._l1: LruTtlCache[str, str] = LruTtlCache(l1_max_entries, l1_ttl_seconds)
        self._max_ttl = max_ttl_seconds
        self._lock_ttl_ms = lock_ttl_ms
        self._lock_wait = lock_wait_seconds
        self._lock_poll = lock_poll_seconds
        self._breaker = breaker or CircuitBreaker()
        self._prefix = key_prefix
        self._log = RateLimitedLogger(logger, warn_interval_seconds)
        # from_url does no I/O: connections open on the first command, never at construction or import.
        # One retry (no backoff) on a connection error re-dials a pooled connection that a Redis restart left
        # dead. Timeouts are not retried: a hung Redis would only cost the timeout twice.
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=30,
            credential_provider=credential_provider,  # Entra authentication (entra_auth.py), else the URL's
        )
        self._release = self._redis.register_script(_RELEASE_LOCK_LUA)
        # Per thread, inside `exchange_lock`: entries found absent when the lock was taken, with their generation.
        self._absent = threading.local()
        # Counters for diagnostics and the benchmark; unlocked, so approximate under heavy concurrency.
        self._stats = {"l1_hits": 0, "l2_hits": 0, "misses": 0, "unreadable": 0, "backend_failures": 0}

    # -- TokenStore ------------------------------------------------------------------------------------

    def load(self, name: str) -> str | None:
        cached = self._l1.get(name)
        if cached is not None:
            self._stats["l1_hits"] += 1
            return cached
        if name in getattr(self._absent, "names", {}):
            self._stats["misses"] += 1
            return None  # read a moment ago, under the exchange lock this thread holds
        reply = self._call("read", lambda r: _read(r, self.redis_key(name), self.generation_key(name)))
        if reply is FAILED or reply[0] is None:
            self._stats["misses"] += 1
            return None
        raw, generation = reply
        opened = self._open(name, raw, generation)
        if opened is None:
            self._stats["unreadable"] += 1
            return None
        text, expires_at = opened
        self._stats["l2_hits"] += 1
        self._l1.put(name, text, expires_at - time.time())
        return text

    def save(self, name: str, text: str, ttl_seconds: int) -> None:
        ttl = min(int(ttl_seconds), self._max_ttl)
        if ttl <= 0:
            self.delete(name)
            return
        self._l1.put(name, text, ttl)
        known = getattr(self._absent, "names", {}).pop(name, None)
        generation = known if known is not None else self._call(
            "read generation", lambda r: _generation(r.get(self.generation_key(name))))
        if generation is FAILED:
            return  # no Redis: the L1 copy serves this process
        envelope = self._keyring.seal(name, text.encode("utf-8"), expires_at=int(time.time()) + ttl,
                                      generation=generation)
        self._call("write", lambda r: r.set(self.redis_key(name), envelope, ex=ttl))

    def delete(self, name: str) -> None:
        self._l1.pop(name)
        self._call("delete", lambda r: _delete(r, self.redis_key(name), self.generation_key(name),
                                               self._max_ttl + GENERATION_TTL_MARGIN_SECONDS))

    def forget_local(self, name: str) -> None:
        """Drop the in-process copy of one entry, so the next load reads Redis."""
        self._l1.pop(name)

    def exchange_lock(self, name: str) -> AbstractContextManager[None]:
        return self._exchange_lock(name)

    # -- extras for diagnostics, tests and the benchmark ------------------------------------------------

    # The digest is a hash tag ({...}): an entry, its generation and its lock map to one Redis Cluster slot.
    def redis_key(self, name: str) -> str:
        return f"{self._prefix}e:{{{_digest(name)}}}"

    def generation_key(self, name: str) -> str:
        return f"{self._prefix}g:{{{_digest(name)}}}"

    def lock_key(self, name: str) -> str:
        return f"{self._prefix}lock:{{{_digest(name)}}}"

    @property
    def backend_available(self) -> bool:
        """False while the circuit breaker keeps requests away from Redis."""
        return not self._breaker.is_open

    def ping(self) -> bool:
        """One round trip to Redis (diagnostics); False when it is unreachable. Never raises."""
        return self._call("ping", lambda r: r.ping()) is True

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    def forget_all_local(self) -> None:
        """Drop every in-process copy (tests simulate a fresh instance with it)."""
        self._l1.clear()

    def close(self) -> None:
        self._redis.close()

    # -- internals ---------------------------------------------------------------------------------------

    @contextmanager
    def _exchange_lock(self, name: str) -> Iterator[None]:
        lock_key = self.lock_key(name)
        data_key = self.redis_key(name)
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._lock_wait
        poll = self._lock_poll
        acquired = False
        seen: Any = FAILED  # the entry's bytes when we first found the lock taken

        while True:
            reply = self._call("lock", lambda r: _try_lock(r, lock_key, data_key, self.generation_key(name), token,
                                                            self._lock_ttl_ms))
            if reply is FAILED:
                break  # no shared lock without Redis: this process exchanges on its own
            got_lock, current, generation = reply
            if got_lock:
                acquired = True
                if current is None:
                    # Nobody stored the entry: the caller's re-read and its write's generation read are known.
                    self._absent.names = {**getattr(self._absent, "names", {}), name: generation}
                break
            if seen is FAILED:
                seen = current
            elif current != seen:
                break  # the holder stored a new entry: re-reading it will find the token
            if time.monotonic() >= deadline:
                self._log.warning(
                    "lock-wait",
                    "Token cache: waited %.1f s for another instance's token exchange; exchanging here too",
                    self._lock_wait,
                )
                break
            time.sleep(poll)
            poll = min(poll * 2, 0.1)

        # The caller re-reads the entry now; that read must see what other instances stored.
        self._l1.pop(name)
        try:
            yield
        finally:
            getattr(self._absent, "names", {}).pop(name, None)
            if acquired:
                self._call("unlock", lambda r: self._release(keys=[lock_key], args=[token], client=r))

    def _open(self, name: str, raw: bytes, generation: int) -> tuple[str, int] | None:
        try:
            text = self._keyring.open(name, raw, generation=generation).decode("utf-8")
        except (EnvelopeError, UnicodeDecodeError) as exc:
            # Typically a value sealed with a key that rotation has since retired: a miss, not an error.
            self._log.warning("unreadable", "Token cache: ignoring an entry that cannot be opened (%s)", exc)
            return None
        return text, self._keyring.expiry_of(raw)

    def _call(self, operation: str, command: Callable[[redis.Redis], T]) -> T | _Failed:
        if not self._breaker.allow():
            return FAILED
        try:
            result = command(self._redis)
        except Exception as exc:  # noqa: BLE001 - any backend failure degrades to the in-process cache
            self._stats["backend_failures"] += 1
            opened = self._breaker.record_failure()
            self._log.warning(
                "backend",
                "Token cache: Redis %s failed (%s: %s); serving from the in-process cache%s",
                operation, type(exc).__name__, str(exc)[:200],
                " and pausing Redis use for a few seconds" if opened else "",
            )
            return FAILED
        if self._breaker.record_success():
            logger.info("Token cache: Redis is reachable again")
        return result


def _read(client: redis.Redis, data_key: str, generation_key: str) -> tuple[bytes | None, int]:
    # One round trip: the envelope and the generation it must have been sealed under.
    pipe = client.pipeline(transaction=False)
    pipe.get(data_key)
    pipe.get(generation_key)
    raw, generation = pipe.execute()
    return raw, _generation(generation)


def _delete(client: redis.Redis, data_key: str, generation_key: str, generation_ttl: int) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.delete(data_key)
    pipe.incr(generation_key)
    pipe.expire(generation_key, generation_ttl)
    pipe.execute()


def _generation(raw: Any) -> int:
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return -1  # not ours: nothing opens under it


def _try_lock(client: redis.Redis, lock_key: str, data_key: str, generation_key: str, token: str,
              ttl_ms: int) -> tuple[bool, Any, int]:
    # One round trip: try to take the lock and see what the entry (and its generation) holds now.
    pipe = client.pipeline(transaction=False)
    pipe.set(lock_key, token, nx=True, px=ttl_ms)
    pipe.get(data_key)
    pipe.get(generation_key)
    got_lock, current, generation = pipe.execute()
    return bool(got_lock), current, _generation(generation)


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]
