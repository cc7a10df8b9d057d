"""Start and stop the local stand-ins as child processes (tests, benchmarks).

Every `python -m localdev <command>` that serves something prints one JSON line on stdout once it accepts
connections. `start_ready_child` waits for that line and keeps copying the child's later output into its log
file, so a chatty child never blocks on a full pipe; `stop_child` asks politely, then insists.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence


class ChildStartError(RuntimeError):
    pass


def start_ready_child(command: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None,
                      cwd: Path | str | None = None, timeout: float = 60.0,
                      name: str = "child") -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Run `command`, return it with the JSON object it printed when ready. stderr and later stdout go to
    `log_path`; a child that exits or stays silent for `timeout` seconds is killed and reported with its log."""
    log = open(log_path, "ab")
    process = subprocess.Popen(list(command), cwd=cwd, env=dict(env) if env is not None else None,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    ready: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1)

    def pump() -> None:
        assert process.stdout is not None
        waiting = True
        for line in process.stdout:
            if waiting and line.lstrip().startswith(b"{"):
                try:
                    ready.put(json.loads(line))
                    waiting = False
                    continue
                except ValueError:
                    pass
            try:
                log.write(line)
                log.flush()
            except ValueError:  # the log was closed after the child stopped
                return
        if waiting:
            ready.put(None)

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    try:
        info = ready.get(timeout=timeout)
    except queue.Empty:
        info = None
    if info is None:
        stop_child(process, timeout=5.0)
        log.close()
        tail = Path(log_path).read_text(encoding="utf-8", errors="replace")[-4000:]
        raise ChildStartError(f"{name} did not report ready (exit code {process.returncode}); log {log_path}:\n"
                              f"{tail}")
    return process, info


def stop_child(process: subprocess.Popen[Any], timeout: float = 15.0) -> int | None:
    """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def python_env(repo_root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must import this checkout's packages whatever its working folder."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo_root), env.get("PYTHONPATH")) if p)
    return env
