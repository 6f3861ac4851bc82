"""The S3 key scheme: originals, thumbnails, archives."""

from __future__ import annotations

import pytest
from findme.config import Settings
from findme.domain.keys import KeyScheme, OriginalKey
from findme.errors import InvalidInputError


def test_original_key_round_trips() -> None:
    # Given the default scheme
    keys = KeyScheme.from_settings(Settings())
    # When an original's key is built and parsed back
    key = keys.original("g-1", "9b2f0c1e-aaaa-4bbb-8ccc-0123456789ab", ".JPG")
    # Then it follows originals/{group_id}/{image_id}{ext} with a lower-case extension
    assert key == "originals/g-1/9b2f0c1e-aaaa-4bbb-8ccc-0123456789ab.jpg"
    assert keys.parse_original(key) == OriginalKey(
        "g-1", "9b2f0c1e-aaaa-4bbb-8ccc-0123456789ab", ".jpg"
    )
    assert keys.parse_original("originals/g/img") == OriginalKey("g", "img", "")


@pytest.mark.parametrize(
    "key",
    [
        "faces/g/f.jpg",
        "originals/g/sub/x.jpg",
        "originals/g/",
        "originals/../x.jpg",
        "originals/g/a b.jpg",
    ],
)
def test_other_keys_are_not_originals(key: str) -> None:
    keys = KeyScheme()
    assert not keys.is_original(key)
    with pytest.raises(InvalidInputError):
        keys.parse_original(key)


def test_derived_keys() -> None:
    keys = KeyScheme()
    assert keys.face_thumbnail("g", "f") == "faces/g/f.jpg"
    assert keys.archive("job1") == "archives/job1.zip"
    assert keys.group_originals("g") == "originals/g/"
    with pytest.raises(InvalidInputError):
        keys.archive("../etc")
