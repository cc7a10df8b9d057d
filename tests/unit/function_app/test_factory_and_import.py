"""Importing the app does no I/O; the partition store follows TOKEN_CACHE."""
from __future__ import annotations

import importlib
import socket
import sys

import pytest

from function_app.settings import load_settings
from function_app.token_cache.factory import build_token_store
from function_app.token_cache.memory import MemoryTokenStore
from tests.unit.function_app.support import base_env


def test_memory_store_by_default() -> None:
    assert isinstance(build_token_store(load_settings(base_env())), MemoryTokenStore)


def test_redis_store_is_built_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network I/O while building the store")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    settings = load_settings(base_env(TOKEN_CACHE="redis", REDIS_URL="redis://127.0.0.1:1/0",
                                      TOKEN_CACHE_KEYS="k1:" + "A" * 43 + "="))
    store = build_token_store(settings)
    assert type(store).__name__ == "RedisTokenStore"
    store.close()


def test_import_does_no_network_io(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: calls.append(address))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: calls.append(a) or [])
    for name in [m for m in sys.modules if m == "main" or m.startswith("function_app")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("main")
    assert module.app is not None
    assert calls == []
