"""Scrub credentials from failure text before the runner persists or logs it."""
from __future__ import annotations

import re

# Defence in depth for failure text, which is persisted in history: an exception message that quotes a
# bearer token or JWT must not carry it into SQLite or the log.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _JWT.sub("[redacted]", text))
