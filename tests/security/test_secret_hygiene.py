"""Secret hygiene across every flow: no token, refresh token, client secret or client_info leaks anywhere.

One host runs the real app with DEBUG logging, App Service authentication, the Redis-backed token cache (a
real redis-server) and durable state in its own folder. The module drives every flow (profile, photo,
diagnostics, the report job, the error paths: MFA challenge, consent, expired and forged tokens, Graph
throttling), collects every secret the run saw (the callers' API tokens; the Graph tokens cached for them
and the access, refresh and ID tokens of the report job's session, read back by decrypting Redis with the
configured key; the API app's client secret and each user's `client_info`), then scans the host's log,
every response body, the durable history (the SQLite files and the durable HTTP API with history) and every
Redis value for them. A last test runs the same flows in this process and scans the app's own loggers
(captured at DEBUG) with what the in-memory token store held.
"""
from __future__ import annotations

import base64
import logging
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from function_app.obo.cache_policy import CachedGraphToken, SessionRecord, assertion_key, session_key
from function_app.token_cache.redis_store import RedisTokenStore
from tests.fixtures.host import HostHandle, emulator_app_env, start_host
from tests.security.support import (LENA, MIRA, SAM, USER_HEADER, assemble, decode_part, session, spa_headers,
                                    user_token)

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
CACHE_KID = "hyg1"
SECRET_KINDS = ("AccessToken", "RefreshToken", "IdToken")


@dataclass
class Run:
    emulator: Any
    host: HostHandle
    state_dir: Path
    redis: Any
    cache_key: bytes
    api_tokens: list[str] = field(default_factory=list)
    bodies: list[tuple[str, str]] = field(default_factory=list)
    session_cache: str | None = None  # the report job's session (MSAL cache JSON), read while the job ran

    def get(self, http: requests.Session, path: str, headers: dict[str, str], method: str = "GET") -> requests.Response:
        response = http.request(method, self.host.api(path) if not path.startswith("/") else self.host.url + path,
                                headers=headers, timeout=60)
        self.bodies.append((f"{method} {path} -> {response.status_code}", response.text if not
                            response.headers.get("Content-Type", "").startswith("image/") else ""))
        return response

    def store(self) -> RedisTokenStore:
        return RedisTokenStore(self.redis.url, [(CACHE_KID, self.cache_key)])

    def token(self, upn: str = MIRA, **body: Any) -> str:
        value = user_token(self.emulator, upn, **body)
        self.api_tokens.append(value)
        return value


