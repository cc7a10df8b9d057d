"""Microsoft Graph client: pooled connections, timeouts, and retries inside a total time budget.

Retries only where Graph says a retry can help (429, 503, 504; connection failures and timeouts),
honouring `Retry-After`, and never past the budget: a user waits at most ~8 s before getting a clear
`graph_throttled` (429) or `graph_unavailable` (503) problem with its own Retry-After. `with_budget(0)` is the
same client making one attempt per call: the report's activities use it, because there the retry belongs to
the orchestration (durable timers, visible in the history), and two nested retry loops would multiply the
attempts. Every Graph answer maps onto the API's errors here, for both.
Every call carries a fresh `client-request-id`, logged next to the request's correlation id so a
Graph support case can be matched to our logs.

Requests travel over `graph_http.PooledGraphTransport` (kept-alive `http.client` connections to Graph's
origin, TLS verified against the configured trust store, proxies from the settings; why: that module's
docstring), or through a requests session when one is passed in (or an https:// proxy needs one). Each
request URL, query included, is encoded once and kept; a call adds the caller's token and a new request id.
Redirects are never followed: the user's token goes to Graph's origin only, and nextLinks must stay there.
"""
from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

from urllib.parse import urlencode

import requests

from .errors import (ApiError, ConsentRequired, GraphThrottled, GraphUnavailable, InteractionRequired, NotFound,
                     PhotoNotFound)
from .graph_http import (GraphResponse, GraphTransportError, PooledGraphTransport, RequestsGraphTransport,
                         needs_requests)
from .logging_setup import log_event
from .http_sessions import tls_session
from .settings import Settings

PROFILE_FIELDS = ("id", "displayName", "givenName", "surname", "userPrincipalName", "mail", "jobTitle",
                  "officeLocation", "businessPhones", "mobilePhone", "preferredLanguage")
RETRY_STATUSES = frozenset({429, 503, 504})
DEFAULT_BUDGET_SECONDS = 8.0
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 4
MAX_PHOTO_BYTES = 4 * 1024 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_USER_SEGMENT_RE = re.compile(r"/users/[^/]+")
MAX_KNOWN_URLS = 64
POOL_MAXSIZE = 32


@dataclass(frozen=True)
class _Target:
    """A request URL with its query encoded, and the path that logs may show."""

    url: str
    log_path: str


class GraphTokenRejected(GraphUnavailable):
    """Graph answered 401 without a claims challenge: the token is unusable (the caller forgets it and retries
    once with a fresh one)."""


@dataclass(frozen=True)
class Photo:
    content: bytes
    content_type: str


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: Graph sends seconds; fall back to our backoff


