"""Reading multipart files within the byte limit, and checking them as photos (shared by the
routes that take images, so a bad file gets the same answer on each)."""

from __future__ import annotations

from fastapi import UploadFile

from findme.config import Settings
from findme.errors import ImageTooLargeError, InvalidImageError
from findme.services.media import CheckedImage, check_image


def read_upload(file: UploadFile | None, settings: Settings, *, field: str = "image") -> bytes:
    """The bytes of one uploaded file, refusing more than ``max_upload_bytes``.

    Reads at most ``max_upload_bytes + 1`` bytes (the file is spooled by Starlette, so this
    never holds more than one image in memory).

    Raises:
        InvalidImageError: no file or an empty one (400).
        ImageTooLargeError: over the limit (413).
    """
    if file is None:
        raise InvalidImageError(f"No {field} file was sent", field=field)
    limit = settings.max_upload_bytes
    file.file.seek(0)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(
            f"{file.filename or field} is larger than {limit} bytes",
            max_bytes=limit,
            file_name=file.filename or field,
        )
    if not data:
        raise InvalidImageError(f"The {field} file is empty", field=field)
    return data


def read_image(
    file: UploadFile | None, settings: Settings, *, field: str = "image"
) -> CheckedImage:
    """:func:`read_upload`, then every check of :func:`findme.services.media.check_image`.

    Raises:
        InvalidImageError: no file, empty or truncated (400).
        ImageTooLargeError: over the byte or the pixel limit (413).
        UnsupportedMediaTypeError: not JPEG, PNG, WebP, GIF or HEIC (415).
    """
    data = read_upload(file, settings, field=field)
    return check_image(data, (file.filename if file else None) or "", settings)
