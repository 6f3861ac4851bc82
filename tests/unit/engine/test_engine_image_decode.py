"""Decoding: formats, EXIF orientation, reduced decode, and typed errors for bad input."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime

import numpy as np
import pytest
from findme.adapters.image_decode import decode_image, encode_renditions
from findme.errors import ImageTooLargeError, InvalidImageError
from PIL import Image, ImageOps

LIMIT = 50_000_000


def _gradient(width: int, height: int) -> Image.Image:
    """An RGB image whose left half is red and right half blue (orientation is visible)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    pixels[: height // 4, :, 1] = 255  # a green band on top
    return Image.fromarray(pixels)


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG (a decompression bomb's shape) whose IHDR announces width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidImageError),
        (b"name,identity\nimg1.jpg,person01\n", InvalidImageError),
        (_png_header(100_000, 100_000), ImageTooLargeError),
        (_png_header(8_000, 7_000), ImageTooLargeError),
    ],
    ids=["zero-bytes", "text-file", "huge-png-header", "56-megapixel-png-header"],
)
def test_bad_input_raises_the_typed_error(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data, max_pixels=LIMIT)


def test_truncated_jpeg_is_invalid() -> None:
    # Given a real JPEG cut in half
    data = _encode(_gradient(400, 300), "JPEG", quality=90)
    # When decoded / Then InvalidImageError, not a half-grey picture
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)


def test_truncated_png_is_invalid() -> None:
    data = _encode(_gradient(400, 300), "PNG")
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)


def test_png_with_corrupt_image_data_is_invalid_not_blank() -> None:
    # Given a whole PNG (IEND, right CRCs) whose IDAT is not zlib data
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"not zlib" * 40)
        + _chunk(b"IEND", b"")
    )
    # When decoded, Then it is an invalid image (not 64x64 black pixels)
    with pytest.raises(InvalidImageError):
        decode_image(data, max_pixels=LIMIT)


def test_pixel_limit_errors_carry_the_api_code() -> None:
    # Given a header over the pixel limit, When decoded, Then the code is the API's
    with pytest.raises(ImageTooLargeError) as raised:
        decode_image(_png_header(10_000, 10_000), max_pixels=LIMIT)
    assert raised.value.code == "image_pixels_exceeded"


def test_over_limit_is_checked_before_decoding() -> None:
    # Given a valid 1000x1000 PNG and a limit just below its pixel count
    data = _encode(_gradient(1000, 1000), "PNG")
    with pytest.raises(ImageTooLargeError) as info:
        decode_image(data, max_pixels=999_999)
    assert info.value.details["width"] == 1000


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "HEIF"])
def test_formats_decode_to_bgr(fmt: str) -> None:
    # Given the same picture in each format
    data = _encode(_gradient(64, 48), fmt)
    # When decoded
    image = decode_image(data, max_pixels=LIMIT)
    # Then BGR pixels of the right size: left red (B low, R high), right blue
    assert (image.width, image.height) == (64, 48)
    assert image.pixels.shape == (48, 64, 3)
    assert image.pixels.dtype == np.uint8
    left, right = image.pixels[40, 5], image.pixels[40, 60]
    assert left[2] > 200
    assert left[0] < 60
    assert right[0] > 200
    assert right[2] < 60


def test_gif_first_frame() -> None:
    # Given an animated GIF whose first frame is red and second blue
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    image = decode_image(buf.getvalue(), max_pixels=LIMIT)
    assert image.pixels[16, 16, 2] > 200  # red channel of BGR


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_matches_pillow(orientation: int) -> None:
    # Given a JPEG with an EXIF orientation tag and a capture time
    source = _gradient(80, 40)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 14:03:22"
    data = _encode(source, "JPEG", quality=95, exif=exif.tobytes())
    # When decoded
    image = decode_image(data, max_pixels=LIMIT)
    # Then the pixels equal Pillow's exif_transpose (within JPEG noise), sizes follow

    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert image.pixels.shape == expected.shape
    assert np.abs(image.pixels[:, :, ::-1].astype(int) - expected.astype(int)).mean() < 3
    assert (image.height, image.width) == expected.shape[:2]
    assert image.captured_at == datetime(2024, 5, 17, 14, 3, 22)


def test_large_jpeg_is_decoded_reduced_with_original_size_kept() -> None:
    # Given a 4000x3000 JPEG and a minimum decoded long side of 1280
    data = _encode(_gradient(4000, 3000), "JPEG", quality=80)
    # When decoded
    image = decode_image(data, max_pixels=LIMIT, min_long_side=1280)
    # Then libjpeg decoded it at 1/2 (2000 px ≥ 1280, 1000 px < 1280); sizes are original
    assert (image.width, image.height) == (4000, 3000)
    assert image.pixels.shape == (1500, 2000, 3)
    assert image.scale == pytest.approx(2.0)


def test_renditions_are_upright_sized_and_carry_no_metadata() -> None:
    # Given a 3,000 x 2,000 JPEG shot rotated (EXIF orientation 6) with GPS and a capture time
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 14:03:22"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    data = _encode(_gradient(3000, 2000), "JPEG", quality=90, exif=exif.tobytes())
    decoded = decode_image(data, max_pixels=50_000_000, min_long_side=1280)
    # When the thumbnail (320) and preview (1,280) are rendered
    thumbnail, preview = encode_renditions(decoded.pixels, [320, 1280], quality=82)
    # Then both are upright (portrait, as the camera was held) at their long side
    sizes = [Image.open(io.BytesIO(jpeg)).size for jpeg in (thumbnail, preview)]
    assert sizes == [(213, 320), (853, 1280)]
    # And they carry no EXIF (no GPS, no orientation tag to rotate them twice), no ICC profile
    for jpeg in (thumbnail, preview):
        opened = Image.open(io.BytesIO(jpeg))
        assert len(opened.getexif()) == 0
        assert "exif" not in opened.info
        assert "icc_profile" not in opened.info
    # And the preview's pixels are the oriented original's, shrunk (mean error of JPEG noise)
    expected = np.asarray(
        ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB").resize((853, 1280))
    ).astype(np.float32)
    got = np.asarray(Image.open(io.BytesIO(preview)).convert("RGB")).astype(np.float32)
    assert float(np.abs(got - expected).mean()) < 4.0


def test_small_photos_are_never_upscaled() -> None:
    # Given a 300 x 200 PNG
    decoded = decode_image(_encode(_gradient(300, 200), "PNG"), max_pixels=50_000_000)
    # When rendered at 320 and 1,280, Then both keep 300 x 200
    renditions = encode_renditions(decoded.pixels, [320, 1280], quality=82)
    assert [Image.open(io.BytesIO(j)).size for j in renditions] == [(300, 200), (300, 200)]
