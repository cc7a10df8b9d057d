"""Connects the host to `localdev.durable.DurableRuntime` when the app has durable functions.

The runtime serves the Durable out-of-process HTTP API (under /runtime/webhooks/durabletask/) that the SDK's
client calls, and runs orchestrators and activities. The host only adds its routes, passes its client binding
JSON to every `durableClient` input binding, and starts/stops it with the server.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from aiohttp import web

log = logging.getLogger("localdev.host")

RUNTIME_MODULE = "localdev.durable"


@dataclass
class DurableHook:
    runtime: Any

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return list(self.runtime.routes())

    def binding_value(self, binding_type: str) -> Any:
        if binding_type != "durableClient":
            raise RuntimeError(f"the local host has no value for {binding_type} input bindings")
        return self.runtime.client_binding_data()

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()


def create_durable_hook(functions: list[Any], *, state_dir: Path, base_url: str, task_hub: str,
                        module_name: str = RUNTIME_MODULE) -> DurableHook | None:
    """The hook, or None (with a log line saying why) when no durable runtime is available."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the runtime exists but is broken: say so instead of quietly running without it
        log.warning("the app has durable functions but %s is not installed: durable endpoints are not "
                    "served", module_name)
        return None
    runtime_class = getattr(module, "DurableRuntime", None)
    if runtime_class is None:
        log.warning("%s has no DurableRuntime: durable endpoints are not served", module_name)
        return None
    state_dir.mkdir(parents=True, exist_ok=True)
    runtime = runtime_class(functions, state_dir=state_dir, base_url=base_url, task_hub=task_hub)
    log.info("durable runtime on (task hub %s, state in %s)", task_hub, state_dir)
    return DurableHook(runtime)
