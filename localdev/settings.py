"""Every `LOCALDEV_*` variable the local stand-ins read, read in one place (docs/architecture.md, "Local stand-in
settings"). The product's own settings are `function_app.settings`; the stand-ins take those from there too.

Variables name what the stack passes to its children as well, so the constants are the one spelling of each.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

LOG_LEVEL = "LOCALDEV_LOG_LEVEL"
EASYAUTH = "LOCALDEV_EASYAUTH"
EASYAUTH_JWKS_REFETCH_SECONDS = "LOCALDEV_EASYAUTH_JWKS_REFETCH_SECONDS"
SWA_PLATFORM_KEYS = "LOCALDEV_SWA_PLATFORM_KEYS"
FUNCTIONS = "LOCALDEV_FUNCTIONS"
HOST_METRICS = "LOCALDEV_HOST_METRICS"
PORTS = {"entra_port": "LOCALDEV_ENTRA_PORT", "graph_port": "LOCALDEV_GRAPH_PORT", "api_port": "LOCALDEV_API_PORT",
         "swa_port": "LOCALDEV_SWA_PORT", "linked_backend_port": "LOCALDEV_LINKED_BACKEND_PORT"}
# The product's DIAGNOSTICS_ENABLED defaults to false (Azure); the local stand-ins turn it on unless told not to.
LOCAL_DIAGNOSTICS_DEFAULT = "true"
_OFF = ("off", "0", "false", "no", "disabled")
_ON = ("on", "1", "true", "yes")


@dataclass(frozen=True)
class LocalSettings:
    log_level: str
    easyauth_on: bool
    easyauth_jwks_refetch_seconds: float
    swa_platform_keys: Path | None
    functions: str
    host_metrics: bool
    ports: dict[str, int | None]


def local_settings(environ: Mapping[str, str] | None = None) -> LocalSettings:
    env = os.environ if environ is None else environ
    keys = env.get(SWA_PLATFORM_KEYS, "").strip()
    return LocalSettings(
        log_level=env.get(LOG_LEVEL, "INFO").strip().upper() or "INFO",
        easyauth_on=env.get(EASYAUTH, "").strip().lower() not in _OFF,
        easyauth_jwks_refetch_seconds=float(env.get(EASYAUTH_JWKS_REFETCH_SECONDS, "") or 2),
        swa_platform_keys=Path(keys) if keys else None,
        functions=env.get(FUNCTIONS, "").strip() or "local",
        host_metrics=env.get(HOST_METRICS, "").strip().lower() in _ON,
        ports={key: int(env[name]) if env.get(name, "").strip() else None for key, name in PORTS.items()},
    )
