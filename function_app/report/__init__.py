"""Durable profile report: HTTP starter/status, orchestrator, activities and the retention purge on one blueprint.

`from function_app.report import bp; app.register_functions(bp)`.
"""
from . import activities, http_api, orchestrator, retention  # noqa: F401  (decorators register on bp)
from .blueprint import bp

__all__ = ["bp"]
