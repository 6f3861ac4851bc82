"""Photo bytes -> BGR pixels, EXIF orientation applied, with typed errors for bad input; and
pixels -> JPEG renditions (thumbnails, previews) without metadata.

The header is read first (Pillow, lazily: no pixel data) so an image over the pixel limit is
refused before any decoding (decompression-bomb guard). JPEG, PNG and WebP decode with OpenCV;
large JPEGs decode at 1/2, 1/4 or 1/8 resolution (``IMREAD_REDUCED_*``, done inside libjpeg,
so it is also faster) when the result keeps at least ``min_long_side`` pixels. GIF (first
frame), HEIC/HEIF (pillow-heif) and anything OpenCV refuses decode with Pillow.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener

from findme.domain.faces import DecodedImage
from findme.domain.image_format import jpeg_is_complete
from findme.errors import ImageTooLargeError, InvalidImageError

register_heif_opener()

_EXIF_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
#: EXIF 2.31 OffsetTimeOriginal: the UTC offset of DateTimeOriginal, ``"+HH:MM"``/``"-HH:MM"``.
_OFFSET_TIME_ORIGINAL = 0x9011
_CV2_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF"})
_REDUCED = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def _open_header(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise InvalidImageError("empty file")
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"image is over the pixel limit: {exc}",
            code="image_pixels_exceeded",
            max_pixels=max_pixels,
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidImageError("not a recognised image format") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise InvalidImageError("image has no pixels")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height} pixels, over the {max_pixels} limit",
            code="image_pixels_exceeded",
            width=width,
            height=height,
            max_pixels=max_pixels,
        )
    return img


def _orient(pixels: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    """Apply an EXIF orientation (1-8) to ``(H, W, 3)`` pixels (as Pillow's exif_transpose)."""
    ops = {
        2: lambda p: p[:, ::-1],
        3: lambda p: p[::-1, ::-1],
        4: lambda p: p[::-1, :],
        5: lambda p: p.transpose(1, 0, 2),
        6: lambda p: np.rot90(p, k=-1),
        7: lambda p: np.rot90(p, k=-1)[::-1, :],
        8: lambda p: np.rot90(p, k=1),
    }
    op = ops.get(orientation)
    return pixels if op is None else np.ascontiguousarray(op(pixels))


def _captured_at(img: Image.Image) -> datetime | None:
    """EXIF DateTimeOriginal, aware when OffsetTimeOriginal gives its UTC offset, else naive
    (camera wall time)."""
    try:
        ifd = img.getexif().get_ifd(_EXIF_IFD)
        raw = ifd.get(_DATETIME_ORIGINAL)
        if not raw:
            return None
        taken = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except (ValueError, TypeError, OSError, KeyError, SyntaxError):
        return None
    offset = exif_utc_offset(ifd.get(_OFFSET_TIME_ORIGINAL))
    return taken if offset is None else taken.replace(tzinfo=offset)


def exif_utc_offset(raw: object) -> timezone | None:
    """An EXIF OffsetTime* value (``"-07:00"``, ``"+05:30"``, ``"Z"``) as a timezone, else
    ``None`` (absent, blank or malformed; offsets are within ±14:00)."""
    text = str(raw).strip("\x00 ") if raw is not None else ""
    if text in ("Z", "+00:00", "-00:00"):
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text)
    if match is None:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes > 14 * 60 or int(match.group(3)) >= 60:
        return None
    return timezone(timedelta(minutes=-minutes if match.group(1) == "-" else minutes))


def _reduction(fmt: str, width: int, height: int, min_long_side: int) -> tuple[int, int]:
    if fmt != "JPEG":
        return 1, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    long_side = max(width, height)
    for factor, flag in _REDUCED:
        if long_side / factor >= min_long_side:
            return factor, flag | cv2.IMREAD_IGNORE_ORIENTATION
    return 1, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def _decode_pillow(img: Image.Image) -> NDArray[np.uint8]:
    try:
        img.seek(0)  # GIF/animated WebP/HEIC sequences: the first frame
        rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImageError("image data is corrupt or truncated") from exc
    return np.ascontiguousarray(rgb[:, :, ::-1])


