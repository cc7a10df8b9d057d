"""Request counters reported by GET /_emulator/metrics."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._token: Counter[str] = Counter()
            self._graph: Counter[str] = Counter()
            self._simple: Counter[str] = Counter()

    def record_token(self, grant_type: str) -> None:
        with self._lock:
            self._token[grant_type or "(none)"] += 1

    def record_graph(self, path: str) -> None:
        with self._lock:
            self._graph[path] += 1

    def record(self, endpoint: str) -> None:
        """`authorize`, `jwks`, `discovery` or `revoke`."""
        with self._lock:
            self._simple[endpoint] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"token": dict(self._token), "authorize": self._simple["authorize"],
                    "jwks": self._simple["jwks"], "discovery": self._simple["discovery"],
                    "revoke": self._simple["revoke"], "graph": dict(self._graph)}
