"""What the durable runner's HTTP API and its runtime share: where the API lives, and the one error the
runtime reports to it (an instance id that is already taken)."""
from __future__ import annotations

WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"


class InstanceExists(Exception):
    """`start` with an id that names an instance which is still running."""
