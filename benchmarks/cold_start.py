"""Cold start: how long `import main` takes in a fresh interpreter, against the app's dependencies alone.

Each measurement runs in a new interpreter (bytecode already compiled, as on a warm deployment) that
first patches the socket layer to count connection attempts and name lookups, then imports and times.
Runs of the two kinds alternate and the best of each is reported (as `timeit` does): on a shared
machine the minimum is the figure least disturbed by other processes. `import main` must make no network call: MSAL construction,
discovery and JWKS fetches belong to the first request, not to the worker's indexing of the app.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The runtime dependencies the app's entry file may pull in (requirements.txt, by import name).
DEPENDENCIES = ("azure.functions", "azure.durable_functions", "msal", "requests", "jwt", "cryptography")

_PROBE = r"""
import json, socket, sys, time
calls = []
_connect, _connect_ex, _create, _getaddrinfo = (socket.socket.connect, socket.socket.connect_ex,
                                                socket.create_connection, socket.getaddrinfo)
def connect(self, address, *a, **k):
    calls.append(["connect", repr(address)]); return _connect(self, address, *a, **k)
def connect_ex(self, address, *a, **k):
    calls.append(["connect", repr(address)]); return _connect_ex(self, address, *a, **k)
def create_connection(address, *a, **k):
    calls.append(["create_connection", repr(address)]); return _create(address, *a, **k)
def getaddrinfo(host, *a, **k):
    calls.append(["getaddrinfo", repr(host)]); return _getaddrinfo(host, *a, **k)
socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo
modules = json.loads(sys.argv[1])
started = time.perf_counter()
for name in modules:
    __import__(name)
elapsed = (time.perf_counter() - started) * 1000.0
third_party = sorted({m.split(".")[0] for m, mod in list(sys.modules.items())
                      if getattr(mod, "__file__", None) and "site-packages" in (mod.__file__ or "")})
print(json.dumps({"ms": elapsed, "calls": calls, "third_party": third_party}))
"""


@dataclass
class ColdStart:
    import_ms: float
    deps_import_ms: float
    network_calls_at_import: int
    network_call_detail: list[list[str]]
    third_party_loaded: list[str]
    app_modules_self_ms: float  # the app's own modules, excluding what they import (-X importtime)

    @property
    def app_overhead_ms(self) -> float:
        return self.import_ms - self.deps_import_ms


def _probe(modules: list[str], env: dict[str, str], *flags: str) -> dict:
    completed = subprocess.run([sys.executable, *flags, "-c", _PROBE, json.dumps(modules)], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
    if completed.returncode != 0:
        raise RuntimeError(f"importing {modules} failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["stderr"] = completed.stderr
    return result


def _app_self_ms(importtime_log: str) -> float:
    """Sum of the self times `-X importtime` reports for `main` and `function_app.*` modules."""
    total_us = 0
    for line in importtime_log.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if self_us.isdigit() and (name == "main" or name.split(".")[0] == "function_app"):
            total_us += int(self_us)
    return total_us / 1000.0


def measure(env: dict[str, str], runs: int = 15) -> ColdStart:
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # timed runs load compiled bytecode, as a deployed app does
    _probe(["main"], env)  # compile bytecode once so every timed run starts equally warm on disk
    app_runs, dep_runs = [], []
    for _ in range(runs):
        app_runs.append(_probe(["main"], env))
        dep_runs.append(_probe(list(DEPENDENCIES), env))
    calls = max((r["calls"] for r in app_runs), key=len)
    self_ms = min(_app_self_ms(_probe(["main"], env, "-X", "importtime")["stderr"]) for _ in range(3))
    return ColdStart(
        import_ms=min(r["ms"] for r in app_runs),
        deps_import_ms=min(r["ms"] for r in dep_runs),
        network_calls_at_import=len(calls),
        network_call_detail=calls,
        third_party_loaded=app_runs[-1]["third_party"],
        app_modules_self_ms=self_ms,
    )
