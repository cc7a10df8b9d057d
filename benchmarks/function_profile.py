"""`python -m benchmarks.function_profile`: where a cached get-profile spends its CPU, step by step.

Starts the emulators and Redis as the bench does (`benchmarks/rig.py`), builds the product in this process
with the bench's settings (`TOKEN_CACHE=redis`, the injected Graph latency), and calls the `get_profile`
function the way the local host's worker thread does: a `func.HttpRequest` with the headers the host passes
(after App Service authentication emulation), then the response encoding. Every user's first call (the
exchange) happens in a warm-up pass; the measured calls are all cached, one at a time, users taking turns.

Per call it records the thread CPU time (`time.thread_time`) of the whole invocation and of each step,
timed by wrapping the step's entry point from outside the product:

- `authenticate`: finding the bearer token and validating it (a repeat token is a hash and an LRU hit);
- `graph token`: the cache lookup (`OboClient.graph_token`: scopes, key hash, L1, entry parse);
- `Graph transport`: the transport's `get` (`graph_http`: http.client and TLS) for the `/me` call;
- `Graph rest`: the rest of `GraphClient.me` (request id, retry loop, JSON decode, the `graph_call` log line);
- `response body`: the profile as JSON in a `func.HttpResponse`;
- `host encoding`: `to_web_response`, the local host's conversion (also on the function's thread);
- `wrapper`: everything else (`errors.http_handler`: correlation id, the `request` log line, services lookup).

With `--cprofile` it also prints the top functions by own time (cProfile with a thread-CPU timer, whose
overhead inflates absolute figures: read them as shares). Figures: docs/performance.md, "The function's
own cost".
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from collections import defaultdict
from typing import Any, Callable

from .loadgen import percentile
from .rig import open_rig
from localdev import settings as local

STEPS = ("authenticate", "graph token", "Graph transport", "Graph rest", "response body", "host encoding")


class StepTimer:
    """Thread CPU time of wrapped callables, nested steps subtracted from the step that contains them."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(list)
        self._current: dict[str, float] = {}
        self._stack: list[list[float]] = []

    def wrap(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append([0.0])
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.thread_time() - started
                inner = self._stack.pop()[0]
                self._current[step] = self._current.get(step, 0.0) + elapsed - inner
                if self._stack:
                    self._stack[-1][0] += elapsed
        return timed

    def begin(self) -> None:
        self._current = {}

    def end(self, total: float) -> None:
        for step in STEPS:
            self.totals[step].append(self._current.get(step, 0.0) * 1000.0)
        self.totals["wrapper"].append((total - sum(self._current.values())) * 1000.0)
        self.totals["total"].append(total * 1000.0)


def _request_headers(token: str, host: str) -> dict[str, str]:
    """What the local host hands the function for a bench request (App Service auth emulation on)."""
    return {"host": host, "user-agent": "Python/3.11 aiohttp/3", "accept": "*/*", "accept-encoding": "gzip, deflate",
            "authorization": f"Bearer {token}", "x-user-authorization": f"Bearer {token}",
            "x-ms-client-principal-idp": "aad", "x-ms-client-principal-id": "00000000-0000-0000-0000-000000000000",
            "x-ms-client-principal-name": "user", "x-ms-client-principal": "e30="}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.function_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cache", choices=("redis", "memory"), default="redis")
    parser.add_argument("--graph-latency-ms", type=int, default=0,
                        help="latency injected at Graph (CPU time does not depend on it; default 0: faster runs)")
    parser.add_argument("--log-level", default="WARNING",
                        help="the app's log level (the bench's hosts run at WARNING; Azure's default is INFO)")
    parser.add_argument("--cprofile", action="store_true", help="also print the top functions by own CPU time")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    rig = open_rig(users=args.users, cache=args.cache, auth=False, token_latency_ms=0,
                   graph_latency_ms=args.graph_latency_ms)
    ok = False
    try:
        os.environ.update({k: v for k, v in rig.app_env.items() if k != local.HOST_METRICS})
        logging.basicConfig(level=args.log_level, stream=sys.stderr)
        import azure.functions as func
        from function_app import graph_http, http_api, graph, obo, services
        from localdev.host.invoker import to_web_response

        timer = StepTimer()
        services.Services.authenticate = timer.wrap("authenticate", services.Services.authenticate)  # type: ignore
        obo.OboClient.graph_token = timer.wrap("graph token", obo.OboClient.graph_token)  # type: ignore
        for transport in (graph_http.PooledGraphTransport, graph_http.RequestsGraphTransport):
            transport.get = timer.wrap("Graph transport", transport.get)  # type: ignore
        graph.GraphClient.me = timer.wrap("Graph rest", graph.GraphClient.me)  # type: ignore
        http_api._json = timer.wrap("response body", http_api._json)  # type: ignore
        encode = timer.wrap("host encoding", to_web_response)
        handler = http_api.get_profile._function.get_user_function()  # what the worker calls

        tokens = rig.api_tokens()
        requests = [func.HttpRequest("GET", "http://127.0.0.1:7071/api/get-profile",
                                     headers=_request_headers(token, "127.0.0.1:7071"), body=b"")
                    for token, _ in tokens]
        for request, (_, upn) in zip(requests, tokens):  # warm-up: every user's one exchange
            response = handler(request)
            if response.status_code != 200 or upn.encode() not in response.get_body():
                raise SystemExit(f"warm-up call failed: {response.status_code} {response.get_body()[:200]!r}")
        for request in requests * 3:  # warm every code path once more before measuring
            encode(handler(request))
        timer.totals.clear()

        profiler = cProfile.Profile(time.thread_time) if args.cprofile else None
        failures = 0
        for n in range(args.calls):
            request = requests[n % len(requests)]
            timer.begin()
            if profiler is not None:
                profiler.enable()
            started = time.thread_time()
            response = encode(handler(request))
            total = time.thread_time() - started
            if profiler is not None:
                profiler.disable()
            timer.end(total)
            failures += response.status != 200
        print(f"{args.calls} cached get-profile calls, {args.users} users, TOKEN_CACHE={args.cache}, "
              f"log level {args.log_level}; thread CPU per call in ms (load average "
              f"{[round(v, 2) for v in os.getloadavg()]})\n")
        print(f"{'step':<18} {'p50':>7} {'p95':>7} {'mean':>7}")
        for step in (*STEPS, "wrapper", "total"):
            values = timer.totals[step]
            print(f"{step:<18} {percentile(values, 50):>7.3f} {percentile(values, 95):>7.3f} "
                  f"{sum(values) / len(values):>7.3f}")
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            print("\n" + out.getvalue())
        ok = failures == 0
        if failures:
            print(f"{failures} calls did not answer 200", file=sys.stderr)
        return 0 if ok else 1
    finally:
        rig.close(keep=False, ok=ok)


if __name__ == "__main__":
    sys.exit(main())
