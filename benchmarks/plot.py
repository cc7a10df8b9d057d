"""The concurrency sweep as a PNG: latency against the Graph floor, and throughput, per concurrency level.

Drawn with matplotlib's Agg backend (no display needed) from the sweep document alone, so a plot can be
redrawn from a saved `sweep.json`: `python -m benchmarks.plot benchmarks/results/sweep.json`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)


def plot_sweep(document: dict[str, Any], path: Path) -> Path:
    levels = document["levels"]
    x = [p["concurrency"] for p in levels]
    within = document["config"].get("within_ms", 5.0)
    figure, (latency, throughput) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                                 gridspec_kw={"height_ratios": [3, 2]})
    latency.plot(x, [p["p50_ms"] for p in levels], "o-", color="tab:blue", label="get-profile p50")
    latency.plot(x, [p["p95_ms"] for p in levels], "o--", color="tab:blue", alpha=0.6, label="get-profile p95")
    latency.plot(x, [p["floor_p50_ms"] for p in levels], "s-", color="tab:gray", label="Graph floor p50")
    latency.plot(x, [p["floor_p95_ms"] for p in levels], "s--", color="tab:gray", alpha=0.6, label="Graph floor p95")
    latency.fill_between(x, [p["floor_p50_ms"] for p in levels], [p["floor_p50_ms"] + within for p in levels],
                         color="tab:green", alpha=0.15, label=f"floor p50 + {within:g} ms")
    chosen = document.get("chosen_concurrency")
    for axis in (latency, throughput):
        if chosen is not None:
            axis.axvline(chosen, color="tab:green", linestyle=":", linewidth=1.5)
        axis.grid(True, alpha=0.3)
    latency.set_ylabel("latency (ms)")
    latency.set_title("get-profile on one worker process: latency against the Graph floor"
                      + (f"; chosen concurrency {chosen}" if chosen is not None else ""))
    latency.legend(loc="upper left", fontsize=8)
    throughput.plot(x, [p["rps"] for p in levels], "o-", color="tab:orange", label="get-profile")
    throughput.plot(x, [p["floor_rps"] for p in levels], "s-", color="tab:gray", label="Graph floor")
    throughput.set_ylabel("requests/s")
    throughput.set_xlabel("concurrent requests")
    throughput.set_xscale("log", base=2)
    throughput.set_xticks(x, [str(v) for v in x])
    throughput.legend(loc="upper left", fontsize=8)
    machine = document.get("machine", {})
    figure.text(0.01, 0.005, f"{machine.get('cpu_count', '?')} CPUs, load average {machine.get('load_average')} "
                             f"before, {machine.get('load_average_after')} after", fontsize=7, color="tab:gray")
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "sweep.json"
    print(plot_sweep(json.loads(source.read_text(encoding="utf-8")), source.with_suffix(".png")))
