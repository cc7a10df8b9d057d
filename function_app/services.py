"""The composition root: the one place that builds the process's services from `Settings`.

Built lazily on first use, once per process (MSAL and the JWKS cache do network I/O when first used, never
at import). A failure to build (a misconfigured setting) is not remembered: every request reports it until
the settings are fixed. Tests build their own `Services` and `install` them, or `reset()` after changing
the environment.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import requests

from .auth.jwks import JwksCache, discovery_urls, requests_fetcher
from .auth.request import AuthenticatedRequest, authenticate_headers
from .auth.validate import TokenValidator
from .diagnostics import DiagnosticProbes
from .errors import ApiError
from .graph import GraphClient
from .graph_access import CallerTokens, DelegatedGraph, SessionTokens
from .http_sessions import tls_session
from .logging_setup import log_event
from .obo import LongRunningSessions, MsalApps, OboClient
from .settings import Settings, load_environment
from .token_cache.factory import build_token_store
from .token_cache.store import TokenStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    validator: TokenValidator
    store: TokenStore
    obo: OboClient
    sessions: LongRunningSessions
    graph: GraphClient           # interactive requests: retries within the request's time budget
    step_graph: GraphClient      # the report's activities: one attempt, the orchestration retries
    delegated_graph: DelegatedGraph
    probes: DiagnosticProbes

    @classmethod
    def build(cls, settings: Settings, *, identity_http: requests.Session | None = None,
              graph_http: requests.Session | None = None, graph_sleep: Callable[[float], None] | None = None,
              store: TokenStore | None = None) -> "Services":
        """Everything from `settings`; the keyword arguments replace a part (tests point them at fakes)."""
        jwks = JwksCache(discovery_urls(settings.authority_host, settings.tenant_id),
                         requests_fetcher(identity_http or tls_session(settings)))
        store = store if store is not None else build_token_store(settings)
        apps = MsalApps(settings, session=identity_http)
        obo = OboClient(settings, store, apps)
        graph = GraphClient(settings, session=graph_http, **({"sleep": graph_sleep} if graph_sleep else {}))
        return cls(settings=settings, validator=TokenValidator(settings, jwks), store=store, obo=obo,
                   sessions=LongRunningSessions(settings, store, apps), graph=graph, step_graph=graph.with_budget(0),
                   delegated_graph=DelegatedGraph(), probes=DiagnosticProbes(jwks, graph))

    def warm_up(self) -> None:
        """What a first request would otherwise initialise, so it doesn't: OpenID discovery and the exchanging MSAL
        application, the signing keys, and `WARM_CONNECTIONS` connections each to the token endpoint and to
        Graph. A failed step is logged; the request that needs it retries it."""
        for step, call in (("msal", self.obo.warm_up), ("jwks", self.validator.jwks.warm)):
            try:
                call()
            except ApiError as error:
                log_event("warmup_step_failed", logging.WARNING, step=step, code=error.code)
        wanted = self.settings.warm_connections
        if wanted:
            try:
                opened = {"identity": self.obo.open_connections(wanted), "graph": self.graph.open_connections(wanted)}
            except ApiError as error:
                log_event("warmup_step_failed", logging.WARNING, step="connections", code=error.code)
                return
            log_event("warmup_connections", logging.INFO if min(opened.values()) == wanted else logging.WARNING,
                      wanted=wanted, **opened)

    def authenticate(self, headers: Mapping[str, str]) -> AuthenticatedRequest:
        """Who is calling: the one bearer token in `headers`, validated (raises the API's auth errors)."""
        return authenticate_headers(headers, self.settings, self.validator)

    def caller_tokens(self, caller: AuthenticatedRequest) -> CallerTokens:
        return CallerTokens(self.obo, caller)

    def session_tokens(self, session_id: str, scopes: Sequence[str]) -> SessionTokens:
        return SessionTokens(self.sessions, session_id, scopes)


_lock = threading.Lock()
_current: Services | None = None


def current() -> Services:
    """The process's services, built from the environment on first use."""
    global _current
    services = _current
    if services is None:
        with _lock:
            if _current is None:
                _current = Services.build(load_environment())
            services = _current
    return services


def warm_up() -> None:
    """Build the services and warm them up (the warmup function's work); never raises."""
    try:
        services = current()
    except ApiError as error:
        log_event("warmup_skipped", logging.WARNING, code=error.code, setting=getattr(error, "setting", None))
        return
    services.warm_up()


def install(services: Services | None) -> None:
    """Use `services` from now on (None: build again from the environment on next use)."""
    global _current
    with _lock:
        _current = services


def reset() -> None:
    install(None)
