"""On-Behalf-Of: exchange the user's API token for a Microsoft Graph token, with a per-user token cache.

Why it is built this way (DESIGN.md section 2):
- MSAL Python never reads its cache in `acquire_token_on_behalf_of`, and its cache key ignores the
  assertion, so one shared cache would mix users. Each user gets a partition (`{tid}.{oid}`) holding a
  serialized `SerializableTokenCache`; `acquire_token_silent` runs against that partition first (cached
  access token, else its refresh token) and OBO only runs on a miss.
- MSAL applications own one cache object (its callbacks are bound to it at construction). Rather than
  swapping caches on a shared app (a race between users), each partition gets its own
  `ConfidentialClientApplication` bound to that partition's cache, kept in a bounded LRU (`_PartitionApps`)
  together with the serialized text the cache was loaded from. The store stays the source of truth: every
  call re-reads the partition, reuses the app only when the store returned exactly that text, and otherwise
  builds a new app from the store's text (another instance wrote it, it expired, it was deleted). An app is
  dropped when a call fails or leaves unsaved changes, so a kept app never holds more than the store does.
  Building an app per call cost ~0.2 ms of CPU under the GIL (MSAL re-creates the `Authority`, and
  `_msal_extension_check` retries `import msal_extensions` under the import lock on every construction).
  Every app's HTTP goes through one process-wide MSAL HTTP client whose `http_cache` already holds the
  discovery documents, so building one does no network I/O. The first app is built lazily (never at
  import) and performs the one discovery round trip.
- `instance_discovery=False` for hosts that are not Microsoft clouds (the local emulator); MSAL requires
  an https authority either way.
- The HTTP session has `trust_env = False` and `verify = CA_BUNDLE` so REQUESTS_CA_BUNDLE can't override it.
- Concurrent misses for one user share one in-flight exchange (in-process), inside the store's
  `exchange_lock` (cross-process), and the store is re-read after taking the lock.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence, TypeVar

import msal
import requests
from msal.exceptions import MsalServiceError

from .auth.validate import Principal
from .errors import (ApiError, ConsentRequired, IdentityUnavailable, InteractionRequired, InvalidToken, Misconfigured,
                     TokenExpired)
from .logging_setup import log_event
from .settings import ClientCertificate, ClientSecret, ManagedIdentityAssertion, Settings, get_settings
from .token_cache.factory import build_partition_store
from .token_cache.store import PartitionStore

T = TypeVar("T")

__all__ = ["OboClient", "get_obo_client", "reset_obo_client", "InteractionRequired"]

PARTITION_TTL_SECONDS = 24 * 3600
# Partition apps kept for reuse (each holds one user's deserialized cache, a few kB, and an MSAL app).
APP_CACHE_SIZE = 512
FLIGHT_WAIT_SECONDS = 30.0
MSAL_TIMEOUT = (3.05, 10.0)
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# What MSAL raises for network failures, 5xx (raise_for_status) and non-JSON responses.
_TRANSPORT_ERRORS = (requests.RequestException, MsalServiceError, ValueError)
_AADSTS_RE = re.compile(r"AADSTS(\d+)")

# AADSTS codes (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)
_CONSENT_CODES = {65001, 65004}
_INTERACTION_CODES = {50076, 50079, 50158, 50072, 50074, 50005, 53000, 53001, 53002, 53003, 70043, 700082, 50173,
                      50078, 50132, 50133}
_EXPIRED_ASSERTION_CODES = {500133}


def _user_ref(partition_key: str) -> str:
    """A stable, non-identifying reference to a partition for logs."""
    return hashlib.sha256(partition_key.encode()).hexdigest()[:12]


class _TimeoutSession(requests.Session):
    """requests has no session-wide timeout; MSAL calls `post`/`get` without one."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", MSAL_TIMEOUT)
        return super().request(method, url, **kwargs)


class _CallHttp:
    """A partition app's view of the shared MSAL HTTP client; remembers the last response's status and
    Retry-After, per thread, since the last `reset()`.

    MSAL turns token-endpoint responses into dicts without the HTTP status, which decides between
    `identity_unavailable` (429/5xx, retry later) and a permanent error. The state is thread-local so that
    a partition's app stays correct even if two threads ever used it at once (today one user's token work
    is serialized by `OboClient._user_locks`).
    """

    def __init__(self, shared: Any) -> None:
        self._shared = shared
        self._state = threading.local()

    def reset(self) -> "_CallHttp":
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

    def close(self) -> None:  # the shared client outlives every call
        pass


