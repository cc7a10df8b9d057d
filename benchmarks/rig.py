"""The benchmark's test rig: emulators, Redis, Functions hosts and tokens, and one measured run against them.

Shared by the comparison (`python -m benchmarks`) and the concurrency sweep (`--sweep`). Every child runs on
a loopback port it picks itself and is stopped by pid. Hosts run with the invocation meter on
(`LOCALDEV_HOST_METRICS=on`, `benchmarks/host_metrics.py`), so each run reports the function's own CPU
apart from the local host's.
"""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import host_metrics
from .loadgen import LoadResult, run_load
from .processes import ROOT, Child, StackError, base_env, start_json_child
from .report import Measured
from .tenant import write_tenant_file
from localdev.emulator.client import EmulatorClient
from localdev.redis_cache import RedisServer, RedisUnavailable, start_redis_server
from localdev import settings as local

BASELINE_APP = Path(__file__).resolve().parent / "baseline_app"
AUTH_SETTINGS = ROOT / "infra" / "auth" / "authsettings.json"

class FloorError(RuntimeError):
    """The direct Graph run did not get every user's profile: the floor would measure something else."""


Users = list[tuple[Any, str]]  # (API token, or the user's tokens in renewal order; text their profile holds)


def app_environment(env: dict[str, str], emulator: dict[str, Any], config: dict[str, Any], *,
                    cache: str, redis_url: str | None, auth: bool) -> dict[str, str]:
    apps = {app["name"]: app for app in config["apps"]}
    values = {
        "PYTHON_SCRIPT_FILE_NAME": "main.py",
        "AUTHORITY_HOST": emulator["entra_url"].rstrip("/"),
        "GRAPH_BASE_URL": emulator["graph_url"].rstrip("/"),
        "CA_BUNDLE": emulator["ca_bundle"],
        "TENANT_ID": emulator["tenant_id"],
        "API_CLIENT_ID": apps["api"]["client_id"],
        "SPA_CLIENT_ID": apps["spa"]["client_id"],
        "CLIENT_SECRET": apps["api"]["client_secret"],
        "DIAGNOSTICS_ENABLED": "false",
        "TOKEN_CACHE": cache,
        local.EASYAUTH: "on" if auth else "off",
        local.HOST_METRICS: "on",
    }
    if redis_url:
        values["REDIS_URL"] = redis_url
        values["TOKEN_CACHE_KEYS"] = "bench:" + base64.b64encode(os.urandom(32)).decode()
    return {**env, **values}


