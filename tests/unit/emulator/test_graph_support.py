"""A small stand-in for the emulator state the Graph app reads, plus a token minter.

Unit tests drive the Graph app in process with it; the integration tests use the real emulator instead.
"""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

SEED = json.loads((Path(__file__).parents[3] / "localdev/emulator/seed/tenant.json").read_text())
TENANT_ID = SEED["tenant"]["id"]
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
SPA_CLIENT_ID = "f470f8c7-08c2-4e1a-800e-6a42aba7e306"
DAEMON_CLIENT_ID = "006ee29a-d1fb-4ca6-8524-17ac2a0a53a7"


def user(upn_prefix: str) -> dict[str, Any]:
    return next(u for u in SEED["users"] if u["userPrincipalName"].startswith(upn_prefix))


class FakeTenant:
    def __init__(self) -> None:
        self.tenant_id = TENANT_ID
        self.users: list[dict[str, Any]] = [dict(u) for u in SEED["users"]]
        self.groups: list[dict[str, Any]] = [dict(g) for g in SEED["groups"]]

    def find_user(self, key: str) -> dict[str, Any] | None:
        key = key.lower()
        return next((u for u in self.users if key in (u["id"].lower(), u["userPrincipalName"].lower())), None)


@dataclass
class FakeFault:
    status: int | None = None
    aadsts: int | None = None
    latency_ms: int = 0
    retry_after: int | None = None
    body: str | None = None


@dataclass
class FakeFaults:
    queued: list[tuple[str | None, FakeFault]] = field(default_factory=list)

    def add(self, fault: FakeFault, path: str | None = None) -> None:
        self.queued.append((path, fault))

    def take(self, endpoint: str, path: str) -> FakeFault | None:
        assert endpoint == "graph"
        for index, (wanted, fault) in enumerate(self.queued):
            if wanted is None or wanted in path:
                del self.queued[index]
                return fault
        return None


class FakeMetrics:
    def __init__(self) -> None:
        self.graph: Counter[str] = Counter()

    def record_graph(self, path: str) -> None:
        self.graph[path] += 1


class Keys:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex


class FakeState:
    graph_app_id = GRAPH_APP_ID
    graph_resource = GRAPH_RESOURCE
    entra_url = "https://login.example"

    def __init__(self) -> None:
        self.tenant = FakeTenant()
        self.faults = FakeFaults()
        self.metrics = FakeMetrics()
        self.signing = Keys()
        self.published = [self.signing]
        self.public_keys_calls = 0
        self.revoked: dict[str, int] = {}  # user oid (lower case) -> sessions-revoked time

    def public_keys(self) -> list[tuple[str, rsa.RSAPublicKey]]:
        self.public_keys_calls += 1
        return [(k.kid, k.private.public_key()) for k in self.published]

    def revocation_cutoff(self, user_oid: str | None) -> int | None:
        return self.revoked.get(str(user_oid).lower()) if user_oid else None

    def token(self, who: str | None = "mira", scopes: str | None = "User.Read", *,
              roles: list[str] | None = None, key: Keys | None = None, headers: dict[str, Any] | None = None,
              algorithm: str = "RS256", **claims: Any) -> str:
        """A v1 Graph access token as Entra issues it; keyword claims override (None removes)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "aud": GRAPH_RESOURCE, "iss": f"https://sts.windows.net/{TENANT_ID}/", "iat": now, "nbf": now,
            "exp": now + 3600, "ver": "1.0", "tid": TENANT_ID, "appid": SPA_CLIENT_ID,
        }
        if who is not None:
            body["oid"] = user(who)["id"]
            body["upn"] = user(who)["userPrincipalName"]
        if scopes is not None:
            body["scp"] = scopes
        if roles is not None:
            body["roles"] = roles
            body["appid"] = DAEMON_CLIENT_ID
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signer = key or self.signing
        if algorithm == "HS256":
            return jwt.encode(body, "shared-secret-of-sufficient-length-0123456789", algorithm="HS256",
                              headers={"kid": signer.kid, **(headers or {})})
        return jwt.encode(body, signer.private, algorithm=algorithm, headers={"kid": signer.kid, **(headers or {})})
