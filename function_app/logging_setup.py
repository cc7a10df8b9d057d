"""Structured logging, request correlation ids and token redaction.

Log lines are `event=<name> key=value ...` so they stay greppable in Application Insights traces.
Redaction is defence in depth: the code never logs tokens, secrets or client_info, and a log record
factory additionally blanks anything the rules of `redaction.py` recognise (JWTs, JWEs, bearer tokens,
credential parameters and settings, URL passwords) in every record, including records from libraries
(MSAL, urllib3) and exception text.

A caller's correlation id (`x-correlation-id`, `x-ms-client-request-id`) is adopted only when it is a GUID
(normalised to its lower-case hyphenated form) or a short token of characters that need no quoting in a log
line or a header (`[A-Za-z0-9._-]`, at most 64) that the redaction rules leave alone where it is logged (an id
such as `Bearer` would blank the field after it); anything else gets a fresh GUID.

An id holds for one invocation only (`correlation_scope`): the worker runs invocations one after another on
the same pool threads, and an id left behind would put the next non-HTTP invocation's lines (an activity, the
warmup, a timer) under another caller's request.
"""
from __future__ import annotations

import contextvars
import logging
import re
import uuid
from typing import Any, Mapping

from .redaction import REDACTED, redact  # noqa: F401  (re-exported: callers redact through this module too)

logger = logging.getLogger("function_app")

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_SAFE_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
CORRELATION_HEADERS = ("x-correlation-id", "x-ms-client-request-id")


def correlation_id() -> str:
    """The current invocation's correlation id (a fresh one, for this line only, outside any scope)."""
    return _correlation_id.get() or str(uuid.uuid4())


class correlation_scope:  # noqa: N801 - used like a function: `with correlation_scope(...) as cid:`
    """Lines logged inside carry `value` (a fresh GUID by default); on exit the id before is back, so nothing
    logged later on this thread or task is attributed to this invocation. A class, not a generator-based context
    manager: it wraps every request, and costs 0.4 us instead of 1 us."""
    __slots__ = ("_value", "_token")

    def __init__(self, value: str | None = None) -> None:
        self._value = value or str(uuid.uuid4())

    def __enter__(self) -> str:
        self._token = _correlation_id.set(self._value)
        return self._value

    def __exit__(self, *exc_info: object) -> None:
        _correlation_id.reset(self._token)


def accepted_correlation_id(candidate: str) -> str | None:
    """The caller's id as we will use it, or None when it is not a GUID or a short token of safe characters
    that redaction leaves unchanged in a log line."""
    if _GUID_RE.fullmatch(candidate):
        return str(uuid.UUID(candidate))
    if _SAFE_ID_RE.fullmatch(candidate) and _logs_verbatim(candidate):
        return candidate
    return None


def _logs_verbatim(candidate: str) -> bool:
    # As `log_event` writes it, with a field after it: `Bearer` or `client_secret` would blank that field.
    line = f"correlation_id={candidate} next=1"
    return redact(line) == line


def request_correlation_id(headers: Mapping[str, str]) -> str:
    """The caller's correlation id when it is acceptable (`accepted_correlation_id`), else a fresh GUID."""
    for name in CORRELATION_HEADERS:
        value = accepted_correlation_id(headers.get(name) or "")
        if value is not None:
            return value
    return str(uuid.uuid4())


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line: `event=... correlation_id=... k=v`. Callers pass only non-secret fields."""
    if not logger.isEnabledFor(level):
        return  # nothing is built for a level nobody records
    parts = [f"event={_fmt(event)}", f"correlation_id={correlation_id()}"]
    parts += [f"{key}={_fmt(value)}" for key, value in fields.items() if value is not None]
    logger.log(level, " ".join(parts))


def install_redaction() -> None:
    """Wrap the log record factory so every record's message and exception text are redacted (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacting", False):
        return
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed library format string must not break logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
