"""Throughput of the local emulators: token requests/s and Graph `/me` requests/s.

    .venv/bin/python -m benchmarks.emulator_bench [--seconds 5] [--concurrency 16]

Starts `python -m localdev emulators` on free ports (or uses --entra-url/--graph-url of running ones),
then drives each endpoint with keep-alive HTTPS connections for a fixed time and prints one table row
per scenario. Targets on a 2-core machine: >= 300 token requests/s, >= 1000 Graph /me requests/s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float | None = None  # CPU the emulator process used during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s * 1000 / self.requests

    @property
    def capacity_per_core(self) -> float | None:
        """Requests/s one core could serve: independent of how busy the machine is with other work."""
        per = self.cpu_ms_per_request
        return 1000 / per if per else None

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def process_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (Linux /proc); None elsewhere."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_emulators(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    process = subprocess.Popen([sys.executable, "-m", "localdev", "emulators", "--entra-port", "0",
                                "--graph-port", "0", "--state-dir", str(state_dir)],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"emulators exited with {process.wait()}")
    return process, json.loads(line)


async def drive(name: str, session: aiohttp.ClientSession, make_request: Callable[[], Any], seconds: float,
                concurrency: int, server_pid: int | None = None) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            method, url, kwargs = make_request()
            async with session.request(method, url, **kwargs) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before = process_cpu_seconds(server_pid)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu_after = process_cpu_seconds(server_pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return Result(name, len(latencies), errors, elapsed, latencies, cpu)


async def run(ready: dict[str, Any], seconds: float, concurrency: int,
              server_pid: int | None = None) -> list[Result]:
    context = ssl.create_default_context(cafile=ready["ca_bundle"])
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(ready["config_url"]) as response:
            config = await response.json()
        apps = {a["name"]: a for a in config["apps"]}
        token_url = f"{ready['authority']}/oauth2/v2.0/token"
        async with session.post(f"{ready['entra_url']}/_emulator/token", json={
                "user": "mira.okafor@larkspur.example", "client_id": apps["spa"]["client_id"],
                "audience": apps["api"]["client_id"], "scopes": ["user_impersonation"]}) as response:
            assertion = (await response.json())["access_token"]
        async with session.post(f"{ready['entra_url']}/_emulator/token", json={
                "user": "mira.okafor@larkspur.example", "client_id": apps["api"]["client_id"],
                "audience": "https://graph.microsoft.com", "scopes": ["User.Read"]}) as response:
            graph_token = (await response.json())["access_token"]

        client_credentials = {"grant_type": "client_credentials", "client_id": apps["daemon"]["client_id"],
                              "client_secret": apps["daemon"]["client_secret"],
                              "scope": "https://graph.microsoft.com/.default"}
        obo = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_id": apps["api"]["client_id"],
               "client_secret": apps["api"]["client_secret"], "assertion": assertion,
               "requested_token_use": "on_behalf_of", "scope": "User.Read offline_access openid profile",
               "client_info": "1"}
        scenarios = [
            ("token: client_credentials", lambda: ("POST", token_url, {"data": client_credentials})),
            ("token: on-behalf-of", lambda: ("POST", token_url, {"data": obo})),
            ("graph: GET /me", lambda: ("GET", f"{ready['graph_url']}/me",
                                        {"headers": {"Authorization": f"Bearer {graph_token}"}})),
        ]
        results = []
        for name, factory in scenarios:
            await drive(name, session, factory, min(1.0, seconds), concurrency)  # warm up connections
            results.append(await drive(name, session, factory, seconds, concurrency, server_pid))
        await session.post(f"{ready['entra_url']}/_emulator/reset")
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".localdev")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    process, ready = start_emulators(args.state_dir)
    try:
        results = asyncio.run(run(ready, args.seconds, args.concurrency, process.pid))
    finally:
        process.terminate()
        process.wait(timeout=15)
    if args.json:
        print(json.dumps([{"scenario": r.name, "requests": r.requests, "errors": r.errors, "rps": round(r.rps, 1),
                           "p50_ms": round(r.percentile(0.5), 2), "p95_ms": round(r.percentile(0.95), 2),
                           "mean_ms": round(statistics.fmean(r.latencies_ms), 2) if r.latencies_ms else 0,
                           "server_cpu_ms_per_request": r.cpu_ms_per_request,
                           "capacity_per_core_rps": r.capacity_per_core} for r in results]))
        return 0
    print(f"{'scenario':<28} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'cpu ms/req':>10} {'req/s/core':>10}")
    for r in results:
        cpu = f"{r.cpu_ms_per_request:.2f}" if r.cpu_ms_per_request else "-"
        capacity = f"{r.capacity_per_core:.0f}" if r.capacity_per_core else "-"
        print(f"{r.name:<28} {r.requests:>9} {r.errors:>7} {r.rps:>9.1f} {r.percentile(0.5):>8.2f} "
              f"{r.percentile(0.95):>8.2f} {cpu:>10} {capacity:>10}")
    print("req/s: measured on this machine as it is now; req/s/core: what the emulator's CPU use per request "
          "allows on one otherwise idle core.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
