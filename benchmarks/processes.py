"""Child processes of the benchmark: the emulators, Redis and two local Functions hosts.

Each `localdev` command prints one JSON line once it accepts connections; we wait for that line, keep the
rest of the output in a log file (shown when a process fails to start) and stop children by pid.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class StartError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    log_path: Path
    _log: Any = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (Linux /proc; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def start_json_child(name: str, args: list[str], env: dict[str, str], log_dir: Path,
                     timeout: float = 60.0, cwd: Path = ROOT) -> Child:
    """Run `python <args>` and wait for the JSON line it prints once it is ready."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=log)
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.splitlines():
                if line.strip().startswith(b"{"):
                    info = json.loads(line)
                    # Keep draining stdout into the log so a chatty child never blocks on a full pipe.
                    _drain(process, log)
                    return Child(name, process, info, log_path, log)
    finally:
        selector.close()
    process.kill()
    process.wait()
    log.close()
    tail = log_path.read_text(errors="replace")[-3000:]
    raise StartError(f"{name} did not start (exit {process.returncode}); stdout: {buffer[-500:]!r}\n{tail}")


def _drain(process: subprocess.Popen[bytes], log: Any) -> None:
    import threading

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                log.write(line)
            except ValueError:  # log closed after stop()
                return

    threading.Thread(target=pump, daemon=True).start()


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("LOCALDEV_LOG_LEVEL", "WARNING")
    return env
