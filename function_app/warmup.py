"""The warmup function: Azure runs it when it adds an instance, before the instance takes traffic
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-warmup), and the local host runs it at
every start. It does what the first requests would otherwise do one after another under a burst: import and
build the services (the Redis client's import alone is a few hundred ms), OpenID discovery and the MSAL
application, the signing keys. Everything stays lazy too, for restarts, which Azure doesn't warm up."""
from __future__ import annotations

from typing import Any

import azure.functions as func

from . import logging_setup, services

bp = func.Blueprint()


@bp.function_name("warmup")
@bp.warm_up_trigger("warmup_context")
def warmup(warmup_context: Any) -> None:
    with logging_setup.correlation_scope():
        services.warm_up()
