"""AES-GCM envelope for token cache partitions at rest in Redis.

A partition is a user's serialized MSAL cache: it holds refresh and access tokens, so it never reaches
Redis in the clear. Layout of one envelope (bytes):

    b"T1" | kid length (1 byte) | kid (ASCII) | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

- The key id travels in the envelope so that after a rotation (`TOKEN_CACHE_KEYS=new:...,old:...`) values
  written under the old key still decrypt while every new write uses the first key.
- The associated data binds the envelope to its partition key (and to its own header), so a value copied
  under another user's Redis key fails authentication instead of handing that user someone else's tokens.
- A random 96-bit nonce per write: a key encrypts at most a few million partitions between rotations,
  far below the 2**32 messages NIST SP 800-38D allows per key with random nonces.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"T1"
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KID_BYTES = 64
AAD_PREFIX = b"obo-token-cache/partition/v1\x00"
_KEY_SIZES = (16, 24, 32)


class EnvelopeError(Exception):
    """The value cannot be opened: unknown key id, wrong partition, tampered or not an envelope.

    Callers treat it as a cache miss; the message never contains key or plaintext material.
    """


@dataclass(frozen=True)
class _Key:
    kid: str
    header: bytes
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
            header = MAGIC + bytes([len(kid_bytes)]) + kid_bytes
            by_kid[kid] = _Key(kid, header, AESGCM(bytes(secret)))
        self._by_kid = by_kid
        self._current = by_kid[keys[0][0]]

    @property
    def current_kid(self) -> str:
        return self._current.kid

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._by_kid)

    def seal(self, partition_key: str, plaintext: bytes) -> bytes:
        key = self._current
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = key.aead.encrypt(nonce, plaintext, _aad(key.header, partition_key))
        return key.header + nonce + ciphertext

    def open(self, partition_key: str, envelope: bytes) -> bytes:
        header, kid = _parse_header(envelope)
        key = self._by_kid.get(kid)
        if key is None:
            raise EnvelopeError(f"no key with id {kid!r} (retired by rotation?)")
        body = envelope[len(header):]
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise EnvelopeError("envelope is truncated")
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            return key.aead.decrypt(nonce, ciphertext, _aad(header, partition_key))
        except InvalidTag:
            raise EnvelopeError("envelope failed authentication (tampered, or stored under another partition)") from None

    @staticmethod
    def key_id_of(envelope: bytes) -> str:
        """The key id an envelope was sealed with (rotation tooling and tests use it)."""
        return _parse_header(envelope)[1]


def _validate_kid(kid: str) -> bytes:
    try:
        kid_bytes = kid.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("token cache key ids must be ASCII") from None
    # ',' and ':' separate entries in TOKEN_CACHE_KEYS; whitespace would be stripped by any sane parser.
    if not kid_bytes or len(kid_bytes) > MAX_KID_BYTES or any(c in kid for c in ",: \t\r\n"):
        raise ValueError(f"token cache key id must be 1-{MAX_KID_BYTES} ASCII characters without ',', ':' or spaces")
    return kid_bytes


def _parse_header(envelope: bytes) -> tuple[bytes, str]:
    if len(envelope) < len(MAGIC) + 1 or not envelope.startswith(MAGIC):
        raise EnvelopeError("not a token cache envelope")
    kid_len = envelope[len(MAGIC)]
    end = len(MAGIC) + 1 + kid_len
    if kid_len == 0 or len(envelope) < end:
        raise EnvelopeError("envelope header is truncated")
    try:
        kid = envelope[len(MAGIC) + 1:end].decode("ascii")
    except UnicodeDecodeError:
        raise EnvelopeError("envelope key id is not ASCII") from None
    return envelope[:end], kid


def _aad(header: bytes, partition_key: str) -> bytes:
    return AAD_PREFIX + header + b"\x00" + partition_key.encode("utf-8")
