"""AES-GCM envelopes for token cache entries at rest in Redis.

An entry holds a Graph access token or a long-running session (refresh token included), so it never
reaches Redis in the clear. Layout of one envelope (bytes):

    b"T2" | kid length (1 byte) | kid (ASCII) | expires_at (8 bytes, big-endian Unix seconds)
          | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

The associated data binds the envelope to:
- its own header, so the key id and the expiry can't be altered;
- the entry's name, so a value copied under another name fails authentication;
- the entry's generation, a counter the store bumps on every delete, so a blob put back under its own
  name after `delete()` no longer opens;
- the format version (`AAD_PREFIX`).
An envelope whose expiry has passed is refused even where the backend still holds it.

The key id travels in the envelope so that after a rotation (`TOKEN_CACHE_KEYS=new:...,old:...`) values
written under the old key still decrypt while every new write uses the first key. A random 96-bit nonce
per write: a key encrypts at most a few million entries between rotations, far below the 2**32 messages
NIST SP 800-38D allows per key with random nonces.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"T2"
NONCE_BYTES = 12
TAG_BYTES = 16
EXPIRY_BYTES = 8
MAX_KID_BYTES = 64
AAD_PREFIX = b"obo-token-cache/entry/v2\x00"
_KEY_SIZES = (16, 24, 32)


class EnvelopeError(Exception):
    """The value cannot be opened: unknown key id, wrong name or generation, expired, tampered, not an envelope.

    Callers treat it as a cache miss; the message never contains key or plaintext material.
    """


@dataclass(frozen=True)
class _Key:
    kid: str
    kid_header: bytes
    aead: AESGCM


class KeyRing:
    """Ordered AES keys: the first encrypts, every one of them decrypts."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the token cache needs at least one encryption key (TOKEN_CACHE_KEYS)")
        by_kid: dict[str, _Key] = {}
        for kid, secret in keys:
            kid_bytes = _validate_kid(kid)
            if len(secret) not in _KEY_SIZES:
                raise ValueError(f"token cache key {kid!r} must be 16, 24 or 32 bytes, got {len(secret)}")
            if kid in by_kid:
                raise ValueError(f"token cache key id {kid!r} appears twice")
            by_kid[kid] = _Key(kid, MAGIC + bytes([len(kid_bytes)]) + kid_bytes, AESGCM(bytes(secret)))
        self._by_kid = by_kid
        self._current = by_kid[keys[0][0]]

    @property
    def current_kid(self) -> str:
        return self._current.kid

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._by_kid)

    def seal(self, name: str, plaintext: bytes, *, expires_at: int, generation: int = 0) -> bytes:
        key = self._current
        header = key.kid_header + int(expires_at).to_bytes(EXPIRY_BYTES, "big")
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + key.aead.encrypt(nonce, plaintext, _aad(header, name, generation))

    def open(self, name: str, envelope: bytes, *, generation: int = 0, now: float | None = None) -> bytes:
        header, kid, expires_at = _parse_header(envelope)
        key = self._by_kid.get(kid)
        if key is None:
            raise EnvelopeError(f"no key with id {kid!r} (retired by rotation?)")
        body = envelope[len(header):]
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise EnvelopeError("envelope is truncated")
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            plaintext = key.aead.decrypt(nonce, ciphertext, _aad(header, name, generation))
        except InvalidTag:
            raise EnvelopeError("envelope failed authentication (tampered, stored under another name, or "
                                "replayed after its entry was deleted)") from None
        if expires_at <= (time.time() if now is None else now):
            raise EnvelopeError("envelope has expired")
        return plaintext

    @staticmethod
    def key_id_of(envelope: bytes) -> str:
        """The key id an envelope was sealed with (rotation tooling and tests use it)."""
        return _parse_header(envelope)[1]

    @staticmethod
    def expiry_of(envelope: bytes) -> int:
        return _parse_header(envelope)[2]


def _validate_kid(kid: str) -> bytes:
    try:
        kid_bytes = kid.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("token cache key ids must be ASCII") from None
    # ',' and ':' separate entries in TOKEN_CACHE_KEYS; whitespace would be stripped by any sane parser.
    if not kid_bytes or len(kid_bytes) > MAX_KID_BYTES or any(c in kid for c in ",: \t\r\n"):
        raise ValueError(f"token cache key id must be 1-{MAX_KID_BYTES} ASCII characters without ',', ':' or spaces")
    return kid_bytes


def _parse_header(envelope: bytes) -> tuple[bytes, str, int]:
    if len(envelope) < len(MAGIC) + 1 or not envelope.startswith(MAGIC):
        raise EnvelopeError("not a token cache envelope")
    kid_len = envelope[len(MAGIC)]
    kid_end = len(MAGIC) + 1 + kid_len
    end = kid_end + EXPIRY_BYTES
    if kid_len == 0 or len(envelope) < end:
        raise EnvelopeError("envelope header is truncated")
    try:
        kid = envelope[len(MAGIC) + 1:kid_end].decode("ascii")
    except UnicodeDecodeError:
        raise EnvelopeError("envelope key id is not ASCII") from None
    return envelope[:end], kid, int.from_bytes(envelope[kid_end:end], "big")


def _aad(header: bytes, name: str, generation: int) -> bytes:
    return AAD_PREFIX + header + b"\x00" + str(int(generation)).encode("ascii") + b"\x00" + name.encode("utf-8")