def client_info(oid: str, tid: str) -> str:
    """What Entra (and the emulator) returns as `client_info`: base64url of {"uid", "utid"}."""
    payload = json.dumps({"uid": oid, "utid": tid}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def run(emulator: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    emulator.reset()
    key = secrets.token_bytes(32)
    state_dir = tmp_path_factory.mktemp("hygiene-durable")
    env = {**emulator_app_env(emulator), "LOCALDEV_LOG_LEVEL": "DEBUG", "TOKEN_CACHE": "redis",
           "REDIS_URL": redis_server.url, "TOKEN_CACHE_KEYS": f"{CACHE_KID}:{base64.b64encode(key).decode()}"}
    redis_server.client().flushall()
    host = start_host(env=env, state_dir=state_dir)
    try:
        yield Run(emulator=emulator, host=host, state_dir=state_dir, redis=redis_server, cache_key=key)
    finally:
        host.stop()
        emulator.reset()


@pytest.fixture(scope="module")
def driven(run: Run) -> Run:
    """Every flow once (and the error paths), recording all responses."""
    http = session()
    emulator = run.emulator
    mira, sam = run.token(MIRA), run.token(SAM)
    v1 = run.token(MIRA, version="1.0")

    assert run.get(http, "get-profile", spa_headers(mira)).status_code == 200
    assert run.get(http, "get-profile", spa_headers(v1)).status_code == 200
    assert run.get(http, "get-profile", {"Authorization": f"Bearer {sam}"}).status_code == 200
    assert run.get(http, "get-profile/photo", spa_headers(mira)).status_code == 200
    assert run.get(http, "get-profile/photo", spa_headers(sam)).status_code == 404
    assert run.get(http, "diagnostics", spa_headers(mira)).status_code == 200
    assert run.get(http, "diagnostics", {}).status_code == 200

    emulator.fault(endpoint="graph", latency_ms=300, count=None)  # time to read the running job's session
    started = run.get(http, "jobs/profile-report", spa_headers(mira), method="POST")
    assert started.status_code == 202, started.text
    status_url = started.json()["statusUrl"]
    running = run.get(http, f"/runtime/webhooks/durabletask/instances/{started.json()['id']}?showInput=true", {})
    job_input = running.json()["input"]
    job_input = json.loads(job_input) if isinstance(job_input, str) else job_input
    record = SessionRecord.parse(run.store().load(session_key(job_input["session"])) or "")
    assert record is not None, "the job's session should be in Redis while the job runs"
    run.session_cache = record.msal_cache
    deadline = time.monotonic() + 60
    while True:
        status = run.get(http, status_url, spa_headers(mira))
        assert status.status_code == 200, status.text
        if status.json()["runtimeStatus"] not in ("Pending", "Running") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status.json()["runtimeStatus"] == "Completed", status.text
    emulator.admin("DELETE", "/_emulator/faults")
    instance = started.json()["id"]
    history = run.get(http, f"/runtime/webhooks/durabletask/instances/{instance}?showHistory=true"
                            f"&showHistoryOutput=true&showInput=true", {})
    assert history.status_code == 200, history.text

    # Error paths: each one's response and log lines are scanned too.
    assert run.get(http, "get-profile", spa_headers(run.token(LENA))).status_code == 401  # claims challenge
    assert run.get(http, "get-profile", spa_headers(run.token(MIRA, expires_in=-300))).status_code == 401
    forged = assemble({"alg": "none", "typ": "JWT"}, decode_part(mira, 1))
    run.api_tokens.append(forged)
    assert run.get(http, "get-profile", {"Authorization": f"Bearer {mira}", USER_HEADER: f"Bearer {forged}"}
                   ).status_code == 401
    emulator.fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=30, count=1)
    assert run.get(http, "get-profile", spa_headers(mira)).status_code == 429
    api = emulator.app("api")["client_id"]
    emulator.consent(client_id=api, resource="https://graph.microsoft.com", granted=False)
    daniel = run.token("daniel.reyes@larkspur.example")
    assert run.get(http, "get-profile", spa_headers(daniel)).status_code == 403
    emulator.reset()
    http.close()
    time.sleep(0.5)  # let the host flush its last log lines
    return run


@pytest.fixture(scope="module")
def cache_secrets(driven: Run) -> dict[str, list[str]]:
    """The Graph-side tokens the run produced: those cached for each caller token (decrypted from Redis with the
    configured key) and those the report job's session held."""
    found: dict[str, list[str]] = {kind: [] for kind in SECRET_KINDS}
    store = driven.store()
    for token in driven.api_tokens:
        entry = CachedGraphToken.parse(store.load(assertion_key(token, ("User.Read",))) or "")
        if entry is not None:
            found["AccessToken"].append(entry.access_token)
    assert driven.session_cache, "the report job's session was not captured"
    cache = json.loads(driven.session_cache)
    for kind in SECRET_KINDS:
        found[kind] += [entry["secret"] for entry in cache.get(kind, {}).values() if entry.get("secret")]
    return found


def all_secrets(run: Run, cache: dict[str, list[str]]) -> dict[str, str]:
    named: dict[str, str] = {}
    for index, token in enumerate(run.api_tokens):
        named[f"api token #{index}"] = token
        named[f"api token #{index} signature"] = token.rsplit(".", 1)[1] or token
    for kind, values in cache.items():
        for index, value in enumerate(values):
            named[f"{kind} #{index}"] = value
            if kind != "RefreshToken" and value.count(".") == 2:
                named[f"{kind} #{index} signature"] = value.rsplit(".", 1)[1]
    named["client secret"] = run.emulator.app("api")["client_secret"]
    for user in run.emulator.config["users"]:
        named[f"client_info of {user['upn']}"] = client_info(user["oid"], run.emulator.tenant_id)
    return {name: value for name, value in named.items() if len(value) >= 8}


def leaks(text: str, named: dict[str, str]) -> list[str]:
    return sorted(name for name, value in named.items() if value in text)


def test_the_run_saw_real_secrets(driven: Run, cache_secrets: dict[str, list[str]]) -> None:
    """The scan below is only meaningful if the run produced tokens of every kind and logged at DEBUG."""
    assert len(driven.api_tokens) >= 6
    assert cache_secrets["AccessToken"] and cache_secrets["RefreshToken"], cache_secrets.keys()
    logs = driven.host.logs()
    assert " DEBUG " in logs, "the host did not log at DEBUG level"
    assert "event=obo_exchange" in logs and "event=graph_call" in logs


def test_host_logs_hold_no_secret(driven: Run, cache_secrets: dict[str, list[str]]) -> None:
    logs = driven.host.logs()
    assert leaks(logs, all_secrets(driven, cache_secrets)) == []
    assert JWT_RE.findall(logs) == []


def test_responses_hold_no_secret(driven: Run, cache_secrets: dict[str, list[str]]) -> None:
    named = all_secrets(driven, cache_secrets)
    found = [(label, leaks(body, named)) for label, body in driven.bodies if leaks(body, named)]
    assert found == []
    assert [label for label, body in driven.bodies if JWT_RE.search(body)] == []
    diagnostics = next(body for label, body in driven.bodies if label.startswith("GET diagnostics") and "claims" in body)
    claims = json.loads(diagnostics)["token"]["claims"]
    assert set(claims) <= {"aud", "iss", "tid", "oid", "scp", "azp", "appid", "ver", "exp", "nbf", "iat"}


def test_durable_state_holds_no_secret(driven: Run, cache_secrets: dict[str, list[str]]) -> None:
    named = all_secrets(driven, cache_secrets)
    files = [p for p in driven.state_dir.rglob("*") if p.is_file()]
    assert files, "the durable runtime wrote no state"
    for path in files:
        data = path.read_bytes().decode("latin-1")
        assert leaks(data, named) == [], path
        assert JWT_RE.findall(data) == [], path


def test_redis_holds_only_ciphertext(driven: Run, cache_secrets: dict[str, list[str]]) -> None:
    named = all_secrets(driven, cache_secrets)
    client = driven.redis.client()
    keys = client.keys("*")
    assert keys
    for key in keys:
        kind = client.type(key)
        values = {b"string": lambda: [client.get(key)], b"hash": lambda: list(client.hgetall(key).values()),
                  b"list": lambda: client.lrange(key, 0, -1), b"set": lambda: list(client.smembers(key))}[kind]()
        for value in [key, *values]:
            text = (value or b"").decode("latin-1")
            assert leaks(text, named) == [], key
            assert JWT_RE.findall(text) == [], key
            assert "@larkspur.example" not in text, key  # no user names in clear either


# -- the same flows in-process, with the app's own loggers captured at DEBUG ----------------------------------

@pytest.fixture
def in_process(fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app imported in this process, pointed at the emulator, with its services built afresh."""
    from function_app import services, settings

    for name in settings.KNOWN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**emulator_app_env(fresh_emulator), "DIAGNOSTICS_ENABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    services.reset()
    yield fresh_emulator
    services.reset()


def test_in_process_debug_logs_hold_no_secret(in_process: Any, caplog: pytest.LogCaptureFixture) -> None:
    from function_app import services
    from tests.integration.function_app.test_profile_api import as_user, call

    caplog.set_level(logging.DEBUG)
    emulator = in_process
    tokens = {upn: user_token(emulator, upn) for upn in (MIRA, SAM, LENA)}
    bodies = [call("get-profile", as_user(tokens[MIRA])), call("get-profile/photo", as_user(tokens[MIRA])),
              call("get-profile", as_user(tokens[SAM])), call("diagnostics", as_user(tokens[MIRA])),
              call("get-profile", as_user(tokens[LENA]))]
    assert [b.status_code for b in bodies] == [200, 200, 200, 200, 401]

    svc = services.current()
    caller = svc.authenticate(as_user(tokens[MIRA]))
    session_id = svc.sessions.start(caller.principal, caller.assertion, svc.settings.report_graph_scopes, 60)
    svc.sessions.graph_token(session_id, svc.settings.report_graph_scopes)
    store = svc.store
    secrets_seen: dict[str, str] = {f"api token of {upn}": token for upn, token in tokens.items()}
    for upn in (MIRA, SAM):
        entry = CachedGraphToken.parse(store.load(assertion_key(tokens[upn], ("User.Read",))) or "")
        assert entry is not None, f"no Graph token cached for {upn}'s token"
        secrets_seen[f"Graph token of {upn}"] = entry.access_token
        user = emulator.user(upn)
        secrets_seen[f"client_info of {upn}"] = client_info(user["oid"], emulator.tenant_id)
    record = SessionRecord.parse(store.load(session_key(session_id)) or "")
    assert record is not None
    for kind in SECRET_KINDS:
        for index, item in enumerate(json.loads(record.msal_cache).get(kind, {}).values()):
            secrets_seen[f"session {kind} #{index}"] = item["secret"]
    assert any(name.startswith("session RefreshToken") for name in secrets_seen)
    secrets_seen["client secret"] = emulator.app("api")["client_secret"]
    # No refresh token under a name derived from a user: interactive entries hold one Graph token each, and the
    # only refresh token is the job session's, under its random id.
    user_ids = {emulator.tenant_id} | {emulator.user(upn)["oid"] for upn in (MIRA, SAM, LENA)}
    for name in store.names():
        assert not any(part in name for part in user_ids), name
        text = store.load(name) or ""
        assert ("refresh" in text.lower()) == (name == session_key(session_id)), name

    text = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert leaks(text, secrets_seen) == []
    assert JWT_RE.findall(text) == []
    for response in bodies:
        body = response.get_body().decode("utf-8", "replace")
        assert leaks(body, secrets_seen) == [] or response.mimetype.startswith("image/")
