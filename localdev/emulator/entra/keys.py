"""Token-signing keys, published in the JWKS the way Entra publishes them (kid = x5t, x5c, n, e).

The first key persists under the state dir so a restarted emulator keeps verifying tokens that
running apps already hold; rotated keys live in memory. After a rotation the previous key stays
published so tokens it signed keep verifying, as during an Entra key roll-over.
"""
from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.ca import cert_pem, key_pem, locked, new_key, self_signed, write_atomic


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @classmethod
    def from_parts(cls, private_key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> "SigningKey":
        return cls(b64url(certificate.fingerprint(hashes.SHA1())), private_key, certificate)  # kid == x5t

    @classmethod
    def generate(cls) -> "SigningKey":
        key = new_key()
        return cls.from_parts(key, self_signed(key, "accounts.localdev"))

    def jwk(self, issuer: str | None) -> dict[str, object]:
        numbers = self.public_key.public_numbers()
        entry: dict[str, object] = {
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": _int_b64(numbers.n), "e": _int_b64(numbers.e),
            "x5c": [base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()],
        }
        if issuer:
            entry["issuer"] = issuer
        return entry


def load_or_create_key(directory: Path) -> SigningKey:
    key_path, cert_path = directory / "signing-key.pem", directory / "signing-cert.pem"
    with locked(directory):
        if not (key_path.exists() and cert_path.exists()):
            fresh = SigningKey.generate()
            write_atomic(key_path, key_pem(fresh.private_key), private=True)
            write_atomic(cert_path, cert_pem(fresh.certificate))
    private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return SigningKey.from_parts(private_key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


class KeyRing:
    """The current signing key plus, after rotation, the previous one."""

    def __init__(self, initial: SigningKey) -> None:
        self._initial = initial
        self._lock = threading.Lock()
        self._current = initial
        self._previous: SigningKey | None = None

    @property
    def current(self) -> SigningKey:
        return self._current

    @property
    def previous(self) -> SigningKey | None:
        return self._previous

    def published(self) -> list[SigningKey]:
        return [self._current] + ([self._previous] if self._previous else [])

    def find(self, kid: str) -> SigningKey | None:
        return next((k for k in self.published() if k.kid == kid), None)

    def rotate(self) -> SigningKey:
        fresh = SigningKey.generate()
        with self._lock:
            self._previous, self._current = self._current, fresh
        return fresh

    def reset(self) -> None:
        with self._lock:
            self._current, self._previous = self._initial, None
