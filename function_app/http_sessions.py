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
- Warm connections (`open_idle_connections`, `open_in_parallel`): the warmup function opens
  `WARM_CONNECTIONS` kept-alive connections per origin before the instance takes traffic, so a burst of first
  requests does not queue behind as many TLS handshakes (docs/performance.md, "First calls").
"""
from __future__ import annotations

import functools
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from typing import Any, Callable, Sequence, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, should_bypass_proxies
from urllib3.exceptions import HTTPError as Urllib3Error

from .settings import Settings

POOL_CONNECTIONS = 4
WARM_UP_THREADS = 8  # handshakes in flight at once while warming up
T = TypeVar("T")


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


def open_in_parallel(openers: Sequence[Callable[[], T]], failures: tuple[type[BaseException], ...]) -> list[T]:
    """Run each opener, up to `WARM_UP_THREADS` at once, and return what the successful ones opened. Once one
    fails (the origin is down or refusing) no further opener starts: warming up must not wait out every
    connect timeout of an unreachable origin."""
    if not openers:
        return []
    failed = threading.Event()
    skipped = object()

    def guarded(opener: Callable[[], T]) -> Any:
        if failed.is_set():
            return skipped
        try:
            return opener()
        except failures:
            failed.set()
            return skipped

    with ThreadPoolExecutor(max_workers=min(len(openers), WARM_UP_THREADS),
                            thread_name_prefix="warm-connections") as pool:
        results = list(pool.map(guarded, openers))
    return [result for result in results if result is not skipped]


def open_idle_connections(session: RoutedSession, url: str, count: int, timeout: float) -> int:
    """Open up to `count` kept-alive connections to `url`'s origin in `session`'s own pool: the pool, TLS
    context and certificate checks a request to `url` would use, so later requests find them ready. Returns
    how many opened. Nothing is warmed through a proxy (the tunnel is set up per request).

    Each new connection carries one `HEAD url`: a TLS 1.3 server sends its session tickets after the
    handshake, and a connection with unread bytes looks closed by the server to the pool's liveness check,
    which would throw it away; reading an answer consumes them, as any request's answer does."""
    if count <= 0 or session.proxies_for(url):
        return 0
    request = requests.Request("HEAD", url).prepare()
    adapter = session.get_adapter(url)
    pool = adapter.get_connection_with_tls_context(request, session.verify, proxies={})
    adapter.cert_verify(pool, url, session.verify, None)  # as `send` does before each request
    target = request.path_url
    # urllib3's own check-out and check-in: connections taken out here go back to the pool they came from.
    taken = [pool._get_conn() for _ in range(count)]

    def warm(connection: Any) -> Any:
        connection.timeout = timeout
        connection.request("HEAD", target, headers={"Accept": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if (answer.headers.get("Connection") or "").lower() == "close":
            raise OSError("the server closed the connection")
        return connection

    opened = open_in_parallel([functools.partial(warm, c) for c in taken], (OSError, HTTPException, Urllib3Error))
    for connection in taken:
        if connection not in opened:
            connection.close()  # reopened on demand, like any connection the server closed
        pool._put_conn(connection)
    return len(opened)
