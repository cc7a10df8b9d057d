"""Generated profile photos: stable per user, distinct between users, drawn once."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from localdev.emulator.graph import photos
from localdev.emulator.graph.photos import PHOTO_SIZE, PhotoStore, background, initials, render
from tests.unit.emulator.test_graph_support import SEED, user


def test_photo_is_a_square_jpeg_with_the_users_colour() -> None:
    mira = user("mira")
    image = Image.open(io.BytesIO(render(mira)))
    assert image.format == "JPEG" and image.size == (PHOTO_SIZE, PHOTO_SIZE)
    corner = image.convert("RGB").getpixel((3, 3))
    assert all(abs(a - b) <= 6 for a, b in zip(corner, background(mira["id"])))
    # The initials are drawn in white in the middle.
    centre = image.convert("L").crop((60, 60, 180, 180))
    assert centre.getextrema()[1] > 230


def test_same_user_same_bytes_other_user_other_colour() -> None:
    assert render(user("mira")) == render(user("mira"))
    colours = {background(u["id"]) for u in SEED["users"]}
    assert len(colours) == len(SEED["users"])


@pytest.mark.parametrize("profile, expected", [
    ({"givenName": "Tomás", "surname": "Ruiz"}, "TR"),
    ({"displayName": "single"}, "S"),
    ({"displayName": "ada byron lovelace"}, "AB"),
    ({}, "?"),
])
def test_initials(profile: dict[str, str], expected: str) -> None:
    assert initials(profile) == expected


def test_user_without_photo_has_none() -> None:
    store = PhotoStore()
    sam = user("sam")
    assert sam["photo"] is False
    assert store.get(sam) is None and store.cached(sam) is None


def test_photo_is_drawn_once_and_kept_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    real_render = photos.render

    def counting_render(profile: dict[str, object], size: int = PHOTO_SIZE) -> bytes:
        drawn.append(str(profile["id"]))
        return real_render(profile, size)

    monkeypatch.setattr(photos, "render", counting_render)
    store = PhotoStore(tmp_path)
    lena = user("lena")
    assert store.cached(lena) is None
    first = store.get(lena)
    assert first is not None and store.get(lena) is first and store.cached(lena) is first
    assert drawn == [lena["id"]]
    assert [p.suffix for p in tmp_path.iterdir()] == [".jpg"]

    # A new store (an emulator restart) reads the file instead of drawing again.
    again = PhotoStore(tmp_path).get(lena)
    assert again is not None and again.data == first.data and again.etag == first.etag
    assert drawn == [lena["id"]]


def test_renamed_user_gets_a_new_photo(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    lena = dict(user("lena"))
    before = store.get(lena)
    lena["surname"] = "Zimmer"
    after = store.get(lena)
    assert before is not None and after is not None and before.data != after.data
