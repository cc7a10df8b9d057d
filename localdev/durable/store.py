"""SQLite persistence for the local Durable runner: instances, history, inbox and outstanding work.

One file under the state dir. Every episode commits in one transaction, so a process that dies at any
point restarts from a consistent state: the inbox holds completions the orchestrator has not yet seen,
and `tasks` rows not marked done are work (activities, timers) to dispatch again. Only orchestration
input/output/custom status and activity results are stored: the report job never puts a credential in
any of them, and this module never receives one.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    next_task_id INTEGER NOT NULL DEFAULT 0,
    actions_seen INTEGER NOT NULL DEFAULT 0,
    execution_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    input TEXT,
    retry TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    fire_at TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, task_id)
);
"""

# Bumped whenever the tables change; local state from another version is dropped, not migrated.
SCHEMA_VERSION = 2

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated"})


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created: str
    updated: str
    next_task_id: int
    actions_seen: int
    execution_id: str

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class TaskRow:
    """Outstanding or finished work: `activity`, user `timer`, or `retry_timer` (between attempts).

    `execution_id` tells apart runs of an instance id that was finished and then started again, so a late
    completion from the earlier run can never complete a task of the new one."""

    instance_id: str
    execution_id: str
    task_id: int
    kind: str
    name: str | None = None
    input: str | None = None
    retry: dict[str, int] | None = None
    attempt: int = 1
    fire_at: str | None = None
    done: bool = False


@dataclass(frozen=True)
class InboxItem:
    row_id: int
    event: dict[str, Any]


