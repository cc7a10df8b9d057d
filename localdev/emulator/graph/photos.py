"""Profile photos for seeded users: the user's initials on a colour derived from their id, as a JPEG.

The same user always gets the same bytes (fixed size, colour from a hash, Pillow's bundled font), so tests
and screenshots are stable. A photo is drawn once, then served from memory and, when a directory is given,
from disk across restarts.
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

PHOTO_SIZE = 240
CONTENT_TYPE = "image/jpeg"
_RENDER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Photo:
    data: bytes
    etag: str
    width: int = PHOTO_SIZE
    height: int = PHOTO_SIZE
    content_type: str = CONTENT_TYPE


def initials(user: dict[str, Any]) -> str:
    parts = [str(user.get("givenName") or ""), str(user.get("surname") or "")]
    if not any(parts):
        parts = str(user.get("displayName") or user.get("userPrincipalName") or "?").split()
    letters = "".join(part[0] for part in parts if part)[:2]
    return letters.upper() or "?"


def background(user_id: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(user_id.lower().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65535
    # Saturation and value fixed so white initials always read clearly.
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.55, 0.62)
    return round(red * 255), round(green * 255), round(blue * 255)


def render(user: dict[str, Any], size: int = PHOTO_SIZE) -> bytes:
    image = Image.new("RGB", (size, size), background(str(user["id"])))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size * 2 // 5)
    draw.text((size / 2, size / 2), initials(user), fill=(255, 255, 255), font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


class PhotoStore:
    """Per-user photo cache; `get` returns None for users whose seed entry says they have no photo."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._photos: dict[str, Photo] = {}
        self._lock = threading.Lock()

    def has_photo(self, user: dict[str, Any]) -> bool:
        return bool(user.get("photo"))

    def get(self, user: dict[str, Any]) -> Photo | None:
        if not self.has_photo(user):
            return None
        fingerprint = self._fingerprint(user)
        cached = self._photos.get(fingerprint)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._photos.get(fingerprint)
            if cached is None:
                data = self._load(fingerprint) or self._draw_and_store(user, fingerprint)
                cached = Photo(data=data, etag=f'"{hashlib.sha256(data).hexdigest()[:32]}"')
                self._photos[fingerprint] = cached
            return cached

    def cached(self, user: dict[str, Any]) -> Photo | None:
        """The photo if already drawn, without drawing it (lets async callers skip a thread hop)."""
        return self._photos.get(self._fingerprint(user)) if self.has_photo(user) else None

    @staticmethod
    def _fingerprint(user: dict[str, Any]) -> str:
        # Renaming a user changes their initials, so the cache key covers what the drawing depends on.
        source = f"{_RENDER_VERSION}|{PHOTO_SIZE}|{str(user['id']).lower()}|{initials(user)}"
        return f"{str(user['id']).lower()}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"

    def _load(self, fingerprint: str) -> bytes | None:
        if self._directory is None:
            return None
        try:
            return (self._directory / f"{fingerprint}.jpg").read_bytes()
        except OSError:
            return None

    def _draw_and_store(self, user: dict[str, Any], fingerprint: str) -> bytes:
        data = render(user)
        if self._directory is not None:
            try:
                self._directory.mkdir(parents=True, exist_ok=True)
                target = self._directory / f"{fingerprint}.jpg"
                partial = target.with_suffix(f".{os.getpid()}.tmp")
                partial.write_bytes(data)
                os.replace(partial, target)
            except OSError:
                pass  # a read-only state dir only costs a redraw after restart
        return data
