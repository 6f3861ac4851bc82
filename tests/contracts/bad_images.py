"""A corpus of bad (and awkward but valid) image files, generated in memory, and what FindMe
must answer for each: the rule of ``docs/errors.md``.

Each :class:`BadFile` says how every route taking a photo must treat it:

- ``refused``: the byte checks refuse it before anything is stored or decoded: the same
  ``status`` and ``code`` on every route; a presigned upload of it ends ``failed`` with
  ``code`` as the reason;
- ``undecodable``: it passes the byte checks (type, size, pixels, whole file) but cannot be
  decoded: routes that decode at once (selfies, face routes) answer 400 ``invalid_image``;
  upload routes store it (202) and digest marks it ``failed`` with ``invalid_image``;
- ``photo``: a valid photo in an awkward form (CMYK, 16-bit, 1,000 frames, huge EXIF, a big
  but allowed pixel count): never an error about the file (a selfie without a face is 422
  ``face_requirement``); uploads end ``processed``.

Generated with Pillow and numpy only (deterministic).
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

#: Pixel limit the corpus is built against (Settings.max_image_pixels default: 50 MP).
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class BadFile:
    kind: str
    data: bytes
    file_name: str
    content_type: str
    outcome: str  # "refused" | "undecodable" | "photo"
    status: int | None = None  # for "refused"
    code: str | None = None  # for "refused" (and the digest reason)

    def __repr__(self) -> str:  # short ids in pytest output
        return f"BadFile({self.kind}, {len(self.data)} bytes)"


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A whole PNG whose header declares ``width`` x ``height`` (RGB) over a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _png_with_bad_idat() -> bytes:
    """Whole structure (IEND present, right CRCs), but the image data is not zlib."""
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"this is not zlib data" * 20)
        + _chunk(b"IEND", b"")
    )


def _png_text_bomb() -> bytes:
    """A small PNG with a zTXt chunk before the image data that inflates to 64 MB (a text
    decompression bomb, read while the header is parsed)."""
    base = _encode(_noise(32, 32), "PNG")
    bomb = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 64_000_000, 9))
    after_ihdr = 8 + 25  # signature, then IHDR: length, type, 13 bytes, CRC
    return base[:after_ihdr] + bomb + base[after_ihdr:]


def _gif_declaring(width: int, height: int) -> bytes:
    base = bytearray(_encode(_noise(16, 16).convert("P"), "GIF"))
    base[6:10] = struct.pack("<HH", width, height)
    return bytes(base)


def _jpeg_with_huge_exif(base: bytes, segments: int = 40) -> bytes:
    """``base`` with ``segments`` APP1 segments of ~64 KB each (EXIF-like junk) after SOI."""
    rng = np.random.default_rng(3)
    app1 = b""
    for _ in range(segments):
        body = b"Exif\x00\x00MM\x00*" + rng.integers(0, 255, 65_000, dtype=np.uint8).tobytes()
        app1 += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return base[:2] + app1 + base[2:]


def _gif_frames(count: int) -> bytes:
    rng = np.random.default_rng(7)
    frames = [
        Image.fromarray(rng.integers(0, 255, size=(32, 32), dtype=np.uint8)).convert("P")
        for _ in range(count)
    ]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)


def _svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="60000" '
        b'height="60000"><rect width="100%" height="100%" fill="red"/></svg>'
    )


@functools.cache
def corpus(face_photo: Path | None = None, *, max_bytes: int | None = None) -> tuple[BadFile, ...]:
    """The corpus (see the module docstring); built once per arguments (~1.5 s).

    Args:
        face_photo: a real photo of one face; its CMYK and 16-bit versions are included
            (they must still be found as faces). Synthetic photos otherwise.
        max_bytes: the server's ``max_upload_bytes``; adds a file one byte over it.
    """
    jpeg = face_photo.read_bytes() if face_photo is not None else _encode(_noise(640, 480), "JPEG")
    rgb = Image.open(io.BytesIO(jpeg)).convert("RGB")
    png = _encode(_noise(320, 240, seed=1), "PNG")
    files = [
        BadFile("empty", b"", "empty.jpg", "image/jpeg", "refused", 400, "invalid_image"),
        BadFile(
            "truncated_jpeg",
            jpeg[: len(jpeg) // 2],
            "cut.jpg",
            "image/jpeg",
            "refused",
            400,
            "invalid_image",
        ),
        BadFile(
            "truncated_png",
            png[: len(png) // 2],
            "cut.png",
            "image/png",
            "refused",
            400,
            "invalid_image",
        ),
        BadFile(
            "png_bomb_60000x60000",
            png_declaring(60_000, 60_000),
            "bomb.png",
            "image/png",
            "refused",
            413,
            "image_pixels_exceeded",
        ),
        BadFile(
            "png_bomb_10000x10000",
            _encode(Image.new("L", (10_000, 10_000)), "PNG"),
            "bomb10k.png",
            "image/png",
            "refused",
            413,
            "image_pixels_exceeded",
        ),
        BadFile(
            "gif_bomb_60000x60000",
            _gif_declaring(60_000, 60_000),
            "bomb.gif",
            "image/gif",
            "refused",
            413,
            "image_pixels_exceeded",
        ),
        BadFile(
            "svg",
            _svg(),
            "vector.svg",
            "image/svg+xml",
            "refused",
            415,
            "unsupported_media_type",
        ),
        BadFile(
            "tiff",
            _encode(_noise(64, 64), "TIFF"),
            "scan.tiff",
            "image/tiff",
            "refused",
            415,
            "unsupported_media_type",
        ),
        BadFile(
            "tiff_named_heic",
            _encode(_noise(64, 64), "TIFF"),
            "IMG_0001.HEIC",
            "image/heic",
            "refused",
            415,
            "unsupported_media_type",
        ),
        BadFile(
            "bmp",
            _encode(_noise(64, 64), "BMP"),
            "old.bmp",
            "image/bmp",
            "refused",
            415,
            "unsupported_media_type",
        ),
        BadFile(
            "text_named_jpg",
            b"hello, this is not a photo\n" * 10,
            "notes.jpg",
            "image/jpeg",
            "refused",
            415,
            "unsupported_media_type",
        ),
        BadFile("png_bad_idat", _png_with_bad_idat(), "bad.png", "image/png", "undecodable"),
        BadFile("png_text_bomb", _png_text_bomb(), "ztxt.png", "image/png", "undecodable"),
        BadFile(
            "jpeg_huge_exif",
            _jpeg_with_huge_exif(_encode(_noise(320, 240, seed=2), "JPEG")),
            "exif.jpg",
            "image/jpeg",
            "photo",
        ),
        BadFile("gif_1000_frames", _gif_frames(1000), "anim.gif", "image/gif", "photo"),
        BadFile(
            "cmyk_jpeg", _encode(rgb.convert("CMYK"), "JPEG"), "cmyk.jpg", "image/jpeg", "photo"
        ),
        BadFile(
            "png_16_bit",
            _encode(Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257), "PNG"),
            "deep.png",
            "image/png",
            "photo",
        ),
        BadFile(
            "png_6000x6000",
            _encode(Image.new("L", (6_000, 6_000)), "PNG"),
            "big.png",
            "image/png",
            "photo",
        ),
    ]
    if max_bytes is not None:
        over = jpeg + b"\x00" * max(0, max_bytes + 1 - len(jpeg))
        files.append(
            BadFile(
                "over_max_bytes", over, "big.jpg", "image/jpeg", "refused", 413, "image_too_large"
            )
        )
    return tuple(files)
