"""SQLite store rules the runner relies on when client operations race with a running episode."""
from __future__ import annotations

from pathlib import Path

from localdev.durable import events
from localdev.durable.store import EpisodeCommit, Store, TaskRow

NOW = "2026-05-04T10:00:00.000000Z"


def started(store: Store, instance_id: str = "i1", execution_id: str = "e1") -> None:
    event = events.execution_started(events.utc_now(), "orch", None, instance_id, execution_id)
    store.create_instance(instance_id, execution_id, "orch", None, NOW, event)


def episode(execution_id: str = "e1", tasks: list[TaskRow] | None = None) -> EpisodeCommit:
    return EpisodeCommit("i1", execution_id, [events.orchestrator_started(events.utc_now())], [], tasks or [],
                         "Running", None, None, 1, 1, NOW)


def test_an_episode_cannot_overwrite_a_termination(tmp_path: Path):
    store = Store(tmp_path / "hub.sqlite3")
    started(store)
    store.terminate("i1", '"stop"', NOW, events.execution_terminated(events.utc_now(), "stop"))
    assert store.commit_episode(episode()) is False
    instance = store.instance("i1")
    assert instance is not None and instance.status == "Terminated"
    assert [e["EventType"] for e in store.history("i1")] == [3]


def test_completions_of_an_earlier_run_are_ignored(tmp_path: Path):
    store = Store(tmp_path / "hub.sqlite3")
    started(store, execution_id="old")
    assert store.commit_episode(episode("old", [TaskRow("i1", "old", 0, "timer", fire_at=NOW)]))
    started(store, execution_id="new")
    assert store.commit_episode(episode("new", [TaskRow("i1", "new", 0, "activity", "a", None)]))
    stale = events.timer_fired(events.utc_now(), 0, events.utc_now())
    assert store.add_completion("i1", "old", 0, stale) is False
    fresh = events.task_completed(events.utc_now(), 0, '"ok"')
    assert store.add_completion("i1", "new", 0, fresh) is True
    assert store.add_completion("i1", "new", 0, fresh) is False  # a duplicate run is recorded once
    assert [item.event["EventType"] for item in store.inbox("i1")] == [0, 5]


def test_state_from_another_schema_version_is_replaced(tmp_path: Path):
    import sqlite3

    path = tmp_path / "hub.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE instances (id TEXT PRIMARY KEY, name TEXT)")
    old.execute("INSERT INTO instances VALUES ('x', 'y')")
    old.commit()
    old.close()
    store = Store(path)
    assert store.instances() == []
    started(store)
    assert store.instance("i1") is not None
    store.close()
    assert Store(path).instance("i1") is not None  # same version: kept
