"""Child processes of the benchmark (the emulators and local Functions hosts), and the CPU they use.

Started and stopped the way the test fixtures do it (`localdev.processes`); what the benchmark adds is the
ready line it keeps (URLs, the host's worker processes) and their CPU time from /proc.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localdev.processes import REPO_ROOT as ROOT, StackError, python_env, start_ready_child, stop_child
from localdev import settings as local

__all__ = ["ROOT", "Child", "StackError", "base_env", "cpu_seconds", "start_json_child"]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pids(self) -> list[int]:
        """Every process serving this child: a host started with FUNCTIONS_WORKER_PROCESS_COUNT=N names N."""
        listed = [int(p["pid"]) for p in self.info.get("processes", [])]
        return listed or [self.pid]

    def cpu_seconds(self) -> float | None:
        """User + system CPU time this child's processes have used so far (Linux /proc; None elsewhere)."""
        values = [cpu_seconds(pid) for pid in self.pids]
        return None if None in values else sum(v for v in values if v is not None)

    def stop(self, timeout: float = 10.0) -> None:
        stop_child(self.process, timeout)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_json_child(name: str, args: list[str], env: dict[str, str], log_dir: Path,
                     timeout: float = 60.0, cwd: Path = ROOT) -> Child:
    """Run `python <args>` and wait for the JSON line it prints once it is ready."""
    log_path = log_dir / f"{name}.log"
    try:
        process, info = start_ready_child([sys.executable, *args], log_path=log_path, env=env, cwd=cwd,
                                          timeout=timeout, name=name)
    except StackError as exc:
        raise StartError(str(exc)) from None
    return Child(name, process, info, log_path)


def base_env() -> dict[str, str]:
    env = python_env(ROOT)
    env.setdefault(local.LOG_LEVEL, "WARNING")  # the children's logs go to files nobody reads unless asked
    return env