class ManagedIdentityClientAssertion:
    """`client_assertion` callable for a federated credential: a managed-identity token for
    `api://AzureADTokenExchange` (App Service MI protocol, IDENTITY_ENDPOINT/IDENTITY_HEADER), cached
    until five minutes before it expires. MSAL 1.39 invokes a callable `client_assertion` per request."""

    REFRESH_MARGIN_SECONDS = 300

    def __init__(self, config: ManagedIdentityAssertion, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time, resource: str = TOKEN_EXCHANGE_AUDIENCE) -> None:
        self._config = config
        self._resource = resource  # also usable for other Entra resources (e.g. https://redis.azure.com/)
        self._session = session or requests.Session()
        self._session.trust_env = False  # the endpoint is local to the sandbox; never send it through a proxy
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - self.REFRESH_MARGIN_SECONDS:
                self._token, self._expires_on = self._fetch()
            return self._token

    def _fetch(self) -> tuple[str, float]:
        try:
            response = self._session.get(
                self._config.endpoint,
                params={"resource": self._resource, "api-version": "2019-08-01",
                        "client_id": self._config.client_id},
                headers={"X-IDENTITY-HEADER": self._config.header, "Metadata": "true"},
                timeout=(3.05, 10.0))
        except requests.RequestException as exc:
            raise IdentityUnavailable(f"The managed identity endpoint is unreachable ({type(exc).__name__}).") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise IdentityUnavailable("The managed identity endpoint is unavailable.",
                                      retry_after=_retry_after(response.headers.get("Retry-After")))
        if response.status_code != 200:
            raise Misconfigured(f"The managed identity endpoint refused the request (HTTP {response.status_code}); "
                                "check MANAGED_IDENTITY_CLIENT_ID.", setting="MANAGED_IDENTITY_CLIENT_ID")
        try:
            body = response.json()
            token = body["access_token"]
            expires_on = float(body.get("expires_on") or self._clock() + float(body.get("expires_in", 3600)))
        except (ValueError, KeyError, TypeError):
            raise IdentityUnavailable("The managed identity endpoint returned an unreadable response.") from None
        return token, expires_on


