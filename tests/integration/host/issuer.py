"""A minimal OpenID issuer for host tests: discovery + JWKS over HTTP on loopback, and a token minter.

It lets the App Service authentication tests control every claim and key (unknown kids, rotation, outages)
without depending on the full Entra emulator; the emulator-based tests cover the real pairing.
"""
from __future__ import annotations

import asyncio
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from localdev.ca import ensure_certs

TENANT_ID = "7d1f4f0e-5a8c-4b59-9a51-0b3c6c2b1f11"
API_CLIENT_ID = "0c6c5d4e-2f2b-4a53-9f3e-1f7d6b2a9c01"
SPA_CLIENT_ID = "5b0e8a73-3c1d-4e6a-8f0b-7a2d9c4e1b22"
USER_OID = "9a8b7c6d-1e2f-4a5b-8c9d-0e1f2a3b4c5d"
CERTS = ensure_certs(Path(tempfile.gettempdir()) / "localdev-test-issuer")


def _new_key() -> tuple[str, Any]:
    return uuid.uuid4().hex[:16], rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LocalIssuer:
    """Serves `{base}/{tenant}/v2.0/.well-known/openid-configuration` and its JWKS."""

    tenant_id: str = TENANT_ID
    port: int = 0
    requests: dict[str, int] = field(default_factory=lambda: {"discovery": 0, "jwks": 0})
    jwks_status: int = 200
    _keys: list[tuple[str, Any]] = field(default_factory=lambda: [_new_key()])
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def authority_host(self) -> str:
        # HTTPS with a local CA of the tests' own, as the product's settings require of an authority.
        return f"https://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}/v2.0"

    def env(self) -> dict[str, str]:
        """App settings that point the host's authentication at this issuer."""
        return {"AUTHORITY_HOST": self.authority_host, "TENANT_ID": self.tenant_id, "CA_BUNDLE": str(CERTS.ca),
                "API_CLIENT_ID": API_CLIENT_ID, "SPA_CLIENT_ID": SPA_CLIENT_ID}

    def rotate(self) -> None:
        """Sign new tokens with a new key; the old one is no longer published."""
        self._keys = [_new_key()]

    def mint(self, *, version: str = "2.0", lifetime: int = 3600, kid: str | None = None,
             key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "aud": API_CLIENT_ID,
            "iss": self.issuer if version == "2.0" else f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now, "nbf": now, "exp": now + lifetime,
            "tid": self.tenant_id, "oid": USER_OID, "sub": "subject-1",
            "scp": "user_impersonation", "ver": version,
            "name": "Adele Vance",
        }
        if version == "2.0":
            body.update({"azp": SPA_CLIENT_ID, "preferred_username": "adele@contoso.test"})
        else:
            body.update({"appid": SPA_CLIENT_ID, "upn": "adele@contoso.test"})
        for name, value in claims.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        current_kid, current_key = self._keys[0]
        return jwt.encode(body, key or current_key, algorithm="RS256", headers={"kid": kid or current_kid})

    # server ------------------------------------------------------------------------------------

    async def _discovery(self, request: web.Request) -> web.Response:
        self.requests["discovery"] += 1
        base = f"{self.authority_host}/{self.tenant_id}"
        return web.json_response({"issuer": self.issuer, "jwks_uri": f"{base}/discovery/v2.0/keys",
                                  "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.requests["jwks"] += 1
        if self.jwks_status != 200:
            return web.Response(status=self.jwks_status)
        keys = []
        for kid, key in self._keys:
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
            keys.append(jwk)
        return web.json_response({"keys": keys})

    def start(self) -> "LocalIssuer":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_get(f"/{self.tenant_id}/v2.0/.well-known/openid-configuration", self._discovery)
            app.router.add_get(f"/{self.tenant_id}/discovery/v2.0/keys", self._jwks)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(CERTS.server_cert, CERTS.server_key)
            site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="local-issuer", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    """One issuer per test module (a plugin of the test suite: tests/conftest.py)."""
    server = LocalIssuer().start()
    yield server
    server.stop()
