"""The outbound probes behind `/api/diagnostics`, cached so the route cannot be used to make the app fetch.

The route is anonymous (App Service authentication excludes it), so every outbound request it could trigger
is a request anyone can make the app send. Each probe result is kept for `ttl_seconds` (60 s) and computed by
one caller at a time, others waiting for it: a burst of calls makes at most one Graph request and at most one
key fetch per minute. The key probe never forces a refresh: it reports the key cache (`JwksCache.status`) and
fetches only when no key is known yet and the cache's own back-off allows it, as any request would.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .auth.jwks import JwksCache
from .graph import GraphClient

PROBE_TTL_SECONDS = 60.0


class CachedProbe:
    """A probe's last result, recomputed by one thread once it is older than the TTL."""

    def __init__(self, probe: Callable[[], dict[str, Any]], ttl_seconds: float = PROBE_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._probe = probe
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._result: dict[str, Any] | None = None
        self._taken_at = 0.0

    def _fresh(self) -> dict[str, Any] | None:
        if self._result is not None and self._clock() - self._taken_at < self._ttl:
            return self._result
        return None

    def get(self) -> dict[str, Any]:
        result = self._fresh()
        if result is not None:
            return result
        with self._lock:
            result = self._fresh()  # computed by the thread that held the lock before us
            if result is None:
                result = self._probe()
                self._result, self._taken_at = result, self._clock()
            return result


class DiagnosticProbes:
    def __init__(self, jwks: JwksCache, graph: GraphClient, *, ttl_seconds: float = PROBE_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._jwks = jwks
        self._keys = CachedProbe(self._probe_keys, ttl_seconds, clock)
        self._graph = CachedProbe(graph.probe, ttl_seconds, clock)

    def _probe_keys(self) -> dict[str, Any]:
        status = self._jwks.ensure()
        return {"reachable": status.usable and status.last_error is None, "keys": status.keys,
                "usable": status.usable, "error": status.last_error,
                "retryInSeconds": None if status.retry_in is None else round(status.retry_in, 1)}

    def keys(self) -> dict[str, Any]:
        return self._keys.get()

    def graph(self) -> dict[str, Any]:
        return self._graph.get()
