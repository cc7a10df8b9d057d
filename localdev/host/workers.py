"""Worker processes: `FUNCTIONS_WORKER_PROCESS_COUNT` and `PYTHON_THREADPOOL_THREAD_COUNT`, as Azure reads them.

In Azure one Functions host starts `FUNCTIONS_WORKER_PROCESS_COUNT` Python worker processes (default 1, at
most 10; Flex Consumption refuses the setting and runs one) and spreads invocations over them; each worker
runs synchronous functions on a thread pool of at most `PYTHON_THREADPOOL_THREAD_COUNT` threads (at most 32).
Sources: docs/performance.md, "Platform facts".

The local host follows both. With a count N > 1 the process started by `python -m localdev host` (the
first) binds the listening port with `SO_REUSEPORT` and starts N - 1 more host processes that bind the same
port the same way, so the kernel spreads incoming connections over the N processes; each one imports the
app, runs its warmup functions and serves HTTP triggers with its own App Service authentication emulation.
Only the first runs the durable runtime and the timer schedules: it also listens on a private loopback port,
and the others forward the durable HTTP API and the timer admin endpoint to it (`first_process.py`) and hand their functions its `durableClient` binding, so
there is one SQLite store and one dispatcher whatever process a request lands on. The first process reports
ready only once every other one has, and names them all in its ready line (`processes`: pid, and the meter
URL with `--metrics`). The others exit when their standard input closes (the first stopped, or died);
the first restarts one that exits while the host runs, as Azure restarts a failed worker.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from localdev.host.settings import SettingsError

log = logging.getLogger("localdev.host")

PROCESS_COUNT_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
MAX_PROCESSES = 10  # Azure's limit for FUNCTIONS_WORKER_PROCESS_COUNT
MAX_THREADS = 32  # Azure's limit for PYTHON_THREADPOOL_THREAD_COUNT
DEFAULT_THREADS = 64  # the local host's own default: never the limit in tests or benchmarks
READY_TIMEOUT_SECONDS = 120.0
RESTART_DELAY_SECONDS = 1.0


def _count(environ: Mapping[str, str], name: str, maximum: int) -> int | None:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number from 1 to {maximum}, not {raw!r}") from None
    if not 1 <= value <= maximum:
        raise SettingsError(f"{name} must be from 1 to {maximum} (Azure's limit), not {value}")
    return value


def process_count(environ: Mapping[str, str]) -> int:
    return _count(environ, PROCESS_COUNT_SETTING, MAX_PROCESSES) or 1


def thread_count(explicit: int | None, environ: Mapping[str, str]) -> int:
    """`--workers` if given, else PYTHON_THREADPOOL_THREAD_COUNT, else the local default."""
    if explicit is not None:
        return explicit
    return _count(environ, THREAD_COUNT_SETTING, MAX_THREADS) or DEFAULT_THREADS


def bind(port: int, *, shared: bool) -> socket.socket:
    """A listening loopback socket; `shared`: with SO_REUSEPORT, so the other worker processes can bind it too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        if not hasattr(socket, "SO_REUSEPORT"):
            sock.close()
            raise SettingsError(f"{PROCESS_COUNT_SETTING} > 1 needs SO_REUSEPORT, which this system lacks")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def exit_when_stdin_closes(stop: Callable[[], None], loop: asyncio.AbstractEventLoop) -> None:
    """In a worker process: the first process holds our stdin open; EOF means it is gone."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except (OSError, ValueError):
            pass
        try:
            loop.call_soon_threadsafe(stop)
        except RuntimeError:
            pass  # the loop already closed

    threading.Thread(target=watch, name="first-process-watch", daemon=True).start()


class WorkerProcesses:
    """The other N - 1 host processes of a host with FUNCTIONS_WORKER_PROCESS_COUNT = N (run by the first)."""

    def __init__(self, command: Sequence[str], count: int) -> None:
        self._command = list(command)
        self._count = count
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._ready: dict[int, dict[str, Any]] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._drains: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def ready_lines(self) -> list[dict[str, Any]]:
        return [self._ready[index] for index in sorted(self._ready)]

    async def start(self) -> None:
        """Start them all, in parallel, and wait until each has reported ready (raises if one fails)."""
        await asyncio.gather(*(self._start(index) for index in range(1, self._count)))
        self._watchers = [asyncio.create_task(self._supervise(index), name=f"worker-{index}")
                          for index in range(1, self._count)]

    async def _start(self, index: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *self._command, "--worker-index", str(index),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_worker_environment())
        self._processes[index] = process
        try:
            ready = await asyncio.wait_for(self._ready_line(process), READY_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            process.kill()
            ready = None
        if ready is None:
            raise SettingsError(f"worker process {index} did not start (exit code {process.returncode}); "
                                f"its log is above")
        self._ready[index] = ready
        drain = asyncio.create_task(self._drain(process))
        self._drains.add(drain)
        drain.add_done_callback(self._drains.discard)

    @staticmethod
    async def _ready_line(process: asyncio.subprocess.Process) -> dict[str, Any] | None:
        """The JSON object a worker prints once it listens (anything the app printed before is skipped)."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            if line.lstrip().startswith(b"{"):
                try:
                    ready = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ready, dict):
                    return ready
        return None

    @staticmethod
    async def _drain(process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while await process.stdout.readline():
            pass

    async def _supervise(self, index: int) -> None:
        while not self._stopping:
            code = await self._processes[index].wait()
            if self._stopping:
                return
            log.error("worker process %d (pid %d) exited with code %s; starting it again", index,
                      self._processes[index].pid, code)
            await asyncio.sleep(RESTART_DELAY_SECONDS)
            try:
                await self._start(index)
            except (SettingsError, OSError) as exc:
                log.error("worker process %d could not be restarted: %s", index, exc)
                return

    async def stop(self, timeout: float = 10.0) -> None:
        """Close their stdin (they drain in-flight requests and exit); insist after `timeout`."""
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        processes = list(self._processes.values())
        for process in processes:
            if process.stdin is not None and not process.stdin.is_closing():
                process.stdin.close()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


def _worker_environment() -> dict[str, str]:
    """This process's environment (settings applied), with this checkout's `localdev` importable from the
    app root, where the worker will work."""
    env = dict(os.environ)
    checkout = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (checkout, env.get("PYTHONPATH")) if p)
    return env


def worker_command(options: Sequence[str], first_url: str | None, binding: str | None) -> list[str]:
    """The command line of another worker process: this host's options (paths absolute: the first process
    works in the app root), plus the first process's private URL and the durable client binding."""
    command = ["-m", "localdev", "host", *options]
    if first_url is not None:
        command += ["--first-url", first_url]
    if binding is not None:
        command += ["--durable-binding", binding]
    return command
