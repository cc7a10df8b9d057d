"""The AES-GCM envelope that keeps token cache entries encrypted at rest, bound to name, expiry and generation."""
from __future__ import annotations

import os
import time

import pytest

from function_app.token_cache.crypto import EnvelopeError, KeyRing

KEY_A = ("a", os.urandom(32))
KEY_B = ("b", os.urandom(32))
NAME = "obo:0f6c1a5e2b7d4d449a571f1f4b0a2c1151699e8eeeb2486e94da600eb1357656"
LATER = int(time.time()) + 3600
SECRET = '{"RefreshToken": {"x": {"secret": "0.AAAA-refresh-token-text"}}}'


def test_round_trip_hides_plaintext() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(NAME, SECRET.encode(), expires_at=LATER)
    assert b"refresh-token-text" not in envelope
    assert SECRET.encode() not in envelope
    assert ring.open(NAME, envelope).decode() == SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    ring = KeyRing([KEY_A])
    assert ring.seal(NAME, b"same", expires_at=LATER) != ring.seal(NAME, b"same", expires_at=LATER)


def test_envelope_names_the_key_that_sealed_it() -> None:
    envelope = KeyRing([KEY_B, KEY_A]).seal(NAME, b"x", expires_at=LATER)
    assert KeyRing.key_id_of(envelope) == "b"


def test_rotation_old_key_still_opens_new_key_seals() -> None:
    old = KeyRing([KEY_A]).seal(NAME, b"old value", expires_at=LATER)
    rotated = KeyRing([KEY_B, KEY_A])
    assert rotated.open(NAME, old) == b"old value"
    assert rotated.current_kid == "b"
    assert KeyRing.key_id_of(rotated.seal(NAME, b"new", expires_at=LATER)) == "b"


def test_retired_key_makes_value_unreadable() -> None:
    old = KeyRing([KEY_A]).seal(NAME, b"old value", expires_at=LATER)
    with pytest.raises(EnvelopeError, match="no key with id 'a'"):
        KeyRing([KEY_B]).open(NAME, old)


def test_value_cannot_be_replayed_under_another_name() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(NAME, b"alice's tokens", expires_at=LATER)
    with pytest.raises(EnvelopeError, match="authentication"):
        ring.open(NAME.replace("0f6c", "1f6c"), envelope)


def test_same_kid_with_different_secret_fails_authentication() -> None:
    envelope = KeyRing([KEY_A]).seal(NAME, b"x", expires_at=LATER)
    with pytest.raises(EnvelopeError):
        KeyRing([("a", os.urandom(32))]).open(NAME, envelope)


@pytest.mark.parametrize("position", [0, 3, 5, 20, -1])
def test_any_flipped_byte_is_rejected(position: int) -> None:
    ring = KeyRing([KEY_A])
    envelope = bytearray(ring.seal(NAME, b"payload", expires_at=LATER))
    envelope[position] ^= 0x01
    with pytest.raises(EnvelopeError):
        ring.open(NAME, bytes(envelope))


@pytest.mark.parametrize("garbage", [b"", b"T", b"T2", b"T2\x05ab", b"T2\x01a" + b"\x00" * 10, b"T2\x01a" + b"\x00" * 30, b'{"plain": "json"}'])
def test_malformed_values_raise_envelope_error_only(garbage: bytes) -> None:
    with pytest.raises(EnvelopeError):
        KeyRing([KEY_A]).open(NAME, garbage)


@pytest.mark.parametrize(
    "keys, message",
    [
        ([], "at least one"),
        ([("a", b"short")], "16, 24 or 32 bytes"),
        ([("a", os.urandom(32)), ("a", os.urandom(32))], "twice"),
        ([("", os.urandom(32))], "key id"),
        ([("a:b", os.urandom(32))], "key id"),
        ([("k" * 65, os.urandom(32))], "key id"),
        ([("ключ", os.urandom(32))], "ASCII"),
    ],
)
def test_bad_key_configuration_is_refused(keys: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyRing(keys)


def test_errors_never_echo_key_or_plaintext() -> None:
    secret_key = os.urandom(32)
    envelope = KeyRing([("a", secret_key)]).seal(NAME, SECRET.encode(), expires_at=LATER)
    with pytest.raises(EnvelopeError) as info:
        KeyRing([("a", os.urandom(32))]).open(NAME, envelope)
    text = str(info.value)
    assert "refresh-token" not in text and secret_key.hex() not in text


def test_an_expired_envelope_is_refused() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(NAME, b"x", expires_at=1000)
    assert ring.open(NAME, envelope, now=999) == b"x"
    with pytest.raises(EnvelopeError, match="expired"):
        ring.open(NAME, envelope, now=1000)


def test_the_expiry_cannot_be_extended() -> None:
    ring = KeyRing([KEY_A])
    envelope = bytearray(ring.seal(NAME, b"x", expires_at=1000))
    header_end = 2 + 1 + 1  # magic, kid length, kid "a"
    envelope[header_end:header_end + 8] = (2 ** 40).to_bytes(8, "big")
    with pytest.raises(EnvelopeError, match="authentication"):
        ring.open(NAME, bytes(envelope), now=999)


def test_an_envelope_opens_only_under_its_generation() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(NAME, b"x", expires_at=LATER, generation=0)
    assert ring.open(NAME, envelope, generation=0) == b"x"
    with pytest.raises(EnvelopeError, match="authentication"):
        ring.open(NAME, envelope, generation=1)
