"""HTTP sessions for outbound calls to Entra ID and Graph: one verifying TLS context per trust store.

- `trust_env = False`: requests lets the REQUESTS_CA_BUNDLE environment variable override `Session.verify`
  (docs/architecture.md, "Platform facts"), so the configured CA_BUNDLE (the local CA) or the default trust
  store decides, whatever the machine sets globally.
- Proxies come from the settings (`HTTPS_PROXY`, `NO_PROXY`), not from requests' reading of the environment,
  which `trust_env = False` turns off along with REQUESTS_CA_BUNDLE. HTTPS goes through the proxy as a CONNECT
  tunnel, and the TLS inside it is verified against the same trust store.
- One `ssl.SSLContext` per trust store, built once per process and shared by every connection. Building
  one loads every trusted certificate: about 25 ms of CPU for certifi's bundle and 45 ms for the system
  store, measured here. requests and urllib3 otherwise do that for each new connection, and a burst of
  first requests opens a new connection per request to the token endpoint and to Graph.
"""
from __future__ import annotations

import functools
import ssl
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, should_bypass_proxies

from .settings import Settings

POOL_CONNECTIONS = 4


@functools.lru_cache(maxsize=8)
def client_tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying client context (certificate and host name checks on) trusting `ca_bundle`, else certifi's
    bundle (what requests trusts by default)."""
    return ssl.create_default_context(cafile=ca_bundle or DEFAULT_CA_BUNDLE_PATH)


class SharedContextAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections all use one prebuilt TLS context."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if url.lower().startswith("https"):
            # The context already trusts the right CAs: naming a file here would make urllib3 load it again
            # into the shared context for every new connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None


class RoutedSession(requests.Session):
    """A session that picks each request's proxy from the settings (`HTTPS_PROXY` unless `NO_PROXY` matches)."""

    https_proxy: str | None = None
    no_proxy: str | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["proxies"] = self.proxies_for(request.url or "")
        return super().send(request, **kwargs)

    def proxies_for(self, url: str) -> dict[str, str]:
        if not self.https_proxy or should_bypass_proxies(url, no_proxy=self.no_proxy or ""):
            return {}
        return {"https": self.https_proxy, "http": self.https_proxy}


def tls_session(settings: Settings, *, pool_maxsize: int = 10, session: RoutedSession | None = None
                ) -> RoutedSession:
    """A session (a new one, or `session` configured in place) for Entra ID and Graph."""
    session = session or RoutedSession()
    session.trust_env = False
    session.https_proxy = settings.https_proxy
    session.no_proxy = settings.no_proxy
    session.verify = True  # against the shared context's trust store, never the environment's
    session.mount("https://", SharedContextAdapter(client_tls_context(settings.ca_bundle),
                                                   pool_connections=POOL_CONNECTIONS, pool_maxsize=pool_maxsize,
                                                   max_retries=0))
    return session