@dataclass
class EpisodeCommit:
    """Everything one orchestrator episode changes, applied atomically."""

    instance_id: str
    execution_id: str
    new_history: list[dict[str, Any]]
    consumed_inbox: list[int]
    new_tasks: list[TaskRow]
    status: str
    custom_status: str | None
    output: str | None
    next_task_id: int
    actions_seen: int
    updated: str


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: the runner touches it from the event loop and from its
        # orchestrator thread, never concurrently.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._ensure_schema(path)

    def _ensure_schema(self, path: Path) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        tables = [row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                                     " AND name NOT LIKE 'sqlite_%'")]
        if tables and version != SCHEMA_VERSION:
            log.warning("durable state in %s is from another runner version; starting with an empty task hub",
                        path)
            for table in tables:
                self._db.execute(f'DROP TABLE "{table}"')
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reads ---------------------------------------------------------------------------------

    def instance(self, instance_id: str) -> Instance | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, status, input, output, custom_status, created, updated, next_task_id,"
                " actions_seen, execution_id FROM instances WHERE id = ?", (instance_id,)).fetchone()
        return Instance(*row) if row else None

    def instances(self) -> list[Instance]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, status, input, output, custom_status, created, updated, next_task_id,"
                " actions_seen, execution_id FROM instances ORDER BY created").fetchall()
        return [Instance(*row) for row in rows]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def inbox(self, instance_id: str) -> list[InboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event FROM inbox WHERE instance_id = ? ORDER BY id", (instance_id,)).fetchall()
        return [InboxItem(row[0], json.loads(row[1])) for row in rows]

    def instances_with_inbox(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT instance_id FROM inbox ORDER BY id").fetchall()
        return [row[0] for row in rows]

    def task(self, instance_id: str, task_id: int) -> TaskRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT instance_id, execution_id, task_id, kind, name, input, retry, attempt, fire_at, done FROM tasks"
                " WHERE instance_id = ? AND task_id = ?", (instance_id, task_id)).fetchone()
        return _task_row(row) if row else None

    def pending_tasks(self) -> list[TaskRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t.instance_id, t.execution_id, t.task_id, t.kind, t.name, t.input, t.retry, t.attempt,"
                " t.fire_at, t.done FROM tasks t JOIN instances i ON i.id = t.instance_id"
                " WHERE t.done = 0 AND i.status IN ('Pending', 'Running') ORDER BY t.instance_id, t.task_id"
            ).fetchall()
        return [_task_row(row) for row in rows]

    # -- writes --------------------------------------------------------------------------------

    def create_instance(self, instance_id: str, execution_id: str, name: str, input_json: str | None, now: str,
                        started_event: dict[str, Any]) -> None:
        """Create (or replace a finished) instance with ExecutionStarted waiting in its inbox."""
        with self._lock, self._transaction():
            self._delete(instance_id)
            self._db.execute(
                "INSERT INTO instances (id, name, status, input, created, updated, execution_id)"
                " VALUES (?, ?, 'Pending', ?, ?, ?, ?)", (instance_id, name, input_json, now, now, execution_id))
            self._db.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)",
                             (instance_id, json.dumps(started_event)))

    def add_completion(self, instance_id: str, execution_id: str, task_id: int, event: dict[str, Any]) -> bool:
        """Record that a task finished; False when it was already recorded (a duplicate run) or belongs to
        an earlier run of the instance id."""
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "UPDATE tasks SET done = 1 WHERE instance_id = ? AND execution_id = ? AND task_id = ? AND done = 0",
                (instance_id, execution_id, task_id))
            if cursor.rowcount == 0:
                return False
            self._db.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)",
                             (instance_id, json.dumps(event)))
            return True

    def add_event(self, instance_id: str, event: dict[str, Any]) -> None:
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)",
                             (instance_id, json.dumps(event)))

    def commit_episode(self, commit: EpisodeCommit) -> bool:
        """Apply an episode; False (nothing written) when the instance was terminated, purged or restarted
        while the episode ran, so a client operation is never overwritten by a stale episode."""
        with self._lock, self._transaction():
            current = self._db.execute("SELECT status, execution_id FROM instances WHERE id = ?",
                                       (commit.instance_id,)).fetchone()
            if current is None or current[0] in TERMINAL_STATUSES or current[1] != commit.execution_id:
                return False
            (seq,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?",
                (commit.instance_id,)).fetchone()
            self._db.executemany(
                "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                [(commit.instance_id, seq + 1 + i, json.dumps(e)) for i, e in enumerate(commit.new_history)])
            self._db.executemany("DELETE FROM inbox WHERE id = ?", [(rid,) for rid in commit.consumed_inbox])
            self._db.executemany(
                "INSERT OR REPLACE INTO tasks (instance_id, execution_id, task_id, kind, name, input, retry, attempt,"
                " fire_at, done) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                [(t.instance_id, t.execution_id, t.task_id, t.kind, t.name, t.input,
                  json.dumps(t.retry) if t.retry else None, t.attempt, t.fire_at) for t in commit.new_tasks])
            if commit.status in TERMINAL_STATUSES:
                # Work still in flight for a finished orchestration is abandoned, as in Durable.
                self._db.execute("UPDATE tasks SET done = 1 WHERE instance_id = ?", (commit.instance_id,))
                self._db.execute("DELETE FROM inbox WHERE instance_id = ?", (commit.instance_id,))
            self._db.execute(
                "UPDATE instances SET status = ?, custom_status = ?, output = ?, next_task_id = ?,"
                " actions_seen = ?, updated = ? WHERE id = ?",
                (commit.status, commit.custom_status, commit.output, commit.next_task_id, commit.actions_seen,
                 commit.updated, commit.instance_id))
            return True

    def discard_inbox(self, instance_id: str, row_ids: list[int]) -> None:
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM inbox WHERE id = ?", [(rid,) for rid in row_ids])

    def terminate(self, instance_id: str, output: str, now: str, event: dict[str, Any]) -> None:
        with self._lock, self._transaction():
            (seq,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?", (instance_id,)).fetchone()
            self._db.execute("INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                             (instance_id, seq + 1, json.dumps(event)))
            self._db.execute("UPDATE tasks SET done = 1 WHERE instance_id = ?", (instance_id,))
            self._db.execute("DELETE FROM inbox WHERE instance_id = ?", (instance_id,))
            self._db.execute("UPDATE instances SET status = 'Terminated', output = ?, updated = ? WHERE id = ?",
                             (output, now, instance_id))

    def purge(self, instance_id: str) -> bool:
        with self._lock, self._transaction():
            return self._delete(instance_id)

    def purge_many(self, instance_ids: Iterable[str], statuses: frozenset[str] | None = None) -> int:
        """Delete these instances (only those still in `statuses`, when given) in one transaction."""
        deleted = 0
        with self._lock, self._transaction():
            for instance_id in instance_ids:
                if statuses is not None:
                    row = self._db.execute("SELECT status FROM instances WHERE id = ?", (instance_id,)).fetchone()
                    if row is None or row[0] not in statuses:
                        continue  # changed state since it was selected: leave it
                deleted += self._delete(instance_id)
        return deleted

    def _delete(self, instance_id: str) -> bool:
        deleted = self._db.execute("DELETE FROM instances WHERE id = ?", (instance_id,)).rowcount
        for table in ("history", "inbox", "tasks"):
            self._db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))
        return bool(deleted)

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _task_row(row: Iterable[Any]) -> TaskRow:
    instance_id, execution_id, task_id, kind, name, input_json, retry, attempt, fire_at, done = row
    return TaskRow(instance_id, execution_id, task_id, kind, name, input_json, json.loads(retry) if retry else None,
                   attempt, fire_at, bool(done))
