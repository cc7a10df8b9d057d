"""Closed-loop HTTP load: `concurrency` workers share one pooled aiohttp session and send `requests` calls.

Users take turns (request i belongs to user i mod users), like many people using the app at once. Each
request carries the user's API token the way the SPA sends it: in `X-User-Authorization` and in
`Authorization`. A user may hold several tokens in turn (a renewal every `renew_every` of their requests,
as MSAL.js renews before expiry). Latency is measured per request around the full response read; requests
0..users-1 are each user's first request.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp


@dataclass
class LoadResult:
    latencies_ms: list[float]
    statuses: Counter[int]
    wall_seconds: float
    failures: list[str] = field(default_factory=list)
    first_call_ms: list[float] = field(default_factory=list)  # each user's first request
    distinct_tokens: int = 0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a copy."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


Tokens = list[str]


async def run_load(urls: list[str], users: list[tuple[str | Tokens, str]], requests: int, concurrency: int,
                   ssl_context: ssl.SSLContext | None = None, *, renew_every: int | None = None) -> LoadResult:
    """Request i goes to urls[i mod len(urls)] (instances of one app) for users[i mod len(users)].

    `users` holds (API token or the user's tokens in renewal order, text the user's own profile must contain):
    a reply that carries another user's profile would mean the token cache mixed users up, so it counts as a
    failure (status -1). With `renew_every`, the user's n-th request uses token n // renew_every."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False, ttl_dns_cache=300,
                                     ssl=ssl_context if ssl_context is not None else True)
    timeout = aiohttp.ClientTimeout(total=60)
    latencies: list[float] = []
    first_calls: list[float] = []
    used: set[str] = set()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    next_index = 0

    def token_for(index: int) -> tuple[str, str]:
        tokens, expected = users[index % len(users)]
        if isinstance(tokens, str):
            return tokens, expected
        turn = (index // len(users)) // renew_every if renew_every else 0
        return tokens[min(turn, len(tokens) - 1)], expected

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker() -> None:
            nonlocal next_index
            while next_index < requests:
                index = next_index
                next_index += 1
                token, expected = token_for(index)
                used.add(token)
                headers = {"Authorization": f"Bearer {token}", "X-User-Authorization": f"Bearer {token}"}
                started = time.perf_counter()
                try:
                    async with session.get(urls[index % len(urls)], headers=headers) as response:
                        body = await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    status, body = 0, repr(exc).encode()
                latency = (time.perf_counter() - started) * 1000.0
                latencies.append(latency)
                if index < len(users):
                    first_calls.append(latency)
                if status == 200 and expected.encode() not in body:
                    status = -1
                statuses[status] += 1
                if status != 200 and len(failures) < 5:
                    failures.append(f"{status}: {body[:300]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return LoadResult(latencies, statuses, wall, failures, first_calls, len(used))