@dataclass
class Rig:
    work: Path
    env: dict[str, str]
    auth: bool
    emulator: Child
    admin: EmulatorClient
    config: dict[str, Any]
    app_env: dict[str, str]
    people: list[dict[str, Any]]
    redis_server: RedisServer | None = None
    children: list[Child] = field(default_factory=list)

    @property
    def apps(self) -> dict[str, dict[str, Any]]:
        return {app["name"]: app for app in self.config["apps"]}

    def start_hosts(self, name: str, app_root: Path, *, instances: int = 1, processes: int = 1,
                    warm_connections: int = 0) -> list[Child]:
        """`instances` separate hosts of one app, each with `processes` worker processes (and the product's
        `WARM_CONNECTIONS`, which the tutorial's app does not read)."""
        hosts = []
        env = {**self.app_env, "FUNCTIONS_WORKER_PROCESS_COUNT": str(processes),
               "WARM_CONNECTIONS": str(warm_connections)}
        for n in range(instances):
            label = f"{name}-{n}"
            args = ["-m", "localdev", "host", "--port", "0", "--app-root", str(app_root),
                    "--auth-settings", str(AUTH_SETTINGS), "--state-dir", str(self.work / f"{label}-durable")]
            if not self.auth:
                args.append("--no-auth")
            host = start_json_child(label, args, env, self.work, timeout=120.0)
            self.children.append(host)
            hosts.append(host)
        return hosts

    def api_tokens(self) -> Users:
        """A new API token per user, as the SPA holds one: a new set means new cache keys, hence new exchanges."""
        spa, api = self.apps["spa"]["client_id"], self.apps["api"]["client_id"]
        return [(self.admin.mint(user=p["upn"], client_id=spa, audience=api, scopes=["user_impersonation"], version="2.0"), p["upn"]) for p in self.people]

    def renewing_tokens(self, renewals: int) -> Users:
        spa, api = self.apps["spa"]["client_id"], self.apps["api"]["client_id"]
        return [([self.admin.mint(user=p["upn"], client_id=spa, audience=api, scopes=["user_impersonation"], version="2.0") for _ in range(renewals)], p["upn"])
                for p in self.people]

    def graph_tokens(self) -> Users:
        """Graph tokens as the token endpoint issues them: v1, which is what the Graph emulator accepts."""
        api = self.apps["api"]["client_id"]
        return [(self.admin.mint(user=p["upn"], client_id=api, audience="https://graph.microsoft.com",
                                 scopes=["User.Read"]),
                 p["upn"]) for p in self.people]

    def floor(self, graph_tokens: Users, requests: int, concurrency: int) -> LoadResult:
        """The same load sent straight to the Graph emulator: what no implementation can beat here. Every
        answer must be the user's own profile, as for the product: a floor made of 401s would be cheaper."""
        context = ssl.create_default_context(cafile=self.emulator.info["ca_bundle"])
        floor = asyncio.run(run_load([self.emulator.info["graph_url"].rstrip("/") + "/me"], graph_tokens, requests,
                                     concurrency, context))
        if floor.ok != requests:
            raise FloorError(f"the Graph floor got {requests - floor.ok} answers that are not the user's profile: "
                             f"{floor.failures[:2]}")
        return floor

    def measure(self, hosts: list[Child], users: Users, requests: int, concurrency: int,
                renew_every: int | None = None) -> Measured:
        urls = [host.info["url"] + "/api/get-profile" for host in hosts]
        meters = host_metrics.metrics_urls(host.info for host in hosts)
        groups = {"hosts": hosts, "emulators": [self.emulator]}
        host_metrics.reset(meters)
        before = self.admin.metrics()
        cpu_before = _cpu(groups)
        load = asyncio.run(run_load(urls, users, requests, concurrency, renew_every=renew_every))
        cpu_after = _cpu(groups)
        after = self.admin.metrics()
        # CPU per request does not depend on what else runs on the machine, unlike latency under contention.
        cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000.0 / requests  # type: ignore[operator]
               for name in cpu_before if cpu_before[name] is not None and cpu_after[name] is not None}
        return Measured(load, count_requests(before, after), cpu, host_metrics.read(meters))

    def close(self, keep: bool, ok: bool) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.redis_server is not None:
            self.redis_server.cleanup()
        self.admin.close()
        if keep or not ok:
            print(f"child process logs: {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def count_requests(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Token, Graph, discovery and key requests between two snapshots of the emulators' metrics."""
    def total(snapshot: dict[str, Any], key: str) -> int:
        value = snapshot.get(key, 0)
        return sum(value.values()) if isinstance(value, dict) else int(value or 0)

    return {key: total(after, key) - total(before, key) for key in ("token", "graph", "discovery", "jwks")}


def _cpu(groups: dict[str, list[Child]]) -> dict[str, float | None]:
    seconds: dict[str, float | None] = {}
    for name, children in groups.items():
        values = [child.cpu_seconds() for child in children]
        seconds[name] = None if None in values else sum(v for v in values if v is not None)
    seconds["load generator"] = time.process_time()
    return seconds


def open_rig(*, users: int, cache: str, auth: bool, token_latency_ms: int, graph_latency_ms: int) -> Rig:
    """Emulators (with `users` directory users and the injected latency), Redis if `cache` is redis."""
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    env = base_env()
    tenant_file = write_tenant_file(users, work / "tenant.json")
    emulator = start_json_child("emulators", [
        "-m", "localdev", "emulators", "--entra-port", "0", "--graph-port", "0",
        "--state-dir", str(work / "emulator-state"), "--tenant-file", str(tenant_file)], env, work)
    admin = EmulatorClient(emulator.info["entra_url"], emulator.info["ca_bundle"])
    rig: Rig | None = None
    try:
        config = admin.config
        people = config["users"][:users]
        if len(people) < users:
            raise SystemExit(f"the benchmark tenant has {len(people)} users, {users} requested")
        redis_server = start_redis_server() if cache == "redis" else None
        app_env = app_environment(env, emulator.info, config, cache=cache,
                                  redis_url=redis_server.url if redis_server else None, auth=auth)
        rig = Rig(work, env, auth, emulator, admin, config, app_env, people, redis_server, [emulator])
        admin.inject_latency("token", token_latency_ms)
        admin.inject_latency("graph", graph_latency_ms)
        return rig
    except BaseException:
        if rig is not None:
            rig.close(keep=False, ok=False)
        else:
            emulator.stop()
            admin.close()
        raise


# What ends a benchmark run with a message instead of a trace: a child that did not start, no Redis, a bad floor.
RUN_FAILURES = (StackError, RedisUnavailable, FloorError)


def run_on_rig(args: Any, work: Callable[[Rig], bool]) -> int:
    """Open the rig the command line asks for, run `work` on it and close it: exit status 0 when `work` says the
    run went well, 1 when it did not or a run failure stopped it (its message on stderr). The work folder with
    the child logs is kept on failure or with --keep."""
    try:
        rig = open_rig(users=args.users, cache=args.cache, auth=not args.no_auth,
                       token_latency_ms=args.token_latency_ms, graph_latency_ms=args.graph_latency_ms)
    except RUN_FAILURES as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    ok = False
    try:
        ok = work(rig)
        return 0 if ok else 1
    except RUN_FAILURES as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    finally:
        rig.close(args.keep, ok)
