"""A local redis-server for the shared, encrypted token cache: the stack's, the tests' and the benchmark's.

Why the local stack runs one: the profile report (Durable Functions) gets its Graph tokens from the job's
long-running session in the token store, so an orchestration that resumes after the Functions host restarts
needs that session to have outlived the process. In Azure the same role falls to Azure Managed Redis. Values are
AES-GCM envelopes (function_app/token_cache), so the append-only file under `.localdev/redis/` holds no
token in the clear; the local encryption key lives next to it in a file only its owner can read.

The tests and the benchmark start throw-away servers (`RedisServer`: free port, no persistence), stopped by
pid; `make run` spawns one with `redis_command` in its own process group and waits with `wait_for_ping`.
"""
from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from localdev.processes import free_port, stop_child

if TYPE_CHECKING:
    import redis

KEY_FILE_NAME = "token-cache.key"
LOCAL_KEY_ID = "local1"


class RedisUnavailable(RuntimeError):
    """redis-server is missing, exited, or does not answer; the message says which."""


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def token_cache_keys(state_dir: Path) -> str:
    """`TOKEN_CACHE_KEYS` for the local stack, created once (256-bit key, file mode 0600)."""
    path = Path(state_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = f"{LOCAL_KEY_ID}:{base64.b64encode(secrets.token_bytes(32)).decode()}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value + "\n")
    return path.read_text().strip()


def redis_command(binary: str, port: int, data_dir: Path, *, persistent: bool = True) -> list[str]:
    """Loopback only, protected mode on; `persistent` keeps an append-only file in `data_dir` (synced every
    second), so the stack's job sessions outlive a restart of Redis."""
    data_dir.mkdir(parents=True, exist_ok=True)
    durability = ["--appendonly", "yes", "--appendfsync", "everysec"] if persistent else ["--appendonly", "no"]
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--dir", str(data_dir), *durability, "--save", ""]


def wait_for_ping(port: int, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Until redis-server on `port` answers PING; `alive` tells a server that exited from a slow one."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RedisUnavailable(f"redis-server on 127.0.0.1:{port} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
                last_error = "unexpected reply"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.02)
    raise RedisUnavailable(f"redis-server on 127.0.0.1:{port} did not answer PING within {timeout:.0f}s "
                           f"({last_error})")

class RedisServer:
    """A throw-away redis-server without persistence. `stop()`/`start()` keep the port, so clients can
    reconnect after a restart."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self) -> redis.Redis:
        import redis  # only the tests and the benchmark talk to it directly

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self, timeout: float = 10.0) -> "RedisServer":
        binary = redis_server_binary()
        if binary is None:
            raise RedisUnavailable("redis-server is not installed; install it (Debian/Ubuntu: apt-get install "
                                   "redis-server, macOS: brew install redis), or run `make setup`")
        log = self.workdir / "redis.log"
        command = redis_command(binary, self.port, self.workdir, persistent=False) + ["--logfile", str(log)]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        try:
            wait_for_ping(self.port, timeout, alive=lambda: self.running)
        except RedisUnavailable as exc:
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.stop()
            raise RedisUnavailable(f"{exc}{': ' + detail if detail else ''}") from None
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_child(process, timeout=5)

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis_server(attempts: int = 3) -> RedisServer:
    """A server on a free port; tried again on a fresh port if another process took the port meanwhile."""
    last: Exception | None = None
    for _ in range(attempts):
        server = RedisServer()
        try:
            return server.start()
        except RedisUnavailable as exc:
            server.cleanup()
            if redis_server_binary() is None:
                raise
            last = exc
    raise RedisUnavailable(f"could not start redis-server: {last}")
