"""The function's own cost, read from the local host's invocation meter (`localdev/host/metering.py`).

The bench starts every host with `LOCALDEV_HOST_METRICS=on`; each host process then serves, on a loopback
port of its own, the thread CPU and wall time of every invocation. Before a run the bench resets every
process's meter, after it reads them all: the function's CPU per request (p50/p95 over invocations) is what
the Python worker would spend in Azure, and the host process's CPU minus the functions' is what only the
local stand-in costs (aiohttp, App Service authentication emulation, routing, the thread hand-off).
"""
from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterable

from .loadgen import percentile


def _call(url: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    # Loopback only: no proxy may stand between the bench and the host.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def metrics_urls(host_infos: Iterable[dict[str, Any]]) -> list[str]:
    """Every process's meter URL from the hosts' ready lines (empty if the hosts run without metrics)."""
    return [p["metrics_url"] for info in host_infos for p in info.get("processes", []) if p.get("metrics_url")]


def host_pids(host_infos: Iterable[dict[str, Any]]) -> list[int]:
    return [int(p["pid"]) for info in host_infos for p in info.get("processes", [])]


def reset(urls: Iterable[str]) -> None:
    for url in urls:
        _call(url + "/reset", "POST")


@dataclass(frozen=True)
class FunctionCost:
    """Per-invocation thread CPU and wall time of the functions during one run, over every host process."""

    invocations: int
    cpu_ms: list[float]
    wall_ms: list[float]

    @property
    def total_cpu_ms(self) -> float:
        return sum(self.cpu_ms)

    def summary(self) -> dict[str, float]:
        return {"p50": round(percentile(self.cpu_ms, 50), 3), "p95": round(percentile(self.cpu_ms, 95), 3),
                "mean": round(self.total_cpu_ms / len(self.cpu_ms), 3) if self.cpu_ms else float("nan")}

    def wall_summary(self) -> dict[str, float]:
        return {"p50": round(percentile(self.wall_ms, 50), 3), "p95": round(percentile(self.wall_ms, 95), 3)}


def read(urls: Iterable[str]) -> FunctionCost | None:
    cpu: list[float] = []
    wall: list[float] = []
    invocations = 0
    urls = list(urls)
    if not urls:
        return None
    for url in urls:
        for cost in _call(url + "/invocations")["functions"].values():
            invocations += int(cost["count"])
            for cpu_ms, wall_ms in cost["samples"]:
                cpu.append(float(cpu_ms))
                wall.append(float(wall_ms))
    return FunctionCost(invocations, cpu, wall)
