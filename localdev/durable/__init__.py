"""Local Durable Functions runtime: SQLite history, the SDK's own replay, the out-of-process HTTP API."""
from .runtime import DurableRuntime

__all__ = ["DurableRuntime"]
