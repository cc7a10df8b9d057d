"""Minimal compact-JWS reading for the hot path (OBO assertions): one pass, no re-parsing.

PyJWT stays in charge of *issuing* tokens; here the emulator only needs the header (to pick the key)
and an RS256 signature check against a key it already holds.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JwsError(ValueError):
    """Malformed token (`malformed=True`) or a signature that does not verify."""

    def __init__(self, message: str, malformed: bool) -> None:
        super().__init__(message)
        self.malformed = malformed


def _b64(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsError("invalid base64url segment", malformed=True) from exc


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsError("segment is not JSON", malformed=True) from exc
    if not isinstance(value, dict):
        raise JwsError("segment is not a JSON object", malformed=True)
    return value


def split(token: str) -> tuple[dict[str, Any], str, str, str]:
    """(header, header segment, payload segment, signature segment)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("a compact JWS has three segments", malformed=True)
    return _json_object(parts[0]), parts[0], parts[1], parts[2]


def verify_rs256(token: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
    header, head, payload, signature = split(token)
    if header.get("alg") != "RS256":
        raise JwsError(f"alg {header.get('alg')!r} is not RS256", malformed=False)
    try:
        key.verify(_b64(signature), f"{head}.{payload}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, UnicodeEncodeError) as exc:
        raise JwsError("signature does not verify", malformed=False) from exc
    return _json_object(payload)
