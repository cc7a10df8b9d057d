"""The benchmark's results document and target checks, from synthetic measurements (shape and arithmetic,
never timings of this machine)."""
from __future__ import annotations

import asyncio
import json
from collections import Counter

from aiohttp import web

from benchmarks.cold_start import ColdStart
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.report import (BenchConfig, Measured, Renewal, first_call_target_ms, format_table, results_document,
                               targets)

CONFIG = BenchConfig(users=4, requests=40, concurrency=8, token_latency_ms=120, graph_latency_ms=60)
COLD = ColdStart(import_ms=320.0, deps_import_ms=300.0, network_calls_at_import=0, network_call_detail=[],
                 third_party_loaded=[], app_modules_self_ms=20.0)


def load(latencies: list[float], first: list[float], distinct: int = 4) -> LoadResult:
    return LoadResult(latencies, Counter({200: len(latencies)}), 1.0, [], first, distinct)


def measured(latencies: list[float], first: list[float], tokens: int, distinct: int = 4) -> Measured:
    return Measured(load(latencies, first, distinct), {"token": tokens, "graph": len(latencies), "discovery": 1,
                                                       "jwks": 1}, {"hosts": 2.5})


def document() -> dict:
    baseline = measured([300.0] * 40, [400.0] * 4, tokens=40)
    ours = measured([90.0] * 36 + [300.0] * 4, [300.0, 310.0, 320.0, 330.0], tokens=4)
    renewal = Renewal(5, measured([95.0] * 40, [300.0] * 4, tokens=8, distinct=8))
    floor = load([85.0] * 40, [])
    return results_document(CONFIG, baseline, ours, COLD, floor, renewal)


def test_the_document_has_every_field_the_contract_names() -> None:
    doc = json.loads(json.dumps(document()))
    assert set(doc) == {"config", "baseline", "ours", "graph_floor", "renewal", "cold_start"}
    for app in ("baseline", "ours"):
        assert set(doc[app]) == {"p50_ms", "p95_ms", "p99_ms", "rps", "token_requests", "graph_requests",
                                 "first_call"}
        assert set(doc[app]["first_call"]) == {"p50_ms", "p99_ms"}
    assert doc["graph_floor"] == {"p50_ms": 85.0, "p95_ms": 85.0}
    assert set(doc["renewal"]) == {"renew_every", "distinct_tokens", "token_requests", "graph_requests", "p50_ms",
                                   "p95_ms", "rps"}
    assert doc["cold_start"]["network_calls_at_import"] == 0


def test_first_calls_are_reported_apart_from_the_run() -> None:
    doc = document()
    assert doc["ours"]["p50_ms"] == 90.0
    assert doc["ours"]["first_call"]["p50_ms"] == 315.0
    assert 329 <= doc["ours"]["first_call"]["p99_ms"] <= 330


def test_targets_compare_token_requests_with_distinct_tokens_and_first_calls_with_the_floor() -> None:
    baseline = measured([300.0] * 40, [400.0] * 4, tokens=40)
    ours = measured([90.0] * 40, [300.0] * 4, tokens=4)
    floor = load([85.0] * 40, [])
    assert first_call_target_ms(CONFIG, floor) == 2 * (120 + 85)
    good = targets(CONFIG, baseline, ours, COLD, floor, Renewal(5, measured([95.0] * 40, [], 8, distinct=8)))
    assert met(good, "renewing users: token requests = distinct tokens") is True
    assert met(good, "first calls p99") is True
    bad = targets(CONFIG, baseline, measured([90.0] * 40, [500.0] * 4, tokens=4), COLD, floor,
                  Renewal(5, measured([95.0] * 40, [], 9, distinct=8)))
    assert met(bad, "renewing users: token requests = distinct tokens") is False
    assert met(bad, "first calls p99") is False


def met(results: list[tuple[bool, str]], prefix: str) -> bool:
    (found,) = [ok for ok, text in results if text.startswith(prefix)]
    return found


def test_the_table_names_every_figure() -> None:
    baseline = measured([300.0] * 40, [400.0] * 4, tokens=40)
    ours = measured([90.0] * 40, [300.0] * 4, tokens=4)
    text = format_table(CONFIG, baseline, ours, COLD, [], load([85.0] * 40, []),
                        Renewal(5, measured([95.0] * 40, [], 8, distinct=8)))
    assert "first call of each user, p99" in text and "token renewal every 5 requests" in text
    assert "Graph floor" in text


def test_renewing_users_switch_tokens_every_n_of_their_requests() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers["X-User-Authorization"])
        return web.Response(text="user-a user-b")

    async def scenario() -> LoadResult:
        app = web.Application()
        app.router.add_get("/p", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            return await run_load([f"http://127.0.0.1:{port}/p"],
                                  [(["a1", "a2", "a3"], "user-a"), (["b1", "b2", "b3"], "user-b")],
                                  12, 1, renew_every=2)
        finally:
            await runner.cleanup()

    result = asyncio.run(scenario())
    assert result.ok == 12 and result.distinct_tokens == 6
    assert [value.split()[1] for value in seen] == ["a1", "b1", "a1", "b1", "a2", "b2", "a2", "b2", "a3", "b3",
                                                    "a3", "b3"]
    assert len(result.first_call_ms) == 2
