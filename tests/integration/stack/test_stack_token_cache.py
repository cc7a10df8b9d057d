"""`python -m localdev run` keeps the token cache in a local, encrypted, persistent Redis.

The profile report resumes after a Functions host restart only if the user's cache partition outlived the
process, so the stack runs Redis when it can, and the memory cache (with a note) where redis-server is missing;
this checks the real stack end to end.
"""
from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import pytest
import redis
import requests

from localdev.stack import Stack, StackInfo, StackOptions, free_port
from tests.fixtures.emulator import Emulator

PROFILE_USER = "priya.natarajan@larkspur.example"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, StackInfo, Path]]:
    state_dir = tmp_path_factory.mktemp("stack-redis")
    running = Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=free_port(), state_dir=state_dir,
                                 functions="local", token_cache="redis", timeout=120))
    info = running.start()
    try:
        yield running, info, state_dir
    finally:
        running.stop()


def _emulator(info: StackInfo) -> Emulator:
    return Emulator(entra_url=info.entra_url, graph_url=info.graph_url, authority=info.authority,
                    tenant_id=info.tenant_id, ca_bundle=info.ca_bundle, config=info.emulator_config)


def _redis_url(running: Stack) -> str:
    return running._token_cache_env["REDIS_URL"]


def test_profile_calls_fill_an_encrypted_redis_partition(stack: tuple[Stack, StackInfo, Path]) -> None:
    running, info, state_dir = stack
    assert info.token_cache == "redis"
    emulator = _emulator(info)
    api = emulator.app("api")
    token = emulator.mint(user=PROFILE_USER, client_id=emulator.app("spa")["client_id"],
                          audience=api["client_id"], scopes=["user_impersonation"])
    # As the SPA does: App Service authentication reads Authorization, the function X-User-Authorization.
    headers = {"X-User-Authorization": f"Bearer {token}", "Authorization": f"Bearer {token}"}
    response = requests.get(f"{info.api_url}/api/get-profile", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["userPrincipalName"] == PROFILE_USER

    client = redis.Redis.from_url(_redis_url(running))
    values = [client.get(key) for key in client.keys("*")]
    stored = [value for value in values if value]
    assert stored, "the exchange left no partition in Redis"
    for value in stored:
        assert b"eyJ" not in value and token.encode() not in value
        assert PROFILE_USER.encode() not in value

    key_file = state_dir / "token-cache.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (state_dir / "redis").is_dir()


def test_stopping_the_stack_stops_its_redis(tmp_path: Path) -> None:
    running = Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=free_port(), state_dir=tmp_path,
                                 functions="local", token_cache="redis", timeout=120))
    running.start()
    port = urlparse(_redis_url(running)).port
    assert redis.Redis(port=port, socket_timeout=2).ping()
    running.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1).ping()


def test_without_redis_server_the_stack_runs_with_the_memory_cache_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    # A PATH with what running needs (node for the SWA CLI, a shell) and no redis-server on it.
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("node", "sh", "env"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(tools))
    assert shutil.which("redis-server") is None
    running = Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=free_port(),
                                 state_dir=tmp_path / "state", functions="local", token_cache="auto", timeout=120))
    try:
        info = running.start()
        assert info.token_cache == "memory"
        assert "redis-server is not installed, so the token cache is in memory" in capfd.readouterr().err
        emulator = _emulator(info)
        token = emulator.mint(user=PROFILE_USER, client_id=emulator.app("spa")["client_id"],
                              audience=emulator.app("api")["client_id"], scopes=["user_impersonation"])
        session = requests.Session()
        session.trust_env = False
        # Through the app's port, as the browser calls it: SWA CLI, the linked-backend hop, the host.
        response = session.get(f"{info.app_url}/api/get-profile", headers={"X-User-Authorization": f"Bearer {token}"},
                               timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["userPrincipalName"] == PROFILE_USER
    finally:
        running.stop()
    assert not (tmp_path / "state" / "redis").exists()
