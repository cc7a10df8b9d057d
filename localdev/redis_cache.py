"""A local Redis for the shared, encrypted token cache, as `make run` uses it.

Why the local stack runs one: the profile report (Durable Functions) gets its Graph tokens from the job's
long-running session in the token store, so an orchestration that resumes after the Functions host restarts
needs that session to have outlived the process. In Azure the same role falls to Azure Managed Redis. Values are
AES-GCM envelopes (function_app/token_cache), so the append-only file under `.localdev/redis/` holds no
token in the clear; the local encryption key lives next to it in a file only its owner can read.
"""
from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

KEY_FILE_NAME = "token-cache.key"
LOCAL_KEY_ID = "local1"


class RedisUnavailable(RuntimeError):
    pass


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


def redis_command(binary: str, port: int, data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]


def wait_for_ping(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
                last_error = "unexpected reply"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise RedisUnavailable(f"redis-server on 127.0.0.1:{port} did not answer PING within {timeout:.0f}s "
                           f"({last_error})")