def _retry_after(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _client_credential(settings: Settings, mi_session: requests.Session | None = None) -> Any:
    credential = settings.require_credential()
    if isinstance(credential, ClientSecret):
        return credential.secret
    if isinstance(credential, ManagedIdentityAssertion):
        # MSAL 1.39 calls a callable `client_assertion` for every token request (application.py
        # `_build_client` / oauth2cli `_obtain_token`), so the cached MI token is reused until near expiry.
        return {"client_assertion": ManagedIdentityClientAssertion(credential, mi_session)}
    assert isinstance(credential, ClientCertificate)
    try:
        pem = credential.path.read_text()
    except OSError:
        raise Misconfigured("CLIENT_CERTIFICATE_PATH can't be read.", setting="CLIENT_CERTIFICATE_PATH") from None
    if "PRIVATE KEY-----" not in pem:
        raise Misconfigured("CLIENT_CERTIFICATE_PATH must hold the PEM private key.", setting="CLIENT_CERTIFICATE_PATH")
    value: dict[str, str] = {"private_key": pem, "thumbprint": credential.thumbprint}
    if credential.password:
        value["passphrase"] = credential.password
    return value


class _KeyedLocks:
    """A lock per key that exists only while someone holds or waits for it (memory stays bounded)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


@dataclass
class _PartitionApp:
    """One partition's MSAL app, its cache, and the serialized text the cache holds (None: not in the store)."""

    key: str
    text: str | None
    cache: msal.SerializableTokenCache
    app: msal.ConfidentialClientApplication
    http: _CallHttp


class _PartitionApps:
    """A bounded, thread-safe LRU of `_PartitionApp`s keyed by partition key.

    It only saves rebuilding MSAL apps: whether an entry may be used is decided by comparing its `text` with
    what the store returns, on every call.
    """

    def __init__(self, max_entries: int) -> None:
        self._max = max(0, max_entries)
        self._entries: OrderedDict[str, _PartitionApp] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> _PartitionApp | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, entry: _PartitionApp) -> None:
        if self._max == 0:
            return
        with self._lock:
            self._entries[entry.key] = entry
            self._entries.move_to_end(entry.key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def discard(self, key: str, entry: _PartitionApp | None = None) -> None:
        """Drop `key` (only if it still maps to `entry`, when given)."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and (entry is None or current is entry):
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class OboClient:
    def __init__(self, settings: Settings, store: PartitionStore, *,
                 session: requests.Session | None = None, app_cache_size: int = APP_CACHE_SIZE) -> None:
        self._settings = settings
        self._store = store
        self._session = session
        self._credential: Any = None
        self._shared_http: Any = None  # MSAL's throttled HTTP client, built once with the shared http_cache
        self._http_cache: dict[str, Any] = {}
        self._init_lock = threading.Lock()
        self._flights: dict[tuple[str, ...], _Flight] = {}
        self._flights_lock = threading.Lock()
        # One user's token work (read partition, maybe exchange, write partition) runs one at a time in this
        # process, so concurrent requests with different scopes don't overwrite each other's partition update.
        self._user_locks = _KeyedLocks()
        self._apps = _PartitionApps(app_cache_size)

    @property
    def store(self) -> PartitionStore:
        return self._store

    # -- public surface --------------------------------------------------------------------------------

    def graph_token(self, principal: Principal, assertion: str, scopes: Sequence[str] | None = None) -> str:
        """A Graph access token for the user: silent from their partition, else one (shared) OBO exchange."""
        scopes = self._scopes(scopes)
        key = principal.partition_key

        def work() -> str:
            with self._user_locks.hold(key):
                token = self._silent(key, scopes)
                return token if token is not None else self._exchange(key, assertion, scopes, recheck=True)

        return self._single_flight(("graph", key, *scopes), work)

    def ensure_refreshable(self, principal: Principal, assertion: str, scopes: Sequence[str] | None = None) -> None:
        """Make sure the user's partition holds a refresh token usable for `scopes` (for background work).

        MSAL always adds `offline_access` to OBO requests, so a successful exchange stores a refresh token.
        """
        scopes = self._scopes(scopes)
        key = principal.partition_key

        def work() -> None:
            with self._user_locks.hold(key):
                if self._silent(key, scopes) is None or not self._has_refresh_token(key):
                    self._exchange(key, assertion, scopes, recheck=False)

        self._single_flight(("refreshable", key, *scopes), work)
        if not self._has_refresh_token(key):
            raise InteractionRequired("The identity provider issued no refresh token, so background work can't "
                                      "act for the user; sign in again.")

    def graph_token_silent(self, partition_key: str, scopes: Sequence[str] | None = None) -> str:
        """A Graph token from the partition only (access or refresh token); raises `InteractionRequired`."""
        scopes = self._scopes(scopes)

        def work() -> str | None:
            with self._user_locks.hold(partition_key):
                return self._silent(partition_key, scopes, raise_interaction=True)

        token = self._single_flight(("silent", partition_key, *scopes), work)
        if token is None:
            raise InteractionRequired("No token for this user is cached any more; sign in and try again.")
        return token

    def forget(self, partition_key: str) -> None:
        """Drop a user's partition (e.g. Graph rejected a cached token)."""
        self._apps.discard(partition_key)
        self._store.delete(partition_key)

    def warm_up(self) -> None:
        """Build the shared MSAL HTTP client (one discovery round trip); used by diagnostics and benchmarks."""
        self._shared()

    # -- internals -------------------------------------------------------------------------------------

    def _scopes(self, scopes: Sequence[str] | None) -> tuple[str, ...]:
        chosen = tuple(scopes) if scopes else self._settings.graph_scopes
        if {s.lower() for s in chosen} & {"openid", "profile", "offline_access"}:
            raise ValueError("openid, profile and offline_access are added by MSAL; don't pass them")
        return tuple(sorted(set(chosen)))

    def _new_session(self) -> requests.Session:
        session = _TimeoutSession()
        session.trust_env = False
        session.verify = self._settings.tls_verify
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("https://", adapter)
        return session

    def _shared(self) -> Any:
        if self._shared_http is not None:
            return self._shared_http
        with self._init_lock:
            if self._shared_http is None:
                session = self._session or self._new_session()
                self._credential = _client_credential(self._settings, self._session)
                try:
                    first = self._build_app(msal.SerializableTokenCache(), session, http_cache=self._http_cache)
                except _TRANSPORT_ERRORS as exc:
                    # Discovery failed: nothing is cached, the next call retries.
                    log_event("msal_discovery_failed", logging.WARNING, error=type(exc).__name__)
                    raise IdentityUnavailable("The identity provider's metadata is unavailable.") from None
                self._shared_http = first.http_client
        return self._shared_http

    def _build_app(self, cache: msal.SerializableTokenCache, http_client: Any,
                   http_cache: dict[str, Any] | None = None) -> msal.ConfidentialClientApplication:
        # Only the first app owns `http_cache`: per-call apps reach it through the shared client, whose lock
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
            enable_pii_log=False,
        )

    def _new_partition_app(self, key: str, cache: msal.SerializableTokenCache,
                           text: str | None) -> _PartitionApp:
        http = _CallHttp(self._shared()).reset()
        try:
            app = self._build_app(cache, http)
        except _TRANSPORT_ERRORS:
            # Only possible when the discovery entries fell out of the http cache and the refetch failed.
            raise IdentityUnavailable("The identity provider's metadata is unavailable.",
                                      retry_after=http.retry_after) from None
        return _PartitionApp(key=key, text=text, cache=cache, app=app, http=http)

    def _partition_app(self, key: str, *, create: bool = False) -> _PartitionApp | None:
        """The partition's app, bound to a cache holding exactly what the store holds now.

        Reuses the kept app when the store returned the text its cache was loaded from (or last saved);
        otherwise deserializes the store's text into a new app. None when the store has no (readable)
        partition, unless `create` (an empty cache, for an exchange).
        """
        serialized = self._store.load(key)
        if serialized:
            entry = self._apps.get(key)
            if entry is not None and entry.key == key and entry.text == serialized:
                entry.http.reset()
                return entry
            cache = msal.SerializableTokenCache()
            try:
                cache.deserialize(serialized)
            except ValueError:
                self._apps.discard(key)
                self._store.delete(key)
                serialized = None
            else:
                entry = self._new_partition_app(key, cache, serialized)
                self._apps.put(entry)
                return entry
        self._apps.discard(key)
        if not create:
            return None
        return self._new_partition_app(key, msal.SerializableTokenCache(), None)

    @contextmanager
    def _using(self, entry: _PartitionApp) -> Iterator[_PartitionApp]:
        """Use a partition app; drop it from the LRU if the call fails or leaves changes the store lacks."""
        try:
            yield entry
        except BaseException:
            self._apps.discard(entry.key, entry)
            raise
        if entry.cache.has_state_changed:
            self._apps.discard(entry.key, entry)

    def _save(self, entry: _PartitionApp) -> None:
        if entry.cache.has_state_changed:
            text = entry.cache.serialize()
            self._store.save(entry.key, text, PARTITION_TTL_SECONDS)
            entry.text = text
            self._apps.put(entry)

    def _has_refresh_token(self, key: str) -> bool:
        # A fresh, private copy: this runs outside the user's lock, so it must not touch a kept app's cache.
        serialized = self._store.load(key)
        if not serialized:
            return False
        cache = msal.SerializableTokenCache()
        try:
            cache.deserialize(serialized)
        except ValueError:
            return False
        return any(True for _ in cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))

    @staticmethod
    def _account_for(app: msal.ClientApplication, key: str) -> dict[str, Any] | None:
        accounts = app.get_accounts()
        tid, _, oid = key.partition(".")
        for account in accounts:
            if account.get("home_account_id") == f"{oid}.{tid}":
                return account
        return accounts[0] if accounts else None

    def _silent(self, key: str, scopes: tuple[str, ...], *, raise_interaction: bool = False) -> str | None:
        entry = self._partition_app(key)
        if entry is None:
            return None
        with self._using(entry):
            app, http = entry.app, entry.http
            account = self._account_for(app, key)
            if account is None:
                return None
            try:
                result = app.acquire_token_silent_with_error(list(scopes), account=account)
            except _TRANSPORT_ERRORS:
                raise IdentityUnavailable("The identity provider is unavailable.",
                                          retry_after=http.retry_after) from None
            self._save(entry)
            if result and "access_token" in result:
                return result["access_token"]
            if result and (http.status == 429 or (http.status or 0) >= 500 or
                           result.get("error") in ("temporarily_unavailable", "server_error")):
                raise IdentityUnavailable("The identity provider is unavailable.", retry_after=http.retry_after)
            if result and raise_interaction:
                self._raise_for(result, http)
            return None  # nothing usable silently: the caller falls back to OBO

    def _single_flight(self, key: tuple[str, ...], work: Callable[[], T]) -> T:
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            if not flight.done.wait(FLIGHT_WAIT_SECONDS):
                raise IdentityUnavailable("Timed out waiting for a token exchange in progress.")
            if flight.error is not None:
                raise flight.error
            return flight.result
        try:
            flight.result = work()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _exchange(self, key: str, assertion: str, scopes: tuple[str, ...], *, recheck: bool) -> str:
        with self._store.exchange_lock(key):
            if recheck:
                forget_local = getattr(self._store, "forget_local", None)
                if callable(forget_local):
                    forget_local(key)  # another instance may have just written this partition
                token = self._silent(key, scopes)
                if token is not None:
                    return token
            entry = self._partition_app(key, create=True)
            assert entry is not None
            with self._using(entry):
                app, http = entry.app, entry.http
                started = time.perf_counter()
                try:
                    result = app.acquire_token_on_behalf_of(assertion, list(scopes))
                except ApiError:
                    raise  # from the managed identity assertion callable
                except _TRANSPORT_ERRORS:
                    raise IdentityUnavailable("The identity provider is unavailable.",
                                              retry_after=http.retry_after) from None
                log_event("obo_exchange", user=_user_ref(key), status=http.status,
                          ok="access_token" in result, error=result.get("error"),
                          aadsts=_aadsts(result)[0] if _aadsts(result) else None,
                          duration_ms=round((time.perf_counter() - started) * 1000, 1))
                if "access_token" not in result:
                    self._raise_for(result, http)
                self._save(entry)
                return result["access_token"]

    def _raise_for(self, result: dict[str, Any], http: _CallHttp) -> None:
        raise map_msal_error(result, self._settings, status=http.status, retry_after=http.retry_after)


