"""The HTTP layer under MSAL: one pooled session for every MSAL application of the process, with timeouts,
the local CA rule, and a per-thread record of the last response's status.

MSAL turns token-endpoint responses into dicts without the HTTP status, which decides between
`identity_unavailable` (429/5xx, retry later) and a permanent error; `ResponseRecorder` keeps it.
"""
from __future__ import annotations

import threading
from typing import Any

import requests

from ..http_sessions import RoutedSession, tls_session
from ..settings import Settings

MSAL_TIMEOUT = (3.05, 10.0)
POOL_MAXSIZE = 32


class TimeoutSession(RoutedSession):
    """requests has no session-wide timeout; MSAL calls `post`/`get` without one."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", MSAL_TIMEOUT)
        return super().request(method, url, **kwargs)


def msal_session(settings: Settings) -> requests.Session:
    """The session MSAL's applications share (trust store and TLS context: `http_sessions`)."""
    return tls_session(settings, pool_maxsize=POOL_MAXSIZE, session=TimeoutSession())


class ResponseRecorder:
    """An MSAL `http_client` that delegates to a shared one and remembers, per thread, the last response's
    status and Retry-After since `reset()`."""

    def __init__(self, shared: Any) -> None:
        self._shared = shared
        self._state = threading.local()

    def reset(self) -> "ResponseRecorder":
        self._state.status = None
        self._state.retry_after = None
        return self

    @property
    def status(self) -> int | None:
        return getattr(self._state, "status", None)

    @property
    def retry_after(self) -> float | None:
        return getattr(self._state, "retry_after", None)

    def _note(self, response: Any) -> Any:
        state = self._state
        state.status = getattr(response, "status_code", None)
        headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
        try:
            state.retry_after = float(headers["retry-after"])
        except (KeyError, ValueError, TypeError):
            state.retry_after = None
        return response

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self._note(self._shared.post(*args, **kwargs))

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._note(self._shared.get(*args, **kwargs))

    def close(self) -> None:  # the shared client outlives every application
        pass
