"""MSAL applications for the API app: built lazily (never at import), sharing one HTTP client and one
discovery cache, all declaring the client capability CP1.

- `exchanger()`: the one application every interactive On-Behalf-Of exchange goes through. It keeps no
  tokens (`_KeepNothing`): results are cached by `OboClient` under the caller's token, and MSAL's own cache
  key ignores the assertion, so anything it kept could serve another caller. It also asks for no refresh
  token (`offline_access` excluded): interactive requests never need one.
- `session_app(cache)`: an application bound to one long-running session's token cache (access and
  refresh token), built per use; construction costs ~0.2 ms and no network I/O.

CP1 tells Entra ID the app handles continuous access evaluation claims challenges, so Graph tokens become
CAE tokens that Graph can revoke mid-life with a 401 `insufficient_claims`
(https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation).
`instance_discovery=False` for authorities that are not Microsoft clouds (the local emulator); MSAL requires
an https authority either way.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Sequence

import msal
import requests
from msal.exceptions import MsalServiceError

from ..errors import ApiError, IdentityUnavailable
from ..http_sessions import RoutedSession, open_idle_connections
from ..logging_setup import log_event
from ..settings import Settings
from ..credentials import msal_client_credential
from .aadsts import aadsts_codes, map_msal_error
from .msal_http import MSAL_TIMEOUT, ResponseRecorder, msal_session

CLIENT_CAPABILITIES = ("CP1",)
# What MSAL raises for network failures, 5xx (raise_for_status) and non-JSON responses.
TRANSPORT_ERRORS = (requests.RequestException, MsalServiceError, ValueError)


def exchange_on_behalf_of(app: msal.ConfidentialClientApplication, http: ResponseRecorder, settings: Settings,
                          assertion: str, scopes: Sequence[str], *, event: str, user: str) -> dict[str, Any]:
    """One On-Behalf-Of exchange: MSAL's successful result, or the mapped error raised; one log line either way."""
    http.reset()
    started = time.perf_counter()
    try:
        result = app.acquire_token_on_behalf_of(assertion, list(scopes))
    except ApiError:
        raise  # from the managed identity's client assertion
    except TRANSPORT_ERRORS:
        raise IdentityUnavailable("The identity provider is unavailable.", retry_after=http.retry_after) from None
    codes = aadsts_codes(result)
    log_event(event, user=user, status=http.status, ok="access_token" in result, error=result.get("error"),
              aadsts=codes[0] if codes else None, duration_ms=round((time.perf_counter() - started) * 1000, 1))
    if "access_token" not in result:
        raise map_msal_error(result, settings, status=http.status, retry_after=http.retry_after)
    return result


class _KeepNothing(msal.TokenCache):
    """A token cache that stores nothing (MSAL writes every result into its application's cache)."""

    def add(self, event: dict[str, Any], now: Any = None) -> None:  # noqa: ARG002 - the point is to drop it
        return None


class MsalApps:
    def __init__(self, settings: Settings, *, session: requests.Session | None = None) -> None:
        self._settings = settings
        self._session = session
        self._lock = threading.Lock()
        self._shared: Any = None  # MSAL's throttled HTTP client holding the discovery documents
        self._http: requests.Session | None = None  # the session under it
        self._credential: Any = None
        self._exchanger: tuple[msal.ConfidentialClientApplication, ResponseRecorder] | None = None

    def warm_up(self) -> None:
        """Discovery (one round trip) and the exchanger, so the first user doesn't pay for them."""
        self.exchanger()

    def open_connections(self, count: int) -> int:
        """Open up to `count` connections to the token endpoint's origin ahead of traffic; how many opened."""
        self._shared_client()
        if not isinstance(self._http, RoutedSession):
            return 0  # a caller's own session (tests) connects on demand
        return open_idle_connections(self._http, self._settings.authority, count, MSAL_TIMEOUT[0])

    def exchanger(self) -> tuple[msal.ConfidentialClientApplication, ResponseRecorder]:
        if self._exchanger is None:
            shared = self._shared_client()
            with self._lock:
                if self._exchanger is None:
                    self._exchanger = self._build(_KeepNothing(), shared, exclude_scopes=["offline_access"])
        return self._exchanger

    def session_app(self, cache: msal.SerializableTokenCache
                    ) -> tuple[msal.ConfidentialClientApplication, ResponseRecorder]:
        return self._build(cache, self._shared_client())

    def _shared_client(self) -> Any:
        if self._shared is not None:
            return self._shared
        with self._lock:
            if self._shared is None:
                session = self._session or msal_session(self._settings)
                self._http = session
                self._credential = msal_client_credential(self._settings, self._session)
                try:
                    first = self._application(_KeepNothing(), session, http_cache={})
                except TRANSPORT_ERRORS as exc:
                    # Discovery failed: nothing is kept, the next call retries.
                    log_event("msal_discovery_failed", logging.WARNING, error=type(exc).__name__)
                    raise IdentityUnavailable("The identity provider's metadata is unavailable.") from None
                self._shared = first.http_client
        return self._shared

    def _build(self, cache: msal.TokenCache, shared: Any, **options: Any
               ) -> tuple[msal.ConfidentialClientApplication, ResponseRecorder]:
        recorder = ResponseRecorder(shared).reset()
        try:
            app = self._application(cache, recorder, **options)
        except TRANSPORT_ERRORS:
            # Only possible when the discovery entries fell out of the shared cache and the refetch failed.
            raise IdentityUnavailable("The identity provider's metadata is unavailable.",
                                      retry_after=recorder.retry_after) from None
        return app, recorder

    def _application(self, cache: msal.TokenCache, http_client: Any, *, http_cache: dict[str, Any] | None = None,
                     exclude_scopes: list[str] | None = None) -> msal.ConfidentialClientApplication:
        # Only the first application owns `http_cache`; the others reach it through the shared client, whose lock
        # guards it (MSAL's expiring mapping is not safe to share between clients with different locks).
        settings = self._settings
        return msal.ConfidentialClientApplication(
            settings.api_client_id,
            client_credential=self._credential,
            authority=settings.authority,
            token_cache=cache,
            http_client=http_client,
            http_cache=http_cache,
            instance_discovery=None if settings.is_microsoft_authority else False,
            client_capabilities=list(CLIENT_CAPABILITIES),
            exclude_scopes=exclude_scopes,
            enable_pii_log=False,
        )
