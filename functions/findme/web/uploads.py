"""Reading an image from a request: a multipart file within the byte limit, or a presigned
upload (``selfie_key``) from the caller's own upload slot; and checking it as a photo (shared
by the routes that take images, so a bad file gets the same answer on each)."""

from __future__ import annotations

from fastapi import UploadFile

from findme.config import Settings
from findme.errors import ImageTooLargeError, InvalidImageError, InvalidInputError
from findme.ports import ObjectStore
from findme.services import selfie_uploads
from findme.services.media import CheckedImage, check_image
from findme.web.limits import file_limit


def read_upload(file: UploadFile | None, settings: Settings, *, field: str = "image") -> bytes:
    """The bytes of one uploaded file, refusing more than :func:`~findme.web.limits.file_limit`.

    Reads at most that limit + 1 bytes (the file is spooled by Starlette, so this never holds
    more than one image in memory).

    Raises:
        InvalidImageError: no file or an empty one (400).
        ImageTooLargeError: over the limit (413); bigger photos go by presigned POST.
    """
    if file is None:
        raise InvalidImageError(f"No {field} file was sent", field=field)
    limit = file_limit(settings)
    file.file.seek(0)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(
            f"{file.filename or field} is larger than {limit} bytes; upload it by presigned "
            "POST and send its selfie_key instead",
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


def read_photo(
    file: UploadFile | None,
    selfie_key: str | None,
    *,
    settings: Settings,
    objects: ObjectStore,
    slot: str,
    field: str = "image",
) -> bytes:
    """The request's image: the multipart ``file``, or the presigned upload ``selfie_key``
    (which must lie in ``slot``, the caller's upload slot; see
    :mod:`findme.services.selfie_uploads`).

    Raises:
        InvalidInputError: both or neither given (400).
        NotFoundError: ``selfie_upload_not_found`` (404): no such upload in the caller's slot.
        ImageTooLargeError, InvalidImageError: see :func:`read_upload`.
    """
    if selfie_key and file is not None:
        raise InvalidInputError(f"Send either a {field} file or a selfie_key, not both")
    if selfie_key:
        return selfie_uploads.read(objects, settings, slot, selfie_key)
    return read_upload(file, settings, field=field)
