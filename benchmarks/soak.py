"""`python -m benchmarks.soak` (`make soak`): many concurrent users against the local stack for minutes.

Starts the Entra ID + Graph emulators with a tenant of `--users` real users (the seed plus synthetic ones,
benchmarks/tenant.py: the emulator's OBO grant and Graph only accept users that exist, so every simulated
user is one), the local Functions host with App Service authentication and the real app, then runs one
asyncio task per user, each with its own access token, for `--duration` seconds:

- mostly `GET /api/get-profile` (the answer must be that user's own profile: id, userPrincipalName and
  displayName are checked against the token's user), some photo requests, some `/api/config`;
- now and then a report job (`POST /api/jobs/profile-report`, polled to completion; its result must be about
  the same user) and a probe of another user's job id, which must be a 404.

Passes when there were no errors (any other status or a transport failure), no answer carrying another
user's data, and the host's resident memory grew less than `--max-growth` percent between the end of the
warm-up and the end of the run (RSS from /proc/<pid>/status).

    python -m benchmarks.soak [--users 50] [--duration 300] [--warmup 60] [--think-ms 200] [--json PATH]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .processes import ROOT, Child, base_env, start_json_child
from .tenant import write_tenant_file
from localdev import settings as local

AUTH_SETTINGS = ROOT / "infra" / "auth" / "authsettings.json"
USER_HEADER = "X-User-Authorization"
TOKEN_REFRESH_MARGIN_S = 120


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


@dataclass
class User:
    oid: str
    upn: str
    display_name: str
    has_photo: bool
    token: str = ""
    expires_on: float = 0.0
    jobs: list[str] = field(default_factory=list)


@dataclass
class Stats:
    requests: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    cross_user: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    jobs_completed: int = 0
    foreign_job_probes: int = 0

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < 20:
            self.errors.append(text[:300])


class Stack:
    """Emulators + host in child processes, and the emulator's admin API."""

    def __init__(self, users: int, work: Path) -> None:
        self.work = work
        tenant = write_tenant_file(users, work / "tenant.json")
        env = base_env()
        self.emulators = start_json_child("emulators", [
            "-m", "localdev", "emulators", "--entra-port", "0", "--graph-port", "0",
            "--state-dir", str(work / "emulator-state"), "--tenant-file", str(tenant)], env, work)
        self.host: Child | None = None
        info = self.emulators.info
        self.entra_url = info["entra_url"]
        self.ssl = ssl.create_default_context(cafile=info["ca_bundle"])
        self.ca_bundle = info["ca_bundle"]

    async def admin(self, session: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
        async with session.request(method, self.entra_url + path, json=body, ssl=self.ssl) as response:
            response.raise_for_status()
            return await response.json()

    def start_host(self, config: dict[str, Any]) -> Child:
        apps = {a["name"]: a for a in config["apps"]}
        env = base_env()
        env.update({
            "AUTHORITY_HOST": self.entra_url, "GRAPH_BASE_URL": config["graph_base_url"],
            "CA_BUNDLE": self.ca_bundle, "TENANT_ID": config["tenant_id"],
            "API_CLIENT_ID": apps["api"]["client_id"], "SPA_CLIENT_ID": apps["spa"]["client_id"],
            "CLIENT_SECRET": apps["api"]["client_secret"], local.EASYAUTH: "on",
        })
        self.host = start_json_child("host", [
            "-m", "localdev", "host", "--port", "0", "--app-root", str(ROOT), "--auth-settings", str(AUTH_SETTINGS),
            "--state-dir", str(self.work / "durable")], env, self.work)
        return self.host

    def stop(self) -> None:
        for child in (self.host, self.emulators):
            if child is not None:
                child.stop()


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stats = Stats()
        self.stop_at = 0.0
        self.measuring = False

    async def mint(self, session: aiohttp.ClientSession, stack: Stack, user: User, config: dict[str, Any]) -> None:
        apps = {a["name"]: a for a in config["apps"]}
        body = await stack.admin(session, "POST", "/_emulator/token", {
            "user": user.upn, "client_id": apps["spa"]["client_id"], "audience": apps["api"]["client_id"],
            "scopes": ["user_impersonation"]})
        user.token, user.expires_on = body["access_token"], float(body["expires_on"])

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {user.token}", USER_HEADER: f"Bearer {user.token}"}

    async def request(self, session: aiohttp.ClientSession, method: str, url: str, user: User | None,
                      kind: str) -> tuple[int, bytes, str]:
        started = time.perf_counter()
        try:
            async with session.request(method, url, headers=self.headers(user) if user else None) as response:
                body = await response.read()
                status, content_type = response.status, response.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.stats.requests += 1
            self.stats.error(f"{kind}: {type(exc).__name__}: {exc}")
            return 0, b"", ""
        self.stats.requests += 1
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        if self.measuring:
            self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        return status, body, content_type

    async def profile(self, session: aiohttp.ClientSession, base: str, user: User) -> None:
        status, body, _ = await self.request(session, "GET", f"{base}/api/get-profile", user, "profile")
        if status == 0:
            return
        if status != 200:
            self.stats.error(f"profile {user.upn}: HTTP {status} {body[:200]!r}")
            return
        profile = json.loads(body)
        seen = (profile.get("id"), profile.get("userPrincipalName"), profile.get("displayName"))
        if seen != (user.oid, user.upn, user.display_name):
            self.stats.cross_user.append(f"{user.upn} got {seen}")

    async def photo(self, session: aiohttp.ClientSession, base: str, user: User) -> None:
        status, body, content_type = await self.request(session, "GET", f"{base}/api/get-profile/photo", user, "photo")
        if status == 0:
            return
        if user.has_photo and not (status == 200 and content_type.startswith("image/") and body):
            self.stats.error(f"photo {user.upn}: HTTP {status} {content_type}")
        elif not user.has_photo and not (status == 404 and json.loads(body).get("code") == "photo_not_found"):
            self.stats.error(f"photo {user.upn} (none): HTTP {status} {body[:200]!r}")

    async def config(self, session: aiohttp.ClientSession, base: str) -> None:
        status, body, _ = await self.request(session, "GET", f"{base}/api/config", None, "config")
        if status not in (0, 200):
            self.stats.error(f"config: HTTP {status} {body[:200]!r}")

    async def job(self, session: aiohttp.ClientSession, base: str, user: User, others: list[User]) -> None:
        status, body, _ = await self.request(session, "POST", f"{base}/api/jobs/profile-report", user, "job-start")
        if status == 0:
            return
        if status != 202:
            self.stats.error(f"job start {user.upn}: HTTP {status} {body[:200]!r}")
            return
        accepted = json.loads(body)
        user.jobs.append(accepted["id"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            status, body, _ = await self.request(session, "GET", base + accepted["statusUrl"], user, "job-status")
            if status == 0:
                return
            if status != 200:
                self.stats.error(f"job status {user.upn}: HTTP {status} {body[:200]!r}")
                return
            view = json.loads(body)
            if view["runtimeStatus"] in ("Pending", "Running"):
                continue
            if view["runtimeStatus"] != "Completed":
                self.stats.error(f"job {user.upn}: {view['runtimeStatus']} {json.dumps(view.get('error'))[:200]}")
                return
            owner = view["result"]["user"]
            if (owner.get("id"), owner.get("userPrincipalName")) != (user.oid, user.upn):
                self.stats.cross_user.append(f"job of {user.upn} is about {owner.get('userPrincipalName')}")
            self.stats.jobs_completed += 1
            break
        else:
            self.stats.error(f"job {user.upn}: not done after 120 s")
        # Another user's job id must look exactly like an unknown one.
        other = random.choice([o for o in others if o is not user and o.jobs] or [None])  # type: ignore[list-item]
        if other is not None:
            status, body, _ = await self.request(session, "GET", f"{base}/api/jobs/{other.jobs[-1]}", user, "job-probe")
            self.stats.foreign_job_probes += 1
            if status == 200:
                self.stats.cross_user.append(f"{user.upn} read the job of {other.upn}")
            elif status != 404:
                self.stats.error(f"foreign job probe: HTTP {status} {body[:200]!r}")

    async def user_loop(self, session: aiohttp.ClientSession, stack: Stack, base: str, user: User,
                        users: list[User], config: dict[str, Any]) -> None:
        think = self.args.think_ms / 1000
        next_job = time.monotonic() + random.uniform(5, self.args.job_every)
        while time.monotonic() < self.stop_at:
            if user.expires_on - time.time() < TOKEN_REFRESH_MARGIN_S:
                await self.mint(session, stack, user, config)
            roll = random.random()
            if self.args.job_every > 0 and time.monotonic() >= next_job:
                next_job = time.monotonic() + self.args.job_every * random.uniform(0.75, 1.25)
                await self.job(session, base, user, users)
            elif roll < 0.80:
                await self.profile(session, base, user)
            elif roll < 0.95:
                await self.photo(session, base, user)
            else:
                await self.config(session, base)
            await asyncio.sleep(random.uniform(0, 2 * think))

    async def run(self) -> dict[str, Any]:
        args = self.args
        work = Path(tempfile.mkdtemp(prefix="soak-"))
        stack = Stack(args.users, work)
        try:
            timeout = aiohttp.ClientTimeout(total=60)
            connector = aiohttp.TCPConnector(limit=args.users * 2)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                config = await stack.admin(session, "GET", "/_emulator/config")
                tenant = json.loads((work / "tenant.json").read_text())
                photos = {u["id"]: bool(u.get("photo")) for u in tenant["users"]}
                users = [User(u["oid"], u["upn"], u["displayName"], photos.get(u["oid"], False))
                         for u in config["users"]][:args.users]
                if len(users) < args.users:
                    raise RuntimeError(f"the tenant has {len(users)} users, wanted {args.users}")
                host = stack.start_host(config)
                base = host.info["url"]
                await asyncio.gather(*(self.mint(session, stack, u, config) for u in users))
                started = time.monotonic()
                self.stop_at = started + args.duration
                tasks = [asyncio.create_task(self.user_loop(session, stack, base, u, users, config)) for u in users]
                await asyncio.sleep(min(args.warmup, args.duration))
                warm_requests = self.stats.requests
                self.measuring = True
                rss_start = rss_kib(host.pid)
                samples = [rss_start]
                sampled_at = time.monotonic()
                while time.monotonic() < self.stop_at:
                    await asyncio.sleep(min(5.0, max(0.0, self.stop_at - time.monotonic())))
                    samples.append(rss_kib(host.pid))
                await asyncio.gather(*tasks)
                measured_s = time.monotonic() - sampled_at
                rss_end = rss_kib(host.pid)
                metrics = await stack.admin(session, "GET", "/_emulator/metrics")
        finally:
            stack.stop()
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        stats = self.stats
        growth = (rss_end - rss_start) / rss_start * 100
        measured_requests = stats.requests - warm_requests
        result = {
            "config": {"users": args.users, "duration_s": args.duration, "warmup_s": args.warmup,
                       "think_ms": args.think_ms, "job_every_s": args.job_every},
            "requests": stats.requests, "by_kind": stats.by_kind,
            "rps_after_warmup": round(measured_requests / measured_s, 1) if measured_s else None,
            "errors": stats.error_count, "error_samples": stats.errors,
            "cross_user": len(stats.cross_user), "cross_user_samples": stats.cross_user[:20],
            "jobs_completed": stats.jobs_completed, "foreign_job_probes": stats.foreign_job_probes,
            "latency_ms": {"p50": round(percentile(stats.latencies_ms, 0.50), 1),
                           "p95": round(percentile(stats.latencies_ms, 0.95), 1),
                           "p99": round(percentile(stats.latencies_ms, 0.99), 1),
                           "max": round(max(stats.latencies_ms, default=0.0), 1)},
            "host_rss_kib": {"after_warmup": rss_start, "end": rss_end, "min": min(samples), "max": max(samples),
                             "growth_percent": round(growth, 2),
                             # growth in the second half of the measured period: near 0 means a plateau
                             "second_half_growth_percent": round(
                                 (rss_end - samples[len(samples) // 2]) / rss_start * 100, 2),
                             "samples_every_5s": samples},
            "upstream": {"obo_exchanges": metrics["token"].get("urn:ietf:params:oauth:grant-type:jwt-bearer", 0),
                         "token_requests": sum(metrics["token"].values()),
                         "graph_requests": sum(metrics["graph"].values())},
        }
        result["passed"] = (stats.error_count == 0 and not stats.cross_user and growth < args.max_growth
                            and stats.requests > 0)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users, each a real tenant user")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load in all (warm-up included)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the memory baseline is taken")
    parser.add_argument("--think-ms", type=float, default=200.0, help="mean pause between a user's requests")
    parser.add_argument("--job-every", type=float, default=90.0, help="seconds between a user's report jobs (0: none)")
    parser.add_argument("--max-growth", type=float, default=10.0, help="allowed host RSS growth after warm-up, percent")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, durable state)")
    args = parser.parse_args(argv)
    if args.warmup >= args.duration:
        parser.error("--warmup must be shorter than --duration")

    result = asyncio.run(Soak(args).run())
    rss = result["host_rss_kib"]
    print(f"soak: {args.users} users for {args.duration:.0f} s (warm-up {args.warmup:.0f} s)")
    print(f"  requests        {result['requests']} {json.dumps(result['by_kind'])}")
    print(f"  throughput      {result['rps_after_warmup']} req/s after warm-up")
    print(f"  latency ms      p50 {result['latency_ms']['p50']}  p95 {result['latency_ms']['p95']}  "
          f"p99 {result['latency_ms']['p99']}  max {result['latency_ms']['max']}")
    print(f"  errors          {result['errors']}")
    print(f"  cross-user      {result['cross_user']} (report jobs completed {result['jobs_completed']}, "
          f"foreign job probes {result['foreign_job_probes']})")
    print(f"  host RSS        {rss['after_warmup']} KiB after warm-up -> {rss['end']} KiB at the end "
          f"({rss['growth_percent']:+.2f} %, of which {rss['second_half_growth_percent']:+.2f} % in the second half; "
          f"min {rss['min']}, max {rss['max']})")
    print(f"  upstream        {json.dumps(result['upstream'])}")
    for sample in result["error_samples"] + result["cross_user_samples"]:
        print(f"    {sample}")
    print(f"soak: {'PASSED' if result['passed'] else 'FAILED'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
