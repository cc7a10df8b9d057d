"""`run_on_rig`, the one way `make bench` and `make bench-sweep` open, use and close the rig: its exit status,
its messages and what it keeps (the rig itself is faked: opening a real one starts emulators and Redis)."""
from __future__ import annotations

import argparse

import pytest

from benchmarks import rig as rig_module
from benchmarks.processes import StackError
from benchmarks.rig import FloorError, run_on_rig
from localdev.redis_cache import RedisUnavailable

ARGS = argparse.Namespace(users=3, cache="memory", no_auth=True, token_latency_ms=0, graph_latency_ms=0, keep=False)


class FakeRig:
    def __init__(self, **opened_with: object) -> None:
        self.opened_with = opened_with
        self.closed: list[tuple[bool, bool]] = []

    def close(self, keep: bool, ok: bool) -> None:
        self.closed.append((keep, ok))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[FakeRig]:
    rigs: list[FakeRig] = []

    def open_rig(**kwargs: object) -> FakeRig:
        rigs.append(FakeRig(**kwargs))
        return rigs[-1]

    monkeypatch.setattr(rig_module, "open_rig", open_rig)
    return rigs


def test_the_rig_is_opened_as_the_command_line_asks(opened: list[FakeRig]) -> None:
    assert run_on_rig(ARGS, lambda rig: True) == 0
    assert opened[0].opened_with == {"users": 3, "cache": "memory", "auth": False, "token_latency_ms": 0,
                                     "graph_latency_ms": 0}
    assert opened[0].closed == [(False, True)]


def test_a_run_that_went_badly_exits_1_and_keeps_the_logs(opened: list[FakeRig]) -> None:
    assert run_on_rig(ARGS, lambda rig: False) == 1
    assert opened[0].closed == [(False, False)]


@pytest.mark.parametrize("failure", [StackError("host did not start"), RedisUnavailable("no redis-server"),
                                     FloorError("the Graph floor got 3 answers")])
def test_a_run_failure_is_a_message_not_a_trace(opened: list[FakeRig], failure: Exception,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def work(rig: FakeRig) -> bool:
        raise failure

    assert run_on_rig(ARGS, work) == 1
    assert capsys.readouterr().err == f"benchmark: {failure}\n"
    assert opened[0].closed == [(False, False)]


def test_a_rig_that_does_not_open_is_a_message(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def open_rig(**kwargs: object) -> FakeRig:
        raise RedisUnavailable("redis-server is not installed")

    monkeypatch.setattr(rig_module, "open_rig", open_rig)
    assert run_on_rig(ARGS, lambda rig: pytest.fail("no rig, no work")) == 1
    assert capsys.readouterr().err == "benchmark: redis-server is not installed\n"


def test_an_unexpected_error_still_closes_the_rig(opened: list[FakeRig]) -> None:
    def work(rig: FakeRig) -> bool:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_on_rig(ARGS, work)
    assert opened[0].closed == [(False, False)]
