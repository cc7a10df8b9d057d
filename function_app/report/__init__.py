"""Durable profile report: HTTP starter/status, orchestrator and activities on one blueprint.

`from function_app.report import bp; app.register_functions(bp)`.
"""
from . import activities, http_api, orchestrator  # noqa: F401  (decorators register on bp)
from .blueprint import bp

__all__ = ["bp"]
