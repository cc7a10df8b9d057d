"""`/api/diagnostics` is anonymous, so it must not let a caller make the app fetch (function_app/diagnostics.py)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func
import pytest

import function_app
from function_app.diagnostics import CachedProbe
from tests.unit.function_app.support import FakeIdentityProvider, Reply, Transport, install_services, user_function


@pytest.fixture
def diagnostics(env: pytest.MonkeyPatch):
    env.setenv("DIAGNOSTICS_ENABLED", "true")
    idp = FakeIdentityProvider()
    graph_requests: list[str] = []

    def graph(request) -> Reply:
        graph_requests.append(request.url)
        return Reply(401, {"error": {"code": "InvalidAuthenticationToken"}})

    install_services(idp.transport, Transport(graph))
    handler = user_function(function_app.app, "diagnostics")

    def call() -> dict:
        response = handler(func.HttpRequest("GET", "http://localhost/api/diagnostics", headers={}, body=b""))
        assert response.status_code == 200
        return json.loads(response.get_body())

    return idp, graph_requests, call


def test_a_burst_of_fifty_calls_makes_at_most_two_fetches_of_each_kind(diagnostics) -> None:
    idp, graph_requests, call = diagnostics
    with ThreadPoolExecutor(max_workers=10) as pool:
        reports = list(pool.map(lambda _: call(), range(50)))
    assert all(r["jwks"]["reachable"] and r["graph"]["reachable"] for r in reports)
    # One key refresh reads the v2 and the v1 discovery documents, then the one JWKS both name.
    assert idp.discovery_calls <= 2 and idp.jwks_calls <= 2 and len(graph_requests) <= 2
    assert idp.jwks_calls == 1 and len(graph_requests) == 1


def test_warm_keys_are_never_refetched_by_diagnostics(diagnostics) -> None:
    idp, _, call = diagnostics
    call()
    before = (idp.discovery_calls, idp.jwks_calls)
    function_app.services.current().probes._keys._taken_at -= 3600  # the cached probe is long expired
    for _ in range(5):
        call()
    assert (idp.discovery_calls, idp.jwks_calls) == before


def test_a_failing_provider_is_probed_once_per_back_off(diagnostics) -> None:
    idp, _, call = diagnostics
    idp.jwks_status = 503
    reports = [call() for _ in range(50)]
    assert idp.jwks_calls == 1
    assert reports[0]["jwks"]["reachable"] is False and "503" in reports[0]["jwks"]["error"]


def test_cached_probe_recomputes_after_its_ttl() -> None:
    now = [0.0]
    results = iter([{"n": 1}, {"n": 2}])
    probe = CachedProbe(lambda: next(results), ttl_seconds=60, clock=lambda: now[0])
    assert probe.get() == {"n": 1}
    now[0] = 59.9
    assert probe.get() == {"n": 1}
    now[0] = 60.0
    assert probe.get() == {"n": 2}
