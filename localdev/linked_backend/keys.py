"""The signing key of the linked-backend emulation, the local stand-in for the Static Web App's platform key.

Created on first use under `<state dir>/linked-backend/` (never committed: `.localdev/` is ignored): the
private key (`platform-key.pem`, mode 0600) signs the platform tokens, and its public half is published to the
App Service authentication emulation as a JWKS file (`platform-jwks.json`), whose path the local host reads
from `LOCALDEV_SWA_PLATFORM_KEYS`. In Azure the platform's keys are not published at all (docs/emulator.md,
"The linked-backend hop"), so how the key reaches the validator is the emulation's own choice.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from localdev.ca import key_pem, locked, new_key, write_atomic
from localdev.settings import SWA_PLATFORM_KEYS

KEY_DIR = "linked-backend"
PRIVATE_KEY_FILE = "platform-key.pem"
JWKS_FILE = "platform-jwks.json"
JWKS_ENV = SWA_PLATFORM_KEYS


class PlatformKeyError(RuntimeError):
    """The key files exist but cannot be used."""


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """base64url SHA-1 of the public key, 27 characters like the `kid` of the platform tokens seen in Azure."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode("ascii").rstrip("=")


def jwks_document(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk.update({"kid": key_id(public_key), "use": "sig", "alg": "RS256"})
    return {"keys": [jwk]}


@dataclass(frozen=True)
class PlatformKey:
    private_key: rsa.RSAPrivateKey
    private_key_path: Path
    jwks_path: Path

    @property
    def kid(self) -> str:
        return key_id(self.private_key.public_key())

    @classmethod
    def load_or_create(cls, state_dir: Path) -> "PlatformKey":
        directory = Path(state_dir).resolve() / KEY_DIR
        key_path, jwks_path = directory / PRIVATE_KEY_FILE, directory / JWKS_FILE
        with locked(directory):
            directory.chmod(0o700)
            if key_path.is_file():
                try:
                    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                except (ValueError, TypeError) as exc:
                    raise PlatformKeyError(f"{key_path} is not an unencrypted PEM private key; delete it to "
                                           f"create a new one") from exc
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise PlatformKeyError(f"{key_path} is not an RSA key; delete it to create a new one")
            else:
                key = new_key()
                write_atomic(key_path, key_pem(key), private=True)
            published = json.dumps(jwks_document(key.public_key()), indent=2).encode("utf-8")
            if not jwks_path.is_file() or jwks_path.read_bytes() != published:
                write_atomic(jwks_path, published)
        return cls(private_key=key, private_key_path=key_path, jwks_path=jwks_path)
