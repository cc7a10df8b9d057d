"""`python -m benchmarks` (`make bench`): the product against the tutorial's approach, side by side.

Both apps run in the project's local Functions host (`python -m localdev host`), each in its own process,
behind the same App Service authentication emulation (on by default), and are driven over HTTP by the same
load generator against the same emulators (injected latency: token endpoint and Graph). Upstream request
counts come from the emulators' own metrics. See docs/performance.md for how to read the results.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from function_app.settings import MAX_WARM_CONNECTIONS

from .cold_start import measure as measure_cold_start
from .loadgen import percentile
from .processes import ROOT, base_env
from .report import BenchConfig, MultiProcess, Renewal, format_table, results_document, write_results
from .rig import BASELINE_APP, Rig, run_on_rig
from .sweep import run_sweep

DEFAULT_REQUESTS = 2000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int,
                        help=f"requests per measured run (default {DEFAULT_REQUESTS}; with --sweep, per level: "
                             f"max(300, 30 x concurrency))")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--renew-every", type=int, default=50,
                        help="the renewal scenario: each user takes a new API token every this many requests")
    parser.add_argument("--token-latency-ms", type=int, default=120)
    parser.add_argument("--graph-latency-ms", type=int, default=60)
    parser.add_argument("--cache", choices=("redis", "memory"), default="redis",
                        help="the product's TOKEN_CACHE (default redis, the multi-instance configuration)")
    parser.add_argument("--instances", type=int, default=1,
                        help="host processes per app, sharing the load (and, for ours, the Redis cache)")
    parser.add_argument("--processes", type=int,
                        help="FUNCTIONS_WORKER_PROCESS_COUNT of the product's extra run (default 2; 1: no extra "
                             "run); with --only, of the one app measured (default 1)")
    parser.add_argument("--no-auth", action="store_true", help="turn App Service authentication emulation off")
    parser.add_argument("--output", type=Path, help="results file (default benchmarks/results/latest.json; "
                                                    "with --sweep, sweep.json)")
    parser.add_argument("--only", choices=("baseline", "ours"),
                        help="measure one app and print its figures (for profiling); writes no results file")
    parser.add_argument("--sweep", action="store_true",
                        help="the product on one worker process at concurrency 1, 4, 8, 16, 32, 64 against the "
                             "Graph floor at each level: table, sweep.json and sweep.png")
    parser.add_argument("--keep", action="store_true", help="keep the work folder with the child process logs")
    return parser.parse_args(argv)


def machine_state() -> dict[str, Any]:
    """What else the machine was doing: latency figures are only comparable between runs at similar load."""
    return {"cpu_count": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()]}


def run(args: argparse.Namespace) -> int:
    auth = not args.no_auth
    if args.sweep:
        return run_sweep(args)
    requests = args.requests or DEFAULT_REQUESTS
    cold = None
    if not args.only:
        print("measuring cold start (fresh interpreters) ...", file=sys.stderr)
        cold = measure_cold_start(base_env())
    machine_before = machine_state()
    return run_on_rig(args, lambda rig: _compare(rig, args, requests, cold, machine_before, auth))


def _compare(rig: Rig, args: argparse.Namespace, requests: int, cold: Any, machine_before: dict[str, Any],
             auth: bool) -> bool:
    print("starting the Functions hosts ...", file=sys.stderr)
    wanted = {"ours", "baseline"} if not args.only else {args.only}
    first = args.processes or 1 if args.only else 1  # --only measures one app, on --processes processes
    extra = 0 if args.only else (args.processes if args.processes is not None else 2)
    # The product is configured as infra/ configures it: one warm connection per request an instance takes at
    # once (there 16, here the bench's concurrency).
    warm = min(args.concurrency, MAX_WARM_CONNECTIONS)
    ours_hosts = (rig.start_hosts("host-ours", ROOT, instances=args.instances, processes=first, warm_connections=warm)
                  if "ours" in wanted else [])
    baseline_hosts = (rig.start_hosts("host-baseline", BASELINE_APP, instances=args.instances, processes=first)
                      if "baseline" in wanted else [])
    multi_hosts = (rig.start_hosts("host-ours-multiprocess", ROOT, instances=args.instances, processes=extra,
                                   warm_connections=warm)
                   if "ours" in wanted and extra > 1 else [])
    graph_tokens = rig.graph_tokens()
    print(f"Graph floor: {requests} direct Graph requests ...", file=sys.stderr)
    floor = rig.floor(graph_tokens, requests, args.concurrency)
    if args.only:
        hosts = ours_hosts or baseline_hosts
        print(f"{args.only}: {requests} requests (host pids {[p for h in hosts for p in h.pids]}) ...",
              file=sys.stderr)
        measured = rig.measure(hosts, rig.api_tokens(), requests, args.concurrency)
        print(json.dumps({**measured.summary(), "graph_floor_p50_ms": round(percentile(floor.latencies_ms, 50), 2),
                          "cpu_ms_per_request": measured.cpu_ms_per_request,
                          "failures": measured.load.failures}, indent=2))
        return measured.load.ok == requests
    users = rig.api_tokens()
    print(f"baseline: {requests} requests ...", file=sys.stderr)
    baseline = rig.measure(baseline_hosts, users, requests, args.concurrency)
    print(f"ours: {requests} requests ...", file=sys.stderr)
    ours = rig.measure(ours_hosts, users, requests, args.concurrency)
    renewals = -(-requests // (len(rig.people) * args.renew_every))  # tokens per user
    print(f"ours, tokens renewed every {args.renew_every} requests: {requests} requests ...", file=sys.stderr)
    renewal = Renewal(args.renew_every, rig.measure(ours_hosts, rig.renewing_tokens(renewals), requests,
                                                    args.concurrency, args.renew_every))
    multi = None
    if multi_hosts:
        # New tokens: the shared Redis cache already holds the first set's Graph tokens, and this run, like
        # the first, should start with one exchange per user.
        print(f"ours, {extra} worker processes: {requests} requests ...", file=sys.stderr)
        multi = MultiProcess(extra, rig.measure(multi_hosts, rig.api_tokens(), requests, args.concurrency))

    config = BenchConfig(args.users, requests, args.concurrency, args.token_latency_ms, args.graph_latency_ms)
    notes = [
        f"App Service authentication emulation: {'on' if auth else 'off'}; product token cache: {args.cache}; "
        f"{args.instances} host(s) per app; load average before {machine_before['load_average']}, "
        f"after {machine_state()['load_average']} ({machine_before['cpu_count']} CPUs)",
    ]
    runs = [("baseline", baseline), ("ours", ours), ("renewal", renewal.measured)]
    runs += [("multiprocess", multi.measured)] if multi else []
    for name, measured in runs:
        if measured.load.failures:
            notes.append(f"{name} failures (first {len(measured.load.failures)}): {measured.load.failures}")
    machine = {**machine_before, "load_average_after": machine_state()["load_average"]}
    document = results_document(config, baseline, ours, cold, floor, renewal, multi, machine)
    path = write_results(document, args.output)
    print(format_table(config, baseline, ours, cold, notes, floor, renewal, multi))
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return all(measured.load.ok == requests for _, measured in runs)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