def decode_image(data: bytes, *, max_pixels: int, min_long_side: int = 1280) -> DecodedImage:
    """Decode photo bytes with EXIF orientation applied.

    Args:
        data: the file's bytes (JPEG, PNG, WebP, GIF, HEIC/HEIF, BMP, TIFF).
        max_pixels: refuse images with more pixels than this (checked from the header).
        min_long_side: a JPEG is decoded at 1/2, 1/4 or 1/8 resolution only if its long side
            stays at least this many pixels.

    Returns:
        ``pixels`` ``(H, W, 3) uint8`` BGR, ``width``/``height`` of the oriented original,
        ``scale`` = original pixels per decoded pixel.

    Raises:
        InvalidImageError: empty, not an image, truncated or corrupt.
        ImageTooLargeError: more than ``max_pixels`` pixels.
    """
    img = _open_header(data, max_pixels)
    fmt = (img.format or "").upper()
    raw_w, raw_h = img.size
    try:
        orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        orientation = 1
    factor = 1
    pixels: NDArray[np.uint8] | None = None
    if fmt in _CV2_FORMATS:
        if fmt == "JPEG" and not jpeg_is_complete(data):
            raise InvalidImageError("JPEG data is truncated")
        factor, flags = _reduction(fmt, raw_w, raw_h, min_long_side)
        buf = np.frombuffer(data, dtype=np.uint8)
        decoded = cv2.imdecode(buf, flags)
        if decoded is not None and decoded.ndim == 3 and decoded.shape[2] == 3:
            pixels = decoded.astype(np.uint8, copy=False)
        else:
            factor = 1
    if pixels is None:
        # A fresh image: reading EXIF may already have tried (and failed) to load this one,
        # and Pillow would then hand back blank pixels instead of the error.
        pixels = _decode_pillow(Image.open(io.BytesIO(data)))
    else:
        pixels = _orient(pixels, orientation)
    swapped = orientation in (5, 6, 7, 8)
    width, height = (raw_h, raw_w) if swapped else (raw_w, raw_h)
    scale = width / pixels.shape[1] if factor > 1 else 1.0
    return DecodedImage(
        pixels=pixels,
        width=width,
        height=height,
        scale=scale,
        captured_at=_captured_at(img),
        format=fmt or None,
    )


def encode_renditions(
    pixels: NDArray[np.uint8], long_sides: list[int] | tuple[int, ...], *, quality: int
) -> list[bytes]:
    """JPEGs of the whole picture, one per long side, never upscaled.

    Each rendition is resized from the next larger one, so a 320-pixel thumbnail costs a
    1,280-pixel preview's resize, not a full-resolution one. Shrinking by less than half uses
    bilinear interpolation (every source pixel still contributes; 4.9 vs 10.5 ms per faces-dev
    photo for both renditions with ``INTER_AREA``, whose non-integer ratios are slow), by more
    ``INTER_AREA`` (the averaging filter, no aliasing). ``cv2.imencode`` writes a bare JFIF: no
    EXIF (no GPS, no camera serial, no orientation tag: the pixels are already upright), no
    ICC profile.

    Args:
        pixels: ``(H, W, 3) uint8`` BGR, upright (EXIF orientation applied).
        long_sides: wanted long sides in pixels, in any order.
        quality: JPEG quality (1-100).

    Returns:
        JPEG bytes in the order of ``long_sides``.

    Raises:
        InvalidImageError: the encoder failed.
    """
    out: dict[int, bytes] = {}
    current = pixels
    for side in sorted(set(long_sides), reverse=True):
        h, w = current.shape[:2]
        k = side / max(h, w)
        if k < 1.0:
            size = (max(1, round(w * k)), max(1, round(h * k)))
            interpolation = cv2.INTER_LINEAR if k >= 0.5 else cv2.INTER_AREA
            current = np.asarray(cv2.resize(current, size, interpolation=interpolation))
        ok, buf = cv2.imencode(".jpg", current, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise InvalidImageError("JPEG encoding of a rendition failed")
        out[side] = bytes(buf.tobytes())
    return [out[side] for side in long_sides]
