"""The AES-GCM envelope that keeps token cache partitions encrypted at rest."""
from __future__ import annotations

import os

import pytest

from function_app.token_cache.crypto import EnvelopeError, KeyRing

KEY_A = ("a", os.urandom(32))
KEY_B = ("b", os.urandom(32))
PARTITION = "51699e8e-eeb2-486e-94da-600eb1357656.0f6c1a5e-2b7d-4d44-9a57-1f1f4b0a2c11"
SECRET = '{"RefreshToken": {"x": {"secret": "0.AAAA-refresh-token-text"}}}'


def test_round_trip_hides_plaintext() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(PARTITION, SECRET.encode())
    assert b"refresh-token-text" not in envelope
    assert SECRET.encode() not in envelope
    assert ring.open(PARTITION, envelope).decode() == SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    ring = KeyRing([KEY_A])
    assert ring.seal(PARTITION, b"same") != ring.seal(PARTITION, b"same")


def test_envelope_names_the_key_that_sealed_it() -> None:
    envelope = KeyRing([KEY_B, KEY_A]).seal(PARTITION, b"x")
    assert KeyRing.key_id_of(envelope) == "b"


def test_rotation_old_key_still_opens_new_key_seals() -> None:
    old = KeyRing([KEY_A]).seal(PARTITION, b"old value")
    rotated = KeyRing([KEY_B, KEY_A])
    assert rotated.open(PARTITION, old) == b"old value"
    assert rotated.current_kid == "b"
    assert KeyRing.key_id_of(rotated.seal(PARTITION, b"new")) == "b"


def test_retired_key_makes_value_unreadable() -> None:
    old = KeyRing([KEY_A]).seal(PARTITION, b"old value")
    with pytest.raises(EnvelopeError, match="no key with id 'a'"):
        KeyRing([KEY_B]).open(PARTITION, old)


def test_value_cannot_be_replayed_under_another_partition() -> None:
    ring = KeyRing([KEY_A])
    envelope = ring.seal(PARTITION, b"alice's tokens")
    with pytest.raises(EnvelopeError, match="authentication"):
        ring.open(PARTITION.replace("0f6c", "1f6c"), envelope)


def test_same_kid_with_different_secret_fails_authentication() -> None:
    envelope = KeyRing([KEY_A]).seal(PARTITION, b"x")
    with pytest.raises(EnvelopeError):
        KeyRing([("a", os.urandom(32))]).open(PARTITION, envelope)


@pytest.mark.parametrize("position", [0, 3, 5, 20, -1])
def test_any_flipped_byte_is_rejected(position: int) -> None:
    ring = KeyRing([KEY_A])
    envelope = bytearray(ring.seal(PARTITION, b"payload"))
    envelope[position] ^= 0x01
    with pytest.raises(EnvelopeError):
        ring.open(PARTITION, bytes(envelope))


@pytest.mark.parametrize("garbage", [b"", b"T", b"T1", b"T1\x05ab", b"T1\x01a" + b"\x00" * 10, b'{"plain": "json"}'])
def test_malformed_values_raise_envelope_error_only(garbage: bytes) -> None:
    with pytest.raises(EnvelopeError):
        KeyRing([KEY_A]).open(PARTITION, garbage)


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
    envelope = KeyRing([("a", secret_key)]).seal(PARTITION, SECRET.encode())
    with pytest.raises(EnvelopeError) as info:
        KeyRing([("a", os.urandom(32))]).open(PARTITION, envelope)
    text = str(info.value)
    assert "refresh-token" not in text and secret_key.hex() not in text
