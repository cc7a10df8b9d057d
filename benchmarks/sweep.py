"""`python -m benchmarks --sweep` (`make bench-sweep`): how much concurrency one worker process takes.

The product runs on one host with one worker process (Flex Consumption runs exactly one: it refuses
FUNCTIONS_WORKER_PROCESS_COUNT) and a thread pool at least as large as the highest level. At each
concurrency level (1, 4, 8, 16, 32, 64) the bench first sends the load straight to the Graph emulator (the
floor at that level), then the same load to the product, and records p50/p95 against that floor, throughput
and the function's own CPU per request. Every user's first exchange happens in a warm-up pass before the
levels, so each level measures the cached path.

The recommended per-instance HTTP concurrency (and `PYTHON_THREADPOOL_THREAD_COUNT`) is the largest level
whose p50 stays within 5 ms of the floor at the same level, every answer a 200. A lower level over the target
is marked in the table: on a shared machine that is noise to look at before trusting the choice. Results go
beside latest.json: `sweep.json` and `sweep.png` (docs/performance.md, "Concurrency sweep").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .loadgen import LoadResult, percentile
from .processes import ROOT
from .report import RESULTS_DIR, Measured
from .rig import Rig, run_on_rig

LEVELS = (1, 4, 8, 16, 32, 64)
WITHIN_MS = 5.0
MIN_REQUESTS = 300
REQUESTS_PER_WORKER = 30


def requests_for(concurrency: int, explicit: int | None) -> int:
    """Enough requests that every worker sends many: at low concurrency a run is long in wall time anyway."""
    return explicit or max(MIN_REQUESTS, REQUESTS_PER_WORKER * concurrency)


@dataclass(frozen=True)
class SweepPoint:
    concurrency: int
    floor: LoadResult
    ours: Measured

    def summary(self) -> dict[str, Any]:
        ours = self.ours.latency_summary()
        floor_p50 = percentile(self.floor.latencies_ms, 50)
        over = ours["p50_ms"] - floor_p50
        return {
            "concurrency": self.concurrency,
            "requests": self.ours.requests,
            "p50_ms": ours["p50_ms"], "p95_ms": ours["p95_ms"], "rps": ours["rps"],
            "floor_p50_ms": round(floor_p50, 2), "floor_p95_ms": round(percentile(self.floor.latencies_ms, 95), 2),
            "floor_rps": round(self.floor.rps, 1),
            "over_floor_ms": round(over, 2),
            "within_target": over <= WITHIN_MS,
            "non_200": self.ours.requests - self.ours.load.ok,
            **self.ours.cost_summary(),
        }


def choose(points: Iterable[dict[str, Any]]) -> int | None:
    """The largest level within WITHIN_MS of its floor with every answer a 200 (None: no level is)."""
    within = [p["concurrency"] for p in points if p["within_target"] and not p["non_200"]]
    return max(within) if within else None


def sweep_document(points: list[SweepPoint], config: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    summaries = [p.summary() for p in points]
    return {"config": {**config, "worker_processes": 1, "within_ms": WITHIN_MS},
            "levels": summaries, "chosen_concurrency": choose(summaries), "machine": machine}


def format_sweep(document: dict[str, Any]) -> str:
    header = (f"{'concurrency':>11}  {'requests':>8}  {'p50':>7}  {'p95':>7}  {'floor p50':>9}  {'floor p95':>9}  "
              f"{'over floor':>10}  {'req/s':>6}  {'fn CPU p50':>10}  {'host CPU':>8}")
    lines = ["Concurrency sweep: one worker process; latencies in ms, CPU in ms per request", "", header]
    for p in document["levels"]:
        cpu = p.get("function_cpu_ms", {}).get("p50", float("nan"))
        lines.append(f"{p['concurrency']:>11}  {p['requests']:>8}  {p['p50_ms']:>7.1f}  {p['p95_ms']:>7.1f}  "
                     f"{p['floor_p50_ms']:>9.1f}  {p['floor_p95_ms']:>9.1f}  {p['over_floor_ms']:>+10.1f}  "
                     f"{p['rps']:>6.0f}  {cpu:>10.3f}  {p.get('host_cpu_ms', float('nan')):>8.2f}"
                     + ("" if p["within_target"] else "  (over target)"))
    chosen = document["chosen_concurrency"]
    lines += ["", f"largest concurrency with p50 within {WITHIN_MS:g} ms of the floor: "
                  f"{chosen if chosen is not None else 'none'}",
              f"load average before {document['machine']['load_average']}, after "
              f"{document['machine']['load_average_after']} ({document['machine']['cpu_count']} CPUs)"]
    return "\n".join(lines)


def output_paths(output: Path | None) -> tuple[Path, Path]:
    json_path = output or RESULTS_DIR / "sweep.json"
    return json_path, json_path.with_suffix(".png")


def run_sweep(args: argparse.Namespace) -> int:
    machine = {"cpu_count": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()]}
    return run_on_rig(args, lambda rig: _sweep(rig, args, LEVELS, machine))


def _sweep(rig: Rig, args: argparse.Namespace, levels: Iterable[int], machine: dict[str, Any]) -> bool:
    print("starting the Functions host (one worker process) ...", file=sys.stderr)
    hosts = rig.start_hosts("host-ours", ROOT, processes=1)
    users, graph_tokens = rig.api_tokens(), rig.graph_tokens()
    print("warm-up: every user's first exchange ...", file=sys.stderr)
    rig.measure(hosts, users, 2 * len(users), min(len(users), 8))
    points = []
    for concurrency in levels:
        count = requests_for(concurrency, args.requests)
        print(f"concurrency {concurrency}: {count} requests to the Graph floor, then to the product ...",
              file=sys.stderr)
        floor = rig.floor(graph_tokens, count, concurrency)
        points.append(SweepPoint(concurrency, floor, rig.measure(hosts, users, count, concurrency)))
    machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    document = sweep_document(points, {"users": args.users, "token_latency_ms": args.token_latency_ms,
                                       "graph_latency_ms": args.graph_latency_ms, "cache": args.cache,
                                       "auth": not args.no_auth}, machine)
    json_path, png_path = output_paths(args.output)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    from .plot import plot_sweep  # matplotlib only for the sweep

    plot_sweep(document, png_path)
    print(format_sweep(document))
    for path in (json_path, png_path):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return all(p["non_200"] == 0 for p in document["levels"])
