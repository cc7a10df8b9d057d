"""Circuit breaker and rate-limited warnings that keep a dead Redis cheap and quiet."""
from __future__ import annotations

import logging

import pytest

from function_app.token_cache.outage import CircuitBreaker, RateLimitedLogger


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_probes_once_after_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5, clock=clock)
    assert breaker.allow()
    assert breaker.record_failure() is False
    assert breaker.allow()
    assert breaker.record_failure() is True
    assert breaker.is_open and not breaker.allow()
    clock.now += 5
    assert breaker.allow()  # the single half-open probe
    assert not breaker.allow()
    assert breaker.record_success() is True
    assert not breaker.is_open and breaker.allow()


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    assert breaker.record_failure() is True
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()


def test_success_resets_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure()
    assert breaker.record_success() is False
    breaker.record_failure()
    assert not breaker.is_open


def test_lost_probe_frees_the_slot_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    clock.now += 5
    assert breaker.allow()


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_rate_limited_logger_logs_once_per_interval_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = RateLimitedLogger(logging.getLogger("test.outage"), interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        assert log.warning("backend", "Redis %s failed", "read")
        for _ in range(9):
            assert not log.warning("backend", "Redis %s failed", "read")
        assert log.warning("other", "different kind")
        clock.now += 60
        assert log.warning("backend", "Redis %s failed", "write")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Redis read failed",
        "different kind",
        "Redis write failed (9 similar messages suppressed)",
    ]
