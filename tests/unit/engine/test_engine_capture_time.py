"""The capture time keeps its UTC offset (EXIF OffsetTimeOriginal): a photo taken at 19:42
at -07:00 is shown as 19:42-07:00, not 19:42Z (issue 12). Decoder -> digest -> API."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from findme.adapters.image_decode import decode_image, exif_utc_offset
from findme.domain.records import Image as ImageRecord
from findme.services.digest import capture_time
from findme.web.schemas.media import image_out
from PIL import Image

PACIFIC = timezone(timedelta(hours=-7))


def photo(taken: str, offset: str | None) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    if offset is not None:
        exif.get_ifd(0x8769)[0x9011] = offset
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 30)).save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [("-07:00", -420), ("+05:30", 330), ("+00:00", 0), ("Z", 0), ("+14:00", 840)],
)
def test_exif_offsets_are_read(raw: str, minutes: int) -> None:
    offset = exif_utc_offset(raw)
    assert offset is not None
    assert offset.utcoffset(None) == timedelta(minutes=minutes)


@pytest.mark.parametrize("raw", [None, "", "   ", "-7", "+25:00", "+05:75", "PST"])
def test_missing_or_malformed_offsets_are_unknown(raw: str | None) -> None:
    assert exif_utc_offset(raw) is None


def test_an_offset_goes_from_the_photo_to_the_api() -> None:
    # Given a photo taken at 19:42:05 local time, -07:00
    decoded = decode_image(photo("2026:06:21 19:42:05", "-07:00"), max_pixels=10**6)
    # When decoded, Then the time is aware in its offset
    assert decoded.captured_at == datetime(2026, 6, 21, 19, 42, 5, tzinfo=PACIFIC)
    # When digest stores it, Then it keeps the instant (UTC) and the offset in minutes
    stored, minutes = capture_time(decoded.captured_at)
    assert (stored, minutes) == (datetime(2026, 6, 22, 2, 42, 5, tzinfo=UTC), -420)
    # And the API shows it again in the camera's offset, not as Z
    record = ImageRecord(
        image_id="i", group_id="g", s3_key="k", captured_at=stored, captured_utc_offset_min=minutes
    )
    shown = image_out(record).model_dump(mode="json")["captured_at"]
    assert shown == "2026-06-21T19:42:05-07:00"


def test_without_an_offset_the_wall_time_is_kept_as_before() -> None:
    decoded = decode_image(photo("2026:06:21 19:42:05", None), max_pixels=10**6)
    assert decoded.captured_at == datetime(2026, 6, 21, 19, 42, 5)
    stored, minutes = capture_time(decoded.captured_at)
    assert (stored, minutes) == (datetime(2026, 6, 21, 19, 42, 5, tzinfo=UTC), None)
    record = ImageRecord(image_id="i", group_id="g", s3_key="k", captured_at=stored)
    assert image_out(record).model_dump(mode="json")["captured_at"] == "2026-06-21T19:42:05Z"
