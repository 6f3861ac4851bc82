"""Is a photo file whole? Checked from its bytes alone, without decoding (cheap enough for the
API to check every upload before storing it).

A file is complete when its format's end is there:

=======  ===========================================================================
format   rule
=======  ===========================================================================
JPEG     an EOI marker (``FF D9``) after the last SOS marker (``FF DA``); ``FF`` bytes
         inside entropy-coded data are always stuffed (``FF 00``), so that EOI is the real
         end (ITU-T T.81, B.1.1.5)
PNG      an ``IEND`` chunk with its fixed CRC ``AE 42 60 82`` (PNG spec, 11.2.5)
GIF      the trailer byte ``3B`` as the last byte (trailing NUL padding allowed; GIF89a, 27)
WebP     the RIFF size field covers the file (RFC 9649, 2.5)
HEIC     the top-level ISO-BMFF boxes fit in the file (ISO/IEC 14496-12, 4.2)
=======  ===========================================================================
"""

from __future__ import annotations

_PNG_IEND = b"IEND\xaeB`\x82"


def jpeg_is_complete(data: bytes) -> bool:
    """A JPEG whose last scan (SOS) is followed by an EOI marker (libjpeg fills the rest of a
    truncated file with grey instead of failing)."""
    return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") >= 0


def _boxes_fit(data: bytes) -> bool:
    offset = 0
    while offset < len(data):
        if offset + 8 > len(data):
            return False
        size = int.from_bytes(data[offset : offset + 4], "big")
        if size == 1:  # 64-bit "largesize" after the type
            if offset + 16 > len(data):
                return False
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:  # the box runs to the end of the file
            return True
        if size < 8 or offset + size > len(data):
            return False
        offset += size
    return True


def is_complete(data: bytes, ext: str) -> bool:
    """Whether ``data`` (of the type ``ext`` sniffed from it: ``.jpg``, ``.png``, ``.gif``,
    ``.webp``, ``.heic``/``.heif``) ends as its format requires (see the module docstring).

    Returns:
        ``False`` for a truncated file; ``True`` for a complete one or an unknown ``ext``.
    """
    if ext == ".jpg":
        return jpeg_is_complete(data)
    if ext == ".png":
        return data.rfind(_PNG_IEND) > 8
    if ext == ".gif":
        return data.rstrip(b"\x00")[-1:] == b";"
    if ext == ".webp":
        return len(data) >= 12 and len(data) >= int.from_bytes(data[4:8], "little") + 8
    if ext in (".heic", ".heif"):
        return _boxes_fit(data)
    return True
