"""The Redis token cache signs in the way Azure Managed Redis with Microsoft Entra authentication expects.

A real redis-server gets an ACL user named like a managed identity's object id whose password is the token a
local managed-identity endpoint hands out; the store built from settings (REDIS_URL with a user and no
password, MANAGED_IDENTITY_CLIENT_ID) must authenticate with that token.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from function_app.errors import Misconfigured
from function_app.settings import load_settings
from function_app.token_cache.entra_auth import REDIS_RESOURCE, split_entra_user
from function_app.token_cache.factory import build_token_store
from tests.fixtures.redis_server import RedisServer
from tests.unit.function_app.support import base_env

IDENTITY_OBJECT_ID = "5f0c2a8e-3b7d-4e61-9a2f-8c1d0e4b7a93"
MI_CLIENT_ID = "0d3b9e57-21c4-4f8a-b6e0-7a9c5d2f1e48"
MI_TOKEN = "mi-token-for-redis"
KEY = "k1:" + "A" * 43 + "="


class IdentityEndpoint:
    """The App Service managed-identity endpoint protocol, answering with a fixed token per resource."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = parse_qs(urlsplit(self.path).query)
                owner.requests.append(query)
                body = json.dumps({"access_token": MI_TOKEN, "expires_on": str(int(time.time()) + 3600),
                                   "resource": query.get("resource", [""])[0]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/msi/token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def identity_endpoint() -> Iterator[IdentityEndpoint]:
    endpoint = IdentityEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def entra_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", IDENTITY_OBJECT_ID, "reset", "on", f">{MI_TOKEN}", "~*", "&*", "+@all")
    yield redis_server
    admin.execute_command("ACL", "DELUSER", IDENTITY_OBJECT_ID)
    admin.flushall()


def _settings(redis_url: str, **extra: str):
    env = base_env(TOKEN_CACHE="redis", REDIS_URL=redis_url, TOKEN_CACHE_KEYS=KEY, **extra)
    return load_settings(env)


def test_store_authenticates_with_the_managed_identity_token(entra_redis: RedisServer,
                                                             identity_endpoint: IdentityEndpoint) -> None:
    env = base_env(TOKEN_CACHE="redis", REDIS_URL=f"redis://{IDENTITY_OBJECT_ID}@127.0.0.1:{entra_redis.port}/0",
                   TOKEN_CACHE_KEYS=KEY, MANAGED_IDENTITY_CLIENT_ID=MI_CLIENT_ID,
                   IDENTITY_ENDPOINT=identity_endpoint.url, IDENTITY_HEADER="local-header")
    del env["CLIENT_SECRET"]
    store = build_token_store(load_settings(env))
    store.save("tid.oid", '{"AccessToken": {}}', ttl_seconds=60)
    store.forget_local("tid.oid")  # read through Redis, not the in-process L1
    assert store.load("tid.oid") == '{"AccessToken": {}}'
    assert store.stats()["backend_failures"] == 0
    assert identity_endpoint.requests and identity_endpoint.requests[0]["resource"] == [REDIS_RESOURCE]
    assert identity_endpoint.requests[0]["client_id"] == [MI_CLIENT_ID]
    # The partition really is in Redis, written by the identity's ACL user.
    assert entra_redis.client().dbsize() == 1


def test_a_user_without_password_needs_a_managed_identity(entra_redis: RedisServer) -> None:
    settings = _settings(f"redis://{IDENTITY_OBJECT_ID}@127.0.0.1:{entra_redis.port}/0")
    with pytest.raises(Misconfigured) as caught:
        build_token_store(settings)
    assert caught.value.setting == "REDIS_URL"


def test_an_unusable_redis_url_is_misconfigured_and_names_no_secret() -> None:
    settings = _settings("memcached://user:hunter2@127.0.0.1:1/0")
    with pytest.raises(Misconfigured) as caught:
        build_token_store(settings)
    assert "hunter2" not in str(caught.value.detail)


@pytest.mark.parametrize(("url", "expected"), [
    ("rediss://oid@cache.example:10000/0", ("rediss://cache.example:10000/0", "oid")),
    ("redis://user:secret@127.0.0.1:6379/0", ("redis://user:secret@127.0.0.1:6379/0", None)),
    ("redis://127.0.0.1:6379/0", ("redis://127.0.0.1:6379/0", None)),
])
def test_split_entra_user(url: str, expected: tuple[str, str | None]) -> None:
    assert split_entra_user(url) == expected
