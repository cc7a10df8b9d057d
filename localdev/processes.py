"""Child processes of the local stack: each in its own process group, its output in a log file.

`spawn` starts a child (optionally under `guard`, which takes the child's whole process group down with it),
`wait_first_line` waits for a `localdev` child's JSON ready line, `wait_http` polls a URL until it answers,
and `Child.stop` signals the whole group. `start_ready_child` and `stop_child` are the same for the test
fixtures and the benchmarks, which keep the `Popen`: one way to start a stand-in and stop it, for everyone. On Linux each child also gets SIGTERM from the kernel when the
process that started it dies (parent-death signal), so nothing outlives a killed `python -m localdev run`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]


class StackError(RuntimeError):
    """A part of the stack could not start; the message says which and what to do."""


@dataclass
class Child:
    """One child process in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    first_line: "threading.Event" = field(default_factory=threading.Event)
    line: str = ""

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the whole group, then SIGKILL to whatever is left."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Grandchildren may outlive the leader (node spawns workers): sweep the group either way.
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=5)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _load_pdeathsig() -> Callable[[], None] | None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM), resolved in the parent: nothing may be imported after fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))


_SET_PDEATHSIG = _load_pdeathsig()


def _child_setup() -> None:
    """Runs in the child before exec: its own process group, and SIGTERM when the stack runner dies."""
    os.setsid()
    if _SET_PDEATHSIG is not None:
        _SET_PDEATHSIG()


def guard(command: Sequence[str]) -> int:
    """Runs `command` inside this process group and takes the whole group down with it.

    The SWA CLI and Core Tools start worker processes that outlive them when they are killed, and the
    kernel's parent-death signal reaches only a direct child. So the stack starts them through this guard
    (`python -m localdev.processes guard CMD...`): when the guard is told to stop, or its parent dies, or the
    command ends, every process in the group is signalled.
    """
    child = subprocess.Popen(list(command))

    def take_group_down(_signum: int = 0, _frame: Any = None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group signal reaches this process too
        _signal_group(os.getpgid(0), signal.SIGTERM)

    signal.signal(signal.SIGTERM, take_group_down)
    signal.signal(signal.SIGINT, take_group_down)
    code = child.wait()
    take_group_down()
    return code


def spawn(name: str, command: Sequence[str], *, env: Mapping[str, str], log_dir: Path,
          capture_first_line: bool = False, echo: bool = False, guarded: bool = False,
          log_name: str | None = None, cwd: Path | str | None = None) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / (log_name or f"{name}.log")
    if guarded:
        command = [sys.executable, "-m", "localdev.processes", "guard", *command]
    log_path.write_bytes(b"")
    # Append mode: with capture_first_line the child writes stderr straight into the same file.
    log_file = open(log_path, "ab")
    process = subprocess.Popen(
        list(command), cwd=str(cwd or REPO_ROOT), env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if not capture_first_line else log_file,
        preexec_fn=_child_setup,
    )
    child = Child(name=name, process=process, log_path=log_path)

    def pump() -> None:
        # stdout goes to the log; with capture_first_line the first stdout line is the readiness JSON.
        assert process.stdout is not None
        for raw in process.stdout:
            if capture_first_line and not child.first_line.is_set():
                child.line = raw.decode("utf-8", "replace").strip()
                child.first_line.set()
            log_file.write(raw)
            log_file.flush()
            if echo:
                sys.stdout.write(f"[{name}] {raw.decode('utf-8', 'replace')}")
                sys.stdout.flush()
        child.first_line.set()
        log_file.close()

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    return child


def wait_first_line(child: Child, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not child.first_line.wait(0.1):
        if time.monotonic() > deadline:
            raise StackError(f"{child.name} did not report ready within {timeout:.0f}s. Its log "
                             f"({child.log_path}):\n{child.log_tail()}")
    if not child.line:
        time.sleep(0.2)  # let the log catch the exit message
        raise StackError(f"{child.name} exited (code {child.process.poll()}) before it was ready. Its log "
                         f"({child.log_path}):\n{child.log_tail()}")
    try:
        return json.loads(child.line)
    except ValueError as exc:
        raise StackError(f"{child.name} printed {child.line!r} instead of its JSON ready line") from exc


def start_ready_child(command: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None,
                      cwd: Path | str | None = None, timeout: float = 60.0,
                      name: str = "child") -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Run a `python -m localdev ...` child and return it with the JSON object it printed when ready; its other
    output goes to `log_path`. One that exits or stays silent for `timeout` seconds is stopped and reported
    (`StackError`) with its log."""
    child = spawn(name, command, env=os.environ if env is None else env, log_dir=Path(log_path).parent,
                  capture_first_line=True, log_name=Path(log_path).name, cwd=cwd)
    try:
        return child.process, wait_first_line(child, timeout)
    except StackError:
        child.stop(timeout=5.0)
        raise


def stop_child(process: subprocess.Popen[Any], timeout: float = 15.0) -> int | None:
    """SIGTERM (a graceful shutdown), SIGKILL to what is left; the exit code. A child `spawn` started leads its
    own process group and the whole group is signalled; any other child, itself."""
    try:
        leads_group = os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        leads_group = False
    if leads_group:
        Child(name="child", process=process, log_path=Path(os.devnull)).stop(timeout)
    elif process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def python_env(repo_root: Path = REPO_ROOT, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must import this checkout's packages whatever its working folder."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo_root), env.get("PYTHONPATH")) if p)
    return env


def wait_http(child: Child, url: str, timeout: float, *, ok: Callable[[int], bool] = lambda s: s < 500) -> None:
    """Polls `url` until it answers with an acceptable status (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if not child.running:
            raise StackError(f"{child.name} exited (code {child.process.returncode}). Its log "
                             f"({child.log_path}):\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if ok(response.status):
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if ok(exc.code):
                return
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.15)
    raise StackError(f"{child.name} did not answer {url} within {timeout:.0f}s ({last_error}). Its log "
                     f"({child.log_path}):\n{child.log_tail()}")


def free_port() -> int:
    """A loopback port free now (for a child that binds it at once; else hold it with `PortReservation`)."""
    return PortReservation().release()


class PortReservation:
    """A free loopback port held by a bound socket until `release()`: a port picked early but listened on
    later (the Static Web Apps CLI's) is otherwise free for the kernel to hand out meanwhile, to another
    child's listener or to an outgoing connection's local end."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def release(self) -> int:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return self.port


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":  # `python -m localdev.processes guard CMD...` (see guard)
    sys.exit(guard(sys.argv[2:]) if sys.argv[1:2] == ["guard"] else 2)
