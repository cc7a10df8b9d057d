"""The benchmark's outputs: `benchmarks/results/latest.json` (shape fixed by the design) and a text table."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cold_start import ColdStart
from .loadgen import LoadResult, percentile

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchConfig:
    users: int
    requests: int
    concurrency: int
    token_latency_ms: int
    graph_latency_ms: int


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    upstream: dict[str, int]  # token / graph / discovery / jwks requests seen by the emulators
    cpu_ms_per_request: dict[str, float]  # CPU time each process spent per request during the run

    def summary(self) -> dict[str, Any]:
        latencies = self.load.latencies_ms
        return {
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "rps": round(self.load.rps, 1),
            "token_requests": self.upstream["token"],
            "graph_requests": self.upstream["graph"],
            # Each user's first request, on a host that has served nobody yet, inside the opening burst.
            "first_call": {"p50_ms": round(percentile(self.load.first_call_ms, 50), 2),
                           "p99_ms": round(percentile(self.load.first_call_ms, 99), 2)},
        }


@dataclass(frozen=True)
class Renewal:
    """The product under the same load while every user renews their API token every `renew_every` requests."""

    renew_every: int
    measured: Measured

    def summary(self) -> dict[str, Any]:
        latencies = self.measured.load.latencies_ms
        return {"renew_every": self.renew_every, "distinct_tokens": self.measured.load.distinct_tokens,
                "token_requests": self.measured.upstream["token"], "graph_requests": self.measured.upstream["graph"],
                "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2),
                "rps": round(self.measured.load.rps, 1)}


def floor_summary(floor: LoadResult) -> dict[str, float]:
    return {"p50_ms": round(percentile(floor.latencies_ms, 50), 2),
            "p95_ms": round(percentile(floor.latencies_ms, 95), 2)}


def first_call_target_ms(config: BenchConfig, floor: LoadResult) -> float:
    """2 x (one exchange + one Graph call + what the emulators add over the injected latency, from the floor)."""
    return 2 * (config.token_latency_ms + percentile(floor.latencies_ms, 50))


def results_document(config: BenchConfig, baseline: Measured, ours: Measured, cold: ColdStart, floor: LoadResult,
                     renewal: Renewal) -> dict[str, Any]:
    return {
        "config": {
            "users": config.users,
            "requests": config.requests,
            "concurrency": config.concurrency,
            "token_latency_ms": config.token_latency_ms,
            "graph_latency_ms": config.graph_latency_ms,
        },
        "baseline": baseline.summary(),
        "ours": ours.summary(),
        "graph_floor": floor_summary(floor),
        "renewal": renewal.summary(),
        "cold_start": {
            "import_ms": round(cold.import_ms, 1),
            "deps_import_ms": round(cold.deps_import_ms, 1),
            "network_calls_at_import": cold.network_calls_at_import,
        },
    }


def write_results(document: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS_DIR / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def format_table(config: BenchConfig, baseline: Measured, ours: Measured, cold: ColdStart, notes: list[str],
                 floor: LoadResult, renewal: Renewal) -> str:
    b, o = baseline.summary(), ours.summary()
    rows = [
        ("p50 latency (ms)", b["p50_ms"], o["p50_ms"]),
        ("p95 latency (ms)", b["p95_ms"], o["p95_ms"]),
        ("p99 latency (ms)", b["p99_ms"], o["p99_ms"]),
        ("first call of each user, p50 (ms)", b["first_call"]["p50_ms"], o["first_call"]["p50_ms"]),
        ("first call of each user, p99 (ms)", b["first_call"]["p99_ms"], o["first_call"]["p99_ms"]),
        ("requests/s", b["rps"], o["rps"]),
        ("token endpoint requests", b["token_requests"], o["token_requests"]),
        ("Graph requests", b["graph_requests"], o["graph_requests"]),
        ("OpenID discovery requests", baseline.upstream["discovery"], ours.upstream["discovery"]),
        ("non-200 responses", config.requests - baseline.load.ok, config.requests - ours.load.ok),
    ]
    for process in baseline.cpu_ms_per_request:
        rows.append((f"CPU ms/request: {process}", round(baseline.cpu_ms_per_request[process], 2),
                     round(ours.cpu_ms_per_request.get(process, float("nan")), 2)))
    width = max(len(r[0]) for r in rows)
    lines = [
        f"{config.requests} requests, {config.users} users, {config.concurrency} concurrent; "
        f"token endpoint +{config.token_latency_ms} ms, Graph +{config.graph_latency_ms} ms",
        "",
        f"{'':<{width}}  {'baseline':>12}  {'ours':>12}",
    ]
    lines += [f"{name:<{width}}  {_fmt(bv):>12}  {_fmt(ov):>12}" for name, bv, ov in rows]
    ratio = o["p50_ms"] / b["p50_ms"] if b["p50_ms"] else float("nan")
    lines += [
        "",
        f"ours p50 = {ratio:.2f} x baseline p50; {o['p50_ms'] - config.graph_latency_ms:+.1f} ms over the "
        f"injected Graph latency ({config.graph_latency_ms} ms)",
        f"Graph floor (same load straight to the Graph emulator): p50 {percentile(floor.latencies_ms, 50):.2f} ms, "
        f"p95 {percentile(floor.latencies_ms, 95):.2f} ms; ours p50 is "
        f"{o['p50_ms'] - percentile(floor.latencies_ms, 50):+.1f} ms over it",
        f"token renewal every {renewal.renew_every} requests per user: {renewal.summary()['distinct_tokens']} "
        f"distinct tokens, {renewal.summary()['token_requests']} token requests, p50 {renewal.summary()['p50_ms']:.1f} ms",
        f"cold start: import main {cold.import_ms:.1f} ms, dependencies alone {cold.deps_import_ms:.1f} ms "
        f"(app adds {cold.app_overhead_ms:+.1f} ms; the app's own modules take {cold.app_modules_self_ms:.1f} ms "
        f"by -X importtime); network calls while importing: {cold.network_calls_at_import}",
    ]
    if cold.network_call_detail:
        lines.append(f"  network calls: {cold.network_call_detail[:5]}")
    lines += ["", "targets:"]
    lines += [f"  [{'met' if met else 'MISSED'}] {text}"
              for met, text in targets(config, baseline, ours, cold, floor, renewal)]
    lines += notes
    return "\n".join(lines)


def targets(config: BenchConfig, baseline: Measured, ours: Measured, cold: ColdStart,
            floor: LoadResult, renewal: Renewal) -> list[tuple[bool, str]]:
    b, o, r = baseline.summary(), ours.summary(), renewal.summary()
    floor_p50 = percentile(floor.latencies_ms, 50)
    first_call_target = first_call_target_ms(config, floor)
    return [
        (o["p50_ms"] <= 0.40 * b["p50_ms"], f"ours p50 <= 0.40 x baseline p50 ({o['p50_ms']:.1f} vs {b['p50_ms']:.1f} ms)"),
        (o["p50_ms"] <= floor_p50 + 5, f"ours p50 within 5 ms of the measured Graph floor ({floor_p50:.1f} ms)"),
        (o["p50_ms"] <= config.graph_latency_ms + 5,
         f"ours p50 within 5 ms of the injected Graph latency ({config.graph_latency_ms} ms)"),
        (o["token_requests"] <= config.users,
         f"token requests <= one per user token ({o['token_requests']} for {config.users} users with one token each)"),
        (r["token_requests"] == r["distinct_tokens"],
         f"renewing users: token requests = distinct tokens ({r['token_requests']} for {r['distinct_tokens']})"),
        (o["first_call"]["p99_ms"] <= first_call_target,
         f"first calls p99 <= 2 x (token latency + Graph floor) ({o['first_call']['p99_ms']:.0f} vs "
         f"{first_call_target:.0f} ms)"),
        (cold.app_modules_self_ms <= 50, f"the app's own import <= 50 ms ({cold.app_modules_self_ms:.1f} ms)"),
        (cold.network_calls_at_import == 0, "no network call while importing main"),
    ]


def _fmt(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
