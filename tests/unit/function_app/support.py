"""Test doubles for the back end: locally generated RSA keys, a token minter, and an in-process
identity provider + Graph served through a requests transport adapter (no sockets)."""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import BaseAdapter

TENANT = "51699e8e-eeb2-486e-94da-600eb1357656"
API = "ca7a86f5-36ed-459f-b0e6-3acb0993c979"
SPA = "f470f8c7-08c2-4e1a-800e-6a42aba7e306"
AUTHORITY_HOST = "https://idp.test"
GRAPH = "https://graph.test/v1.0"
USER_OID = "0b6c7d3e-1111-4a4a-9c9c-0123456789ab"
OTHER_OID = "9a8b7c6d-2222-4b4b-8d8d-ba9876543210"

_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def private_key(kid: str) -> rsa.RSAPrivateKey:
    if kid not in _KEYS:
        _KEYS[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[kid]


def jwk(kid: str) -> dict[str, Any]:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key(kid).public_key()))
    return data | {"kid": kid, "use": "sig"}


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        "API_CLIENT_ID": API,
        "TENANT_ID": TENANT,
        "AUTHORITY_HOST": AUTHORITY_HOST,
        "GRAPH_BASE_URL": GRAPH,
        "CLIENT_SECRET": "unit-test-secret",
        "SPA_CLIENT_ID": SPA,
    }
    env.update(overrides)
    return env


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "aud": API,
        "iss": f"{AUTHORITY_HOST}/{TENANT}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": USER_OID,
        "azp": SPA,
        "scp": "user_impersonation",
        "ver": "2.0",
        "preferred_username": "ana@larkspur.example",
        "name": "Ana",
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def mint(kid: str = "k1", headers: dict[str, Any] | None = None, alg: str = "RS256", key: Any = None,
         **claim_overrides: Any) -> str:
    return jwt.encode(claims(**claim_overrides), key or private_key(kid), algorithm=alg,
                      headers={"kid": kid, **(headers or {})})


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    delay: float = 0.0


class Transport(BaseAdapter):
    """A requests adapter answering from a handler function; records every request."""

    def __init__(self, handler: Callable[[requests.PreparedRequest], Reply | Exception]) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        with self._lock:
            self.requests.append(request)
            self.timeouts.append(timeout)
        reply = self.handler(request)
        if isinstance(reply, Exception):
            raise reply
        if reply.delay:
            time.sleep(reply.delay)
        response = requests.Response()
        response.status_code = reply.status
        response.url = request.url
        response.request = request
        if reply.content is not None:
            response._content = reply.content
        else:
            response._content = json.dumps(reply.body).encode() if reply.body is not None else b""
            response.headers["Content-Type"] = "application/json"
        response.headers.update(reply.headers)
        return response

    def close(self) -> None:
        pass


def session_with(transport: Transport) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    return session


