"""Helpers for the security suite: HTTP against the local host, problem assertions, forged tokens.

Tokens that are correctly signed but wrong come from the emulator (`POST /_emulator/token` with claim
overrides, see `user_token`). Tokens no honest issuer would sign are forged here: unsigned (`alg: none`),
HMAC keyed with the published public key, signed with a foreign key, or signed with the emulator's own
signing key (read from its state folder) but carrying JOSE headers the API must refuse.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# The function app tests' helpers: one way to mint a token for this API across the suite.
from tests.integration.function_app.test_profile_api import LENA, MIRA, OBO_GRANT, SAM, user_token  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
SIGNING_KEY_PATH = REPO_ROOT / ".localdev" / "emulator" / "signing-key.pem"
USER_HEADER = "X-User-Authorization"
AUTH_CODES = {"missing_token", "invalid_token", "token_expired", "insufficient_scope", "interaction_required",
              "consent_required", "header_too_large", "bad_request", "request_too_large"}


def session() -> requests.Session:
    """A session that ignores REQUESTS_CA_BUNDLE and proxies (the host is plain HTTP on loopback)."""
    s = requests.Session()
    s.trust_env = False
    return s


def spa_headers(token: str) -> dict[str, str]:
    """What the SPA sends: the user's API token in both headers (docs/architecture.md, "Token headers")."""
    return {"Authorization": f"Bearer {token}", USER_HEADER: f"Bearer {token}"}


def assert_problem(response: Any, statuses: Iterable[int], codes: Iterable[str] | str | None = None) -> dict[str, Any]:
    """A refusal a client can act on: one of `statuses`, problem+json, the expected `code`, the right headers."""
    statuses = set(statuses)
    status = getattr(response, "status_code", None) or getattr(response, "status")
    text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
    assert status in statuses, f"HTTP {status} (expected {sorted(statuses)}): {text[:500]}"
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith("application/problem+json"), f"Content-Type {content_type!r}: {text[:300]}"
    body = json.loads(text)
    assert body["status"] == status and isinstance(body["code"], str)
    if codes is not None:
        wanted = {codes} if isinstance(codes, str) else set(codes)
        assert body["code"] in wanted, f"code {body['code']!r} (expected {sorted(wanted)}): {body.get('detail')}"
    # RFC 6750 challenge on every 401, and on every 403 the function answers (App Service's own 403 for a
    # failed authorization policy carries none).
    if status == 401 or (status == 403 and "correlationId" in body):
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    return body


# -- forging ------------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def decode_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def assemble(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    return f"{b64url_json(dict(header))}.{b64url_json(dict(claims))}.{b64url(signature)}"


def hmac_token(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes, digest: str = "sha256") -> str:
    signing_input = f"{b64url_json(dict(header))}.{b64url_json(dict(claims))}".encode()
    signature = hmac.new(key, signing_input, getattr(hashlib, digest)).digest()
    return signing_input.decode() + "." + b64url(signature)


_FOREIGN_KEY: rsa.RSAPrivateKey | None = None


def foreign_key() -> rsa.RSAPrivateKey:
    """An RSA key nobody published: what an attacker signs with."""
    global _FOREIGN_KEY
    if _FOREIGN_KEY is None:
        _FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _FOREIGN_KEY


def rsa_token(key: rsa.RSAPrivateKey, header: Mapping[str, Any], claims: Mapping[str, Any],
              alg: str = "RS256") -> str:
    """Sign by hand, so any header (a non-string kid, crit, jku) can be sent; RS256/384/512 and PS256."""
    signing_input = f"{b64url_json({'alg': alg, **header})}.{b64url_json(dict(claims))}".encode()
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    pad = (padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size) if alg.startswith("PS")
           else padding.PKCS1v15())
    return signing_input.decode() + "." + b64url(key.sign(signing_input, pad, digest))


def rsa_token_raw(key: rsa.RSAPrivateKey, header: bytes, payload: bytes) -> str:
    """RS256 over exact header and payload bytes: duplicate members, NaN, UTF-16, whatever a test needs."""
    signing_input = f"{b64url(header)}.{b64url(payload)}".encode()
    return signing_input.decode() + "." + b64url(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def as_b64(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "kid": kid, "n": as_b64(numbers.n), "e": as_b64(numbers.e)}


def emulator_signing_key(kid_token: str) -> rsa.RSAPrivateKey | None:
    """The emulator's current signing key from its state folder, if it is the key that signed `kid_token`."""
    try:
        key = serialization.load_pem_private_key(SIGNING_KEY_PATH.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    try:
        jwt.decode(kid_token, key.public_key(), algorithms=["RS256"], options={"verify_aud": False,
                                                                              "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return key  # type: ignore[return-value]


@dataclass(frozen=True)
class Published:
    """What anyone can learn about the tenant's signing key: its kid and public key (from the JWKS)."""
    kid: str
    public_pem_spki: bytes
    public_pem_pkcs1: bytes
    public_jwk: dict[str, Any]


def published_key(emulator: Any) -> Published:
    token = user_token(emulator)
    kid = decode_part(token, 0)["kid"]
    jwks = emulator.session.get(emulator.config["jwks_uri"], timeout=10).json()
    entry = next(k for k in jwks["keys"] if k["kid"] == kid)
    public = jwt.PyJWK(entry, algorithm="RS256").key
    return Published(
        kid=kid,
        public_pem_spki=public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public_pem_pkcs1=public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public_jwk=entry,
    )


def now() -> int:
    return int(time.time())


# -- raw HTTP (for what `requests` refuses to send) -----------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def raw_request(url: str, header_lines: Iterable[bytes], method: bytes = b"GET", timeout: float = 15) -> RawResponse:
    """Send header lines byte for byte (NUL bytes, duplicate headers) and parse the answer."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (method + b" " + path.encode() + b" HTTP/1.1\r\nHost: " + parts.netloc.encode()
               + b"\r\nConnection: close\r\n" + b"".join(line + b"\r\n" for line in header_lines) + b"\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return RawResponse(response.status, response.headers, body)
