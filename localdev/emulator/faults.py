"""Injected failures for the token, authorize, jwks, discovery and graph endpoints.

A fault applies to a request of its endpoint when it has no `path`, or when its `path` is a
substring of the request path (so "/v1.0/me" also matches "/v1.0/me/photo/$value"; use a longer
path to be specific). The oldest matching fault wins. Each hit uses up one of its `count`; a fault
with `count` null (or below 1) never runs out until it is deleted or the emulator is reset.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

ENDPOINTS = ("token", "authorize", "jwks", "discovery", "graph")


class FaultSpecError(ValueError):
    """The admin API was given a fault it cannot apply."""


@dataclass
class Fault:
    endpoint: str
    path: str | None = None
    status: int | None = None
    aadsts: int | None = None
    latency_ms: int = 0
    retry_after: int | None = None
    count: int | None = 1  # remaining hits; None = unlimited

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(body: dict[str, Any]) -> Fault:
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise FaultSpecError(f"endpoint must be one of {', '.join(ENDPOINTS)}")

    def optional_int(name: str) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultSpecError(f"{name} must be an integer")
        return value

    status = optional_int("status")
    if status is not None and not 100 <= status <= 599:
        raise FaultSpecError("status must be an HTTP status code")
    count = optional_int("count") if "count" in body else 1
    path = body.get("path")
    if path is not None and not isinstance(path, str):
        raise FaultSpecError("path must be a string")
    return Fault(endpoint=endpoint, path=path or None, status=status, aadsts=optional_int("aadsts"),
                 latency_ms=max(0, optional_int("latency_ms") or 0), retry_after=optional_int("retry_after"),
                 count=count if count is not None and count > 0 else None)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return [Fault(**f.as_dict()) for f in self._faults]

    def take(self, endpoint: str, path: str) -> Fault | None:
        """The first fault that matches this request, with one hit used up; None if none matches."""
        if not self._faults:  # hot path: no lock when nothing is injected
            return None
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == endpoint and (fault.path is None or fault.path in path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return Fault(**fault.as_dict())
        return None