class FakeIdentityProvider:
    """Discovery, JWKS and an OBO/refresh token endpoint, enough for MSAL Python."""

    def __init__(self, kids: tuple[str, ...] = ("k1",)) -> None:
        self.kids = list(kids)
        self.token_requests: list[dict[str, list[str]]] = []
        self.fail_with: list[Reply] = []  # consumed one per token request
        self.token_delay = 0.0
        self.expires_in = 3600  # of the Graph tokens it issues
        self.jwks_status = 200
        self.discovery_calls = 0
        self.jwks_calls = 0
        self.transport = Transport(self.handle)
        self._lock = threading.Lock()

    def handle(self, request: requests.PreparedRequest) -> Reply:
        url = urlsplit(request.url)
        path = url.path
        if path.endswith("/.well-known/openid-configuration"):
            with self._lock:
                self.discovery_calls += 1
            v2 = "/v2.0/" in path
            base = f"{AUTHORITY_HOST}/{TENANT}"
            return Reply(200, {
                "issuer": f"{base}/v2.0" if v2 else f"https://sts.windows.net/{TENANT}/",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
            })
        if path.endswith("/discovery/v2.0/keys"):
            with self._lock:
                self.jwks_calls += 1
            if self.jwks_status != 200:
                return Reply(self.jwks_status, {"error": "unavailable"})
            return Reply(200, {"keys": [jwk(k) for k in self.kids]})
        if path.endswith("/oauth2/v2.0/token"):
            form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
            with self._lock:
                self.token_requests.append(form)
                failure = self.fail_with.pop(0) if self.fail_with else None
            if self.token_delay:
                time.sleep(self.token_delay)
            if failure is not None:
                return failure
            return Reply(200, self.token_response(form))
        return Reply(404, {"error": "not_found"})

    def token_response(self, form: dict[str, list[str]]) -> dict[str, Any]:
        grant = form["grant_type"][0]
        if grant == "refresh_token":
            oid, tid = form["refresh_token"][0].split("|")[1:3]
        else:
            user = jwt.decode(form["assertion"][0], options={"verify_signature": False})
            oid, tid = user["oid"], user["tid"]
        now = int(time.time())
        scopes = form.get("scope", [""])[0]
        id_token = jwt.encode({"aud": API, "iss": f"{AUTHORITY_HOST}/{tid}/v2.0", "tid": tid, "oid": oid,
                               "sub": oid, "iat": now, "exp": now + 3600,
                               "preferred_username": f"{oid}@larkspur.example"}, "x" * 32, algorithm="HS256")
        body = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in scopes.split() if s not in ("openid", "profile", "offline_access")),
            "expires_in": self.expires_in,
            "access_token": f"graph-token|{oid}|{uuid.uuid4()}",
            "id_token": id_token,
            "client_info": b64url({"uid": oid, "utid": tid}),
        }
        if "offline_access" in scopes.split() or grant == "refresh_token":  # as Entra: a refresh token on request
            body["refresh_token"] = f"rt|{oid}|{tid}|{uuid.uuid4()}"
        return body

    def obo_count(self) -> int:
        return sum(1 for f in self.token_requests if f["grant_type"][0].endswith("jwt-bearer"))

    def refresh_count(self) -> int:
        return sum(1 for f in self.token_requests if f["grant_type"][0] == "refresh_token")


def registered_functions(app: Any) -> list[Any]:
    """`app.get_functions()` as the worker sees it; callable more than once.

    azure-functions remembers names it has indexed and refuses a second `get_functions()` on the same
    app object, so forget them first (tests index the one imported app many times).
    """
    app.functions_bindings = {}
    return app.get_functions()


def user_function(app: Any, route: str) -> Callable[..., Any]:
    for fn in registered_functions(app):
        if getattr(fn.get_trigger(), "route", None) == route:
            return fn.get_user_function()
    raise LookupError(route)


def principal(oid: str = USER_OID, tid: str = TENANT, expires_in: int = 3600) -> Any:
    """The validated caller, as `TokenValidator` returns it; its token expires in `expires_in` seconds."""
    from function_app.auth.validate import Principal

    return Principal(tenant_id=tid, object_id=oid, scopes=("user_impersonation",), client_app_id=None,
                     username=None, name=None, token_version="2.0", expires_at=int(time.time()) + expires_in,
                     claims={})


def obo_client(settings: Any, session: requests.Session, store: Any = None) -> Any:
    """An `OboClient` whose MSAL traffic goes through `session` (a fake identity provider's transport)."""
    from function_app.obo import MsalApps, OboClient
    from function_app.token_cache.memory import MemoryTokenStore

    return OboClient(settings, store if store is not None else MemoryTokenStore(), MsalApps(settings, session=session))


def install_services(identity: Transport, graph: Transport, **overrides: Any) -> Any:
    """Build the app's services from the environment's settings with the identity provider and Graph in-process,
    and make the app use them."""
    from function_app import services
    from function_app.settings import load_environment

    built = services.Services.build(load_environment(), identity_http=session_with(identity),
                                    graph_http=session_with(graph), graph_sleep=lambda seconds: None, **overrides)
    services.install(built)
    return built