class GraphClient:
    def __init__(self, settings: Settings, *, session: requests.Session | None = None,
                 budget_seconds: float = DEFAULT_BUDGET_SECONDS,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._base = settings.graph_base_url
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(self._base))
        self._budget = budget_seconds
        self._sleep = sleep
        self._clock = clock
        # REQUESTS_CA_BUNDLE must not override the trust store (docs/architecture.md, "Platform facts"): neither
        # transport reads the environment.
        if session is None and needs_requests(settings):
            session = tls_session(settings, pool_maxsize=POOL_MAXSIZE)
        self._transport: PooledGraphTransport | RequestsGraphTransport = (
            RequestsGraphTransport(session) if session is not None
            else PooledGraphTransport(settings, max_idle=POOL_MAXSIZE))
        self._targets: dict[tuple[Any, ...], _Target] = {}
        self._targets_lock = threading.Lock()
        self._base_path = urlsplit(self._base).path.rstrip("/") + "/"

    def with_budget(self, seconds: float) -> "GraphClient":
        """This client with another retry budget (0: one attempt, with the usual timeouts); shares the connections."""
        other = object.__new__(GraphClient)
        other.__dict__.update(self.__dict__)
        other._budget = seconds
        return other

    @property
    def transport(self) -> PooledGraphTransport | RequestsGraphTransport:
        """The pooled connections to Graph (`with_budget` copies share them)."""
        return self._transport

    def open_connections(self, count: int) -> int:
        """Open up to `count` connections to Graph ahead of traffic (the warmup function); how many opened."""
        return self._transport.open_idle(count, CONNECT_TIMEOUT)

    # -- profile API -------------------------------------------------------------------------------------

    def me(self, token: str) -> dict[str, Any]:
        body = self.get_json(token, "/me", params={"$select": ",".join(PROFILE_FIELDS)})
        body.pop("@odata.context", None)
        return body

    def photo(self, token: str) -> Photo:
        response = self._request(token, "/me/photo/$value", not_found=PhotoNotFound("The user has no profile photo."),
                                 accept="image/*")
        content_type = response.headers.get("Content-Type", "image/jpeg").split(";")[0].strip().lower()
        # Raster types only: an SVG (or any other type) could carry script, so it is treated like a
        # malformed Graph answer instead of being passed to the browser.
        if content_type not in PHOTO_TYPES:
            raise GraphUnavailable("Microsoft Graph returned a malformed response.")
        if len(response.content) > MAX_PHOTO_BYTES:
            raise GraphUnavailable("Microsoft Graph returned an oversized photo.")
        return Photo(response.content, content_type)

    def get_json(self, token: str, path_or_url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET a Graph resource (path relative to GRAPH_BASE_URL, or an `@odata.nextLink`) as a JSON object."""
        response = self._request(token, path_or_url, params=params,
                                 not_found=NotFound("Microsoft Graph has no such resource."))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphUnavailable("Microsoft Graph returned a malformed response.")
        return body

    def iter_pages(self, token: str, path: str, params: Mapping[str, str] | None = None,
                   max_pages: int = 50) -> Iterator[dict[str, Any]]:
        """Yield items of a paged collection, following `@odata.nextLink` (bounded)."""
        url: str | None = path
        for _ in range(max_pages):
            if url is None:
                return
            page = self.get_json(token, url, params=params if url == path else None)
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            next_link = page.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) else None

    def probe(self) -> dict[str, Any]:
        """Reachability for diagnostics: any HTTP answer from the Graph host counts as reachable."""
        started = time.perf_counter()
        try:
            response = self._transport.get(self._base + "/", {"Accept": "application/json"}, (CONNECT_TIMEOUT, 5.0))
        except GraphTransportError as exc:
            return {"reachable": False, "error": exc.kind}
        return {"reachable": True, "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1)}

    # -- transport ---------------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith("https://"):
            # nextLinks must stay on the Graph host, under its base path: never send the user's token elsewhere.
            if not is_graph_link(path_or_url, self._origin, self._base_path):
                raise GraphUnavailable("Microsoft Graph returned a link outside Microsoft Graph.")
            return path_or_url
        return self._base + "/" + path_or_url.lstrip("/")

    def _target(self, url: str, params: Mapping[str, str] | None) -> _Target:
        key = (url, tuple(params.items()) if params else None)
        try:
            target = self._targets.get(key)
        except TypeError:  # e.g. a list as a query value: encoded per call
            return _Target(url + "?" + urlencode(params or {}, doseq=True), self._log_path(url))
        if target is None:
            full = url + ("?" + urlencode(params, doseq=True) if params else "")
            target = _Target(full, self._log_path(url))
            with self._targets_lock:
                if len(self._targets) >= MAX_KNOWN_URLS:
                    self._targets.clear()  # nextLinks make new URLs; the hot ones come back at once
                self._targets[key] = target
        return target

    def _log_path(self, url: str) -> str:
        return _USER_SEGMENT_RE.sub("/users/{id}", urlsplit(url).path)  # logs carry no user names

    def _request(self, token: str, path_or_url: str, *, not_found: ApiError,
                 params: Mapping[str, str] | None = None, accept: str = "application/json") -> GraphResponse:
        target = self._target(self._url(path_or_url), params)
        path = target.log_path
        deadline = self._clock() + self._budget
        last_retry_after: float | None = None
        last_status: int | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request_id = str(uuid.uuid4())
            remaining = deadline - self._clock()
            started = time.perf_counter()
            read_timeout = READ_TIMEOUT if self._budget <= 0 else max(0.5, min(READ_TIMEOUT, remaining))
            headers = {"Authorization": f"Bearer {token}", "Accept": accept, "client-request-id": request_id,
                       "return-client-request-id": "true"}
            try:
                response = self._transport.get(target.url, headers, (CONNECT_TIMEOUT, read_timeout))
            except GraphTransportError as exc:
                log_event("graph_call", logging.WARNING, path=path, attempt=attempt, client_request_id=request_id,
                          error=exc.kind, duration_ms=round((time.perf_counter() - started) * 1000, 1))
                last_status, last_retry_after = None, None
                if self._wait_before_retry(attempt, None, deadline):
                    continue
                raise GraphUnavailable("Microsoft Graph did not answer in time.") from None

            status = response.status_code
            log_event("graph_call", path=path, attempt=attempt, status=status, client_request_id=request_id,
                      duration_ms=round((time.perf_counter() - started) * 1000, 1))
            if status < 300:
                return response
            last_status = status
            last_retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if status in RETRY_STATUSES and self._wait_before_retry(attempt, last_retry_after, deadline):
                continue
            raise self._error_for(response, not_found)
        raise self._exhausted(last_status, last_retry_after)

    def _wait_before_retry(self, attempt: int, retry_after: float | None, deadline: float) -> bool:
        if attempt >= MAX_ATTEMPTS:
            return False
        delay = retry_after if retry_after is not None else min(2.0, 0.25 * 2 ** (attempt - 1))
        if self._clock() + delay >= deadline:
            return False
        if delay > 0:
            self._sleep(delay)
        return True

    @staticmethod
    def _exhausted(status: int | None, retry_after: float | None) -> ApiError:
        if status == 429:
            return GraphThrottled("Microsoft Graph is throttling requests; retry later.", retry_after=retry_after)
        return GraphUnavailable("Microsoft Graph is unavailable; retry later.", retry_after=retry_after)

    def _error_for(self, response: GraphResponse, not_found: ApiError) -> ApiError:
        status = response.status_code
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            return GraphThrottled("Microsoft Graph is throttling requests; retry later.", retry_after=retry_after)
        if status >= 500:
            return GraphUnavailable("Microsoft Graph is unavailable; retry later.", retry_after=retry_after)
        if status == 404:
            return not_found
        if status == 401:
            claims = _claims_challenge(response.headers.get("WWW-Authenticate", ""))
            if claims:  # continuous access evaluation: the user must satisfy new claims
                return InteractionRequired("Microsoft Graph requires the user to sign in again.", claims=claims)
            return GraphTokenRejected("Microsoft Graph rejected the delegated token; retry.", retry_after=1)
        if status == 403:
            return ConsentRequired("Microsoft Graph refused the request: the API app lacks a permission for it.",
                                   consent_url=self._settings.admin_consent_url)
        return GraphUnavailable(f"Microsoft Graph refused the request (HTTP {status}).", retry_after=retry_after)


def is_graph_link(url: str, origin: str, base_path: str) -> bool:
    """Does `url` (an `@odata.nextLink`) stay on Graph's origin, under its base path (`/v1.0/`)?"""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == origin and parts.path.startswith(base_path)


def _claims_challenge(www_authenticate: str) -> str | None:
    match = re.search(r'claims="([^"]+)"', www_authenticate)
    if not match:
        return None
    value = match.group(1)
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
