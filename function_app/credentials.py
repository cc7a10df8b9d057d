"""The API app's credential, in the form MSAL takes it: a client secret, a certificate, or a managed
identity's token as a federated client assertion (Azure: no secret exists at all)."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests

from .errors import IdentityUnavailable, Misconfigured
from .http_sessions import tls_session
from .settings import ClientCertificate, ClientSecret, ManagedIdentityAssertion, Settings

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
IDENTITY_TIMEOUT = (3.05, 10.0)


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
                timeout=IDENTITY_TIMEOUT)
        except requests.RequestException as exc:
            raise IdentityUnavailable(f"The managed identity endpoint is unreachable ({type(exc).__name__}).") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise IdentityUnavailable("The managed identity endpoint is unavailable.",
                                      retry_after=_seconds(response.headers.get("Retry-After")))
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


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def msal_client_credential(settings: Settings, mi_session: requests.Session | None = None) -> Any:
    """`client_credential` for `msal.ConfidentialClientApplication`, from the configured credential."""
    credential = settings.require_credential()
    if isinstance(credential, ClientSecret):
        return credential.secret
    if isinstance(credential, ManagedIdentityAssertion):
        # MSAL 1.39 calls a callable `client_assertion` for every token request (application.py
        # `_build_client` / oauth2cli `_obtain_token`), so the cached MI token is reused until near expiry.
        return {"client_assertion": ManagedIdentityClientAssertion(credential, mi_session or identity_session(settings))}
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


def identity_session(settings: Settings) -> requests.Session:
    """The session to the platform's managed identity endpoint: the configured trust store (the endpoint is plain
    HTTP on loopback in App Service, HTTPS with the local CA in the emulator), and never a proxy."""
    session = tls_session(settings)
    session.https_proxy = None
    return session


def credential_setting(settings: Settings) -> str:
    """The setting an operator fixes when the identity provider rejects the app's credential."""
    return {ClientSecret: "CLIENT_SECRET", ManagedIdentityAssertion: "MANAGED_IDENTITY_CLIENT_ID",
            ClientCertificate: "CLIENT_CERTIFICATE_PATH"}.get(type(settings.credential), "API_CLIENT_ID")
