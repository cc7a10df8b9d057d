"""Apply an injected fault to an Entra endpoint request: wait `latency_ms`, then (if the fault has a
status or an AADSTS code) answer with Entra's error envelope instead of the real response."""
from __future__ import annotations

import asyncio

from aiohttp import web

from localdev.emulator.entra.errors import CATALOG, OAuthError
from localdev.emulator.faults import Fault
from localdev.emulator.state import EmulatorState

TRANSIENT = 90033


async def take_fault(state: EmulatorState, endpoint: str, request: web.Request) -> Fault | None:
    fault = state.faults.take(endpoint, request.path)
    if fault is not None and fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    return fault


def fault_to_error(fault: Fault) -> tuple[OAuthError, dict[str, str]] | None:
    if fault.status is None and fault.aadsts is None:
        return None  # latency only
    code = fault.aadsts or TRANSIENT
    entry = CATALOG.get(code)
    status = fault.status or (entry.status if entry else 400)
    error = None
    if fault.aadsts is None:
        error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
    err = OAuthError(code, error=error, status=status)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return err, headers


async def fault_error(state: EmulatorState, endpoint: str,
                      request: web.Request) -> tuple[OAuthError, dict[str, str]] | None:
    fault = await take_fault(state, endpoint, request)
    return fault_to_error(fault) if fault else None
