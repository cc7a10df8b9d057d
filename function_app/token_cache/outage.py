"""Behaviour of the shared token cache while its backend fails: a circuit breaker and rate-limited warnings.

A dead Redis must cost a request nothing noticeable. Short socket timeouts bound one attempt; the breaker
stops further attempts for a while after a few consecutive failures, then lets exactly one request probe
the backend (half-open) before traffic returns to it. Warnings are rate-limited so that an outage during
a traffic peak produces one log line a minute rather than one per request.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed -> open after `failure_threshold` consecutive failures; open -> one probe after `reset_after` s."""

    def __init__(self, failure_threshold: int = 3, reset_after: float = 5.0,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self._threshold = failure_threshold
        self._reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._probe_started: float | None = None

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until is not None

    def allow(self) -> bool:
        """May this caller use the backend now? While half-open only the single probing caller may."""
        now = self._clock()
        with self._lock:
            if self._open_until is None:
                return True
            if now < self._open_until:
                return False
            # Half-open: one probe at a time; a probe that never reported back frees the slot after a cooldown.
            if self._probe_started is not None and now - self._probe_started < self._reset_after:
                return False
            self._probe_started = now
            return True

    def record_success(self) -> bool:
        """Returns True when this success closed an open breaker (the backend is back)."""
        with self._lock:
            was_open = self._open_until is not None
            self._failures = 0
            self._open_until = None
            self._probe_started = None
            return was_open

    def record_failure(self) -> bool:
        """Returns True when this failure opened (or re-opened) the breaker."""
        now = self._clock()
        with self._lock:
            self._failures += 1
            self._probe_started = None
            if self._open_until is not None or self._failures >= self._threshold:
                self._open_until = now + self._reset_after
                return True
            return False


class RateLimitedLogger:
    """Logs a given kind of message at most once per `interval` seconds, counting what it held back."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._interval:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        self._logger.log(level, message, *args)
        return True

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)
