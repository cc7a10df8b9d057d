"""`python -m benchmarks` (`make bench`): the product against the tutorial's approach, side by side.

Both apps run in the project's local Functions host (`python -m localdev host`), each in its own process,
behind the same App Service authentication emulation (on by default), and are driven over HTTP by the same
load generator against the same emulators (injected latency: token endpoint and Graph). Upstream request
counts come from the emulators' own metrics. See docs/performance.md for how to read the results.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import sys
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

from .admin import EmulatorAdmin, count_requests
from .cold_start import measure as measure_cold_start
from .loadgen import percentile, run_load
from .processes import ROOT, Child, StartError, base_env, start_json_child
from .report import BenchConfig, Measured, Renewal, format_table, results_document, write_results
from .tenant import write_tenant_file
# One redis-server launcher for tests and benchmark: free port, no persistence, stopped by pid.
from tests.fixtures.redis_server import RedisServerError, start_redis_server

BASELINE_APP = Path(__file__).resolve().parent / "baseline_app"
AUTH_SETTINGS = ROOT / "infra" / "auth" / "authsettings.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--renew-every", type=int, default=50,
                        help="the renewal scenario: each user takes a new API token every this many requests")
    parser.add_argument("--token-latency-ms", type=int, default=120)
    parser.add_argument("--graph-latency-ms", type=int, default=60)
    parser.add_argument("--cache", choices=("redis", "memory"), default="redis",
                        help="the product's TOKEN_CACHE (default redis, the multi-instance configuration)")
    parser.add_argument("--instances", type=int, default=1,
                        help="host processes per app, sharing the load (and, for ours, the Redis cache)")
    parser.add_argument("--no-auth", action="store_true", help="turn App Service authentication emulation off")
    parser.add_argument("--output", type=Path, help="results file (default benchmarks/results/latest.json)")
    parser.add_argument("--only", choices=("baseline", "ours"),
                        help="measure one app and print its figures (for profiling); writes no results file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder with the child process logs")
    return parser.parse_args(argv)


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
        "LOCALDEV_EASYAUTH": "on" if auth else "off",
    }
    if redis_url:
        values["REDIS_URL"] = redis_url
        values["TOKEN_CACHE_KEYS"] = "bench:" + base64.b64encode(os.urandom(32)).decode()
    return {**env, **values}


def start_host(name: str, app_root: Path, env: dict[str, str], work: Path, auth: bool) -> Child:
    args = ["-m", "localdev", "host", "--port", "0", "--app-root", str(app_root),
            "--auth-settings", str(AUTH_SETTINGS), "--state-dir", str(work / f"{name}-durable")]
    if not auth:
        args.append("--no-auth")
    return start_json_child(name, args, env, work)


def _cpu(groups: dict[str, list[Child]]) -> dict[str, float | None]:
    seconds: dict[str, float | None] = {}
    for name, children in groups.items():
        values = [child.cpu_seconds() for child in children]
        seconds[name] = None if None in values else sum(v for v in values if v is not None)
    seconds["load generator"] = time.process_time()
    return seconds


def measure_app(admin: EmulatorAdmin, hosts: list[Child], emulator: Child, users: list[tuple[Any, str]],
                args: argparse.Namespace, renew_every: int | None = None) -> Measured:
    urls = [host.info["url"] + "/api/get-profile" for host in hosts]
    groups = {"hosts": hosts, "emulators": [emulator]}
    before = admin.metrics()
    cpu_before = _cpu(groups)
    load = asyncio.run(run_load(urls, users, args.requests, args.concurrency, renew_every=renew_every))
    cpu_after = _cpu(groups)
    after = admin.metrics()
    # CPU per request does not depend on what else runs on the machine, unlike latency under contention.
    cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000.0 / args.requests  # type: ignore[operator]
           for name in cpu_before if cpu_before[name] is not None and cpu_after[name] is not None}
    return Measured(load, count_requests(before, after), cpu)


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    children: list[Child] = []
    redis_server = None
    env = base_env()
    auth = not args.no_auth
    ok = False
    try:
        if not args.only:
            print("measuring cold start (fresh interpreters) ...", file=sys.stderr)
            cold = measure_cold_start(env)

        tenant_file = write_tenant_file(args.users, work / "tenant.json")
        emulator = start_json_child("emulators", [
            "-m", "localdev", "emulators", "--entra-port", "0", "--graph-port", "0",
            "--state-dir", str(work / "emulator-state"), "--tenant-file", str(tenant_file)], env, work)
        children.append(emulator)
        admin = EmulatorAdmin(emulator.info["entra_url"], emulator.info["ca_bundle"])
        config = admin.config()

        redis_url = None
        if args.cache == "redis":
            redis_server = start_redis_server()
            redis_url = redis_server.url
        app_env = app_environment(env, emulator.info, config, cache=args.cache, redis_url=redis_url, auth=auth)
        print("starting the two Functions hosts ...", file=sys.stderr)
        ours_hosts = [start_host(f"host-ours-{n}", ROOT, app_env, work, auth) for n in range(args.instances)]
        children += ours_hosts
        baseline_hosts = [start_host(f"host-baseline-{n}", BASELINE_APP, app_env, work, auth)
                          for n in range(args.instances)]
        children += baseline_hosts

        apps = {app["name"]: app for app in config["apps"]}
        people = config["users"][: args.users]
        if len(people) < args.users:
            raise SystemExit(f"the benchmark tenant has {len(people)} users, {args.users} requested")
        users = [(admin.mint(p["upn"], apps["spa"]["client_id"], apps["api"]["client_id"], ["user_impersonation"]),
                  p["upn"]) for p in people]
        graph_tokens = [(admin.mint(p["upn"], apps["api"]["client_id"], "https://graph.microsoft.com", ["User.Read"]),
                         p["upn"]) for p in people]
        admin.inject_latency("token", args.token_latency_ms)
        admin.inject_latency("graph", args.graph_latency_ms)

        # The floor: the same load sent straight to the Graph emulator, with Graph tokens minted up front.
        print(f"Graph floor: {args.requests} direct Graph requests ...", file=sys.stderr)
        floor = asyncio.run(run_load([emulator.info["graph_url"].rstrip("/") + "/me"], graph_tokens, args.requests,
                                     args.concurrency, ssl.create_default_context(cafile=emulator.info["ca_bundle"])))
        if args.only:
            hosts = ours_hosts if args.only == "ours" else baseline_hosts
            print(f"{args.only}: {args.requests} requests (host pids {[h.pid for h in hosts]}) ...", file=sys.stderr)
            measured = measure_app(admin, hosts, emulator, users, args)
            print(json.dumps({**measured.summary(), "graph_floor_p50_ms": round(percentile(floor.latencies_ms, 50), 2),
                              "cpu_ms_per_request": measured.cpu_ms_per_request,
                              "failures": measured.load.failures}, indent=2))
            ok = measured.load.ok == args.requests
            return 0 if ok else 1
        print(f"baseline: {args.requests} requests ...", file=sys.stderr)
        baseline = measure_app(admin, baseline_hosts, emulator, users, args)
        print(f"ours: {args.requests} requests ...", file=sys.stderr)
        ours = measure_app(admin, ours_hosts, emulator, users, args)
        renewals = -(-args.requests // (len(people) * args.renew_every))  # tokens per user
        renewing = [([admin.mint(p["upn"], apps["spa"]["client_id"], apps["api"]["client_id"], ["user_impersonation"])
                      for _ in range(renewals)], p["upn"]) for p in people]
        print(f"ours, tokens renewed every {args.renew_every} requests: {args.requests} requests ...", file=sys.stderr)
        renewal = Renewal(args.renew_every, measure_app(admin, ours_hosts, emulator, renewing, args, args.renew_every))

        bench_config = BenchConfig(args.users, args.requests, args.concurrency, args.token_latency_ms,
                                   args.graph_latency_ms)
        notes = [
            f"App Service authentication emulation: {'on' if auth else 'off'}; product token cache: {args.cache}; "
            f"{args.instances} host process(es) per app",
        ]
        for name, measured in (("baseline", baseline), ("ours", ours)):
            if measured.load.failures:
                notes.append(f"{name} failures (first {len(measured.load.failures)}): {measured.load.failures}")
        document = results_document(bench_config, baseline, ours, cold, floor, renewal)
        path = write_results(document, args.output)
        print(format_table(bench_config, baseline, ours, cold, notes, floor, renewal))
        print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        ok = baseline.load.ok == ours.load.ok == renewal.measured.load.ok == args.requests
        return 0 if ok else 1
    except (StartError, RedisServerError) as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            child.stop()
        if redis_server is not None:
            redis_server.cleanup()
        if args.keep or not ok:
            print(f"child process logs: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