def _aadsts(result: dict[str, Any]) -> list[int]:
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    codes += [int(c) for c in _AADSTS_RE.findall(str(result.get("error_description") or ""))]
    return list(dict.fromkeys(codes))


def map_msal_error(result: dict[str, Any], settings: Settings, *, status: int | None = None,
                   retry_after: float | None = None) -> ApiError:
    """Map an MSAL error dict (OAuth error response) onto the API's error hierarchy."""
    error = str(result.get("error") or "")
    suberror = str(result.get("suberror") or "")
    codes = _aadsts(result)
    code_text = f" (AADSTS{codes[0]})" if codes else ""
    if status == 429 or (status or 0) >= 500 or error in ("temporarily_unavailable", "server_error"):
        return IdentityUnavailable(f"The identity provider is unavailable{code_text}; retry later.",
                                   retry_after=retry_after)
    if error == "consent_required" or suberror == "consent_required" or _CONSENT_CODES & set(codes):
        return ConsentRequired(
            f"The API app has no consent to call Microsoft Graph for this user{code_text}. An administrator "
            "can grant it at consentUrl.", consent_url=settings.admin_consent_url)
    if result.get("claims") or error == "interaction_required" or _INTERACTION_CODES & set(codes):
        return InteractionRequired(f"The user must sign in again to satisfy a policy{code_text}.",
                                   claims=result.get("claims") or None)
    if error == "invalid_grant" and (_EXPIRED_ASSERTION_CODES & set(codes) or suberror == "token_expired"):
        return TokenExpired(f"The user's token expired before it could be exchanged{code_text}.")
    if error == "invalid_grant":
        if suberror in ("bad_token", "basic_action", "additional_action", "user_password_expired"):
            return InteractionRequired(f"The user must sign in again{code_text}.")
        return InvalidToken(f"The identity provider rejected the user's token for the exchange{code_text}.")
    if error in ("invalid_client", "unauthorized_client"):
        setting = {ClientSecret: "CLIENT_SECRET", ManagedIdentityAssertion: "MANAGED_IDENTITY_CLIENT_ID",
                   ClientCertificate: "CLIENT_CERTIFICATE_PATH"}.get(type(settings.credential), "API_CLIENT_ID")
        return Misconfigured(f"The identity provider rejected the API app's credential{code_text}.", setting=setting)
    if error == "invalid_scope":
        return Misconfigured(f"The identity provider rejected the requested Graph scopes{code_text}.",
                             setting="GRAPH_SCOPES")
    return IdentityUnavailable(f"The token exchange failed ({error or 'unknown error'}{code_text}).",
                               retry_after=retry_after)


_lock = threading.Lock()
_client: OboClient | None = None


def get_obo_client() -> OboClient:
    """The process-wide OBO client; built on first use (no network until the first token is needed)."""
    global _client
    if _client is None:
        settings = get_settings()
        with _lock:
            if _client is None:
                _client = OboClient(settings, build_partition_store(settings))
    return _client


def reset_obo_client() -> None:
    global _client
    with _lock:
        _client = None
