"""Photos in and out: upload checks, multipart and Drive uploads, presigned POSTs, image CRUD.

Upload limits (all from :class:`~findme.config.Settings`), checked before anything is
written, so a refused request leaves nothing behind. The same bad file gets the same answer
on every route that takes one (``docs/errors.md``):

=====================  ========================================  ============================
check                  rule                                      error (HTTP, code)
=====================  ========================================  ============================
bytes per file         ``max_upload_bytes``                       413 ``image_too_large``
files per request      ``max_upload_files``                       422 ``too_many_files``
empty                  at least one byte                          400 ``invalid_image``
type (magic bytes)     JPEG, PNG, WebP, GIF, HEIC/HEIF            415 ``unsupported_media_type``
pixels per image       ``max_image_pixels`` (header, no decode)   413 ``image_pixels_exceeded``
whole file             the format's end is there (no decode)      400 ``invalid_image``
=====================  ========================================  ============================

The file type is sniffed from the bytes (the client's ``Content-Type`` is not trusted);
pixel counts are read from the JPEG/PNG/GIF/WebP header without decoding (HEIC is
checked by the decoder); truncation by :func:`findme.domain.image_format.is_complete`.
Corruption only decoding reveals is found by the decoder (400 ``invalid_image`` on the
routes that decode; digest marks such an upload ``failed``).

Writes go image item first, then the S3 object: the S3 ``ObjectCreated`` notification
starts digest, which finds the item (status ``uploaded``) and never races an item written
after it. If a put fails midway, everything this request wrote is removed again.

Why one module of about 470 lines: every check a photo passes before anything is stored, shared
by every upload path, is in one place.
"""

from __future__ import annotations

import posixpath
import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from findme.config import Settings
from findme.domain.image_format import is_complete
from findme.domain.keys import CONTENT_TYPES, KeyScheme
from findme.domain.records import Face, Image, ImageStatus, Person
from findme.errors import (
    FindMeError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidInputError,
    NotFoundError,
    UnsupportedMediaTypeError,
)
from findme.ports import (
    FaceRepository,
    GroupRepository,
    ImageRepository,
    ObjectStore,
    PersonRepository,
    PresignedPost,
    SectionRepository,
)
from findme.services.auth import Principal
from findme.services.groups import set_image_common
from findme.services.policy import GroupAccess, Need, authorize, denied


class FacesWithPersonsStore(FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`faces_with_persons` uses."""


class StoreUploadsStore(GroupRepository, SectionRepository, ImageRepository, Protocol):
    """The metadata repositories :func:`store_uploads`, :func:`update_image` use."""


#: Object metadata names read by digest when it creates the image item itself.
META_UPLOADED_BY = "uploaded-by"
META_FILE_NAME = "file-name"
META_SECTION_ID = "section-id"
#: Content types FindMe accepts for photos (the values of ``CONTENT_TYPES``).
ACCEPTED_TYPES: frozenset[str] = frozenset(CONTENT_TYPES.values())


# --- checks -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckedImage:
    """Upload bytes that passed every limit; ``ext`` like ``".jpg"``."""

    data: bytes
    file_name: str
    ext: str
    content_type: str
    width: int | None
    height: int | None


def sniff_image_type(data: bytes) -> tuple[str, str]:
    """``(ext, content_type)`` from the file's magic bytes.

    Signatures: JPEG ``FF D8 FF``; PNG ``89 50 4E 47 0D 0A 1A 0A``; GIF ``GIF87a``/``GIF89a``;
    WebP ``RIFF....WEBP``; HEIC/HEIF an ISO-BMFF ``ftyp`` box with a HEIF brand (ISO/IEC 23008-12).

    Raises:
        InvalidImageError: empty data.
        UnsupportedMediaTypeError: anything else (``code="unsupported_media_type"``).
    """
    if not data:
        raise InvalidImageError("The file is empty")
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg", "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png", "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif", "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp", "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis"):
        return ".heic", "image/heic"
    if data[4:8] == b"ftyp" and data[8:12] in (b"mif1", b"msf1"):
        return ".heif", "image/heif"
    raise UnsupportedMediaTypeError(
        "Only JPEG, PNG, WebP, GIF and HEIC photos are accepted",
        accepted=sorted(ACCEPTED_TYPES),
    )


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels from a JPEG/PNG/GIF/WebP header, or ``None`` if unknown.

    JPEG: the first SOF0-SOF15 marker (except DHT C4, JPG C8, DAC CC); PNG: IHDR; GIF: the
    logical screen; WebP: VP8 / VP8L / VP8X headers (RFC 9649).
    """
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            chunk = data[12:16]
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return int(w) & 0x3FFF, int(h) & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8X":
                w = int.from_bytes(data[24:27], "little") + 1
                h = int.from_bytes(data[27:30], "little") + 1
                return w, h
            return None
        if data[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                    i += 2 if marker != 0xFF else 1
                    continue
                length = struct.unpack(">H", data[i + 2 : i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return int(w), int(h)
                i += 2 + length
    except struct.error:
        return None
    return None


def check_image(data: bytes, file_name: str, settings: Settings) -> CheckedImage:
    """Apply the byte, type, pixel and whole-file checks to one upload (module docstring).

    Raises:
        ImageTooLargeError: more than ``max_upload_bytes`` (413 ``image_too_large``) or
            more than ``max_image_pixels`` (413 ``image_pixels_exceeded``).
        InvalidImageError: empty, a header without pixels, or truncated (400).
        UnsupportedMediaTypeError: not a photo type FindMe accepts (415).
    """
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLargeError(
            f"{file_name or 'file'} is larger than {settings.max_upload_bytes} bytes",
            max_bytes=settings.max_upload_bytes,
            file_name=file_name,
        )
    ext, content_type = sniff_image_type(data)
    dims = image_dimensions(data)
    if dims is not None and dims[0] * dims[1] > settings.max_image_pixels:
        raise ImageTooLargeError(
            f"{file_name or 'image'} has {dims[0]}x{dims[1]} pixels, more than "
            f"{settings.max_image_pixels}",
            code="image_pixels_exceeded",
            max_pixels=settings.max_image_pixels,
            file_name=file_name,
        )
    if dims is not None and 0 in dims:
        raise InvalidImageError(f"{file_name or 'image'} has no pixels", file_name=file_name)
    if not is_complete(data, ext):
        raise InvalidImageError(
            f"{file_name or 'image'} is truncated (the file ends early)", file_name=file_name
        )
    safe_name = posixpath.basename((file_name or "").replace("\\", "/"))[:200] or f"photo{ext}"
    return CheckedImage(
        data=data,
        file_name=safe_name,
        ext=ext,
        content_type=content_type,
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
    )


def check_file_count(count: int, settings: Settings) -> None:
    """Raises InvalidInputError ``too_many_files`` (422) or ``no_files`` (400)."""
    if count == 0:
        raise InvalidInputError("No files were sent", code="no_files")
    if count > settings.max_upload_files:
        raise InvalidInputError(
            f"At most {settings.max_upload_files} files per request",
            code="too_many_files",
            max_files=settings.max_upload_files,
        )


# --- uploads ------------------------------------------------------------------------------------
def check_section(metadata: SectionRepository, group_id: str, section_id: str | None) -> str | None:
    """``section_id`` if it names a section of the group (``None``/blank -> ``None``).

    Raises:
        InvalidInputError: ``code="unknown_section"`` (422) when the group has no such section.
    """
    if section_id is None or not section_id.strip():
        return None
    wanted = section_id.strip()
    if wanted not in {s.section_id for s in metadata.list_sections(group_id)}:
        raise InvalidInputError(
            "No such section in this group", code="unknown_section", section_id=wanted
        )
    return wanted


def _object_metadata(user_id: str, file_name: str, section_id: str | None) -> dict[str, str]:
    """S3 user metadata of an original (read by digest when it creates the image item)."""
    meta = {META_UPLOADED_BY: user_id, META_FILE_NAME: _ascii(file_name)}
    if section_id is not None:
        meta[META_SECTION_ID] = section_id
    return meta


def store_uploads(
    *,
    metadata: StoreUploadsStore,
    objects: ObjectStore,
    settings: Settings,
    principal: Principal,
    group_id: str,
    files: Sequence[CheckedImage],
    section_id: str | None = None,
) -> list[str]:
    """Write checked photos to a group (UPLOAD) -> the new image ids.

    Each photo: image item (``uploaded``, in section ``section_id`` if given), then the
    original at ``originals/{group_id}/{image_id}{ext}`` (object metadata ``section-id``
    too); the bucket notification triggers digest.

    Raises:
        PermissionDeniedError / NotFoundError: the policy (:mod:`findme.services.policy`).
        InvalidInputError: ``unknown_section`` (422), checked before anything is written.
        DependencyError: S3 or DynamoDB failed (what was written is removed again).
    """
    authorize(metadata, principal, group_id, Need.UPLOAD)
    check_file_count(len(files), settings)
    section = check_section(metadata, group_id, section_id)
    keys = KeyScheme.from_settings(settings)
    written: list[Image] = []
    try:
        for checked in files:
            image_id = str(uuid.uuid4())
            image = Image(
                image_id=image_id,
                group_id=group_id,
                s3_key=keys.original(group_id, image_id, checked.ext),
                status=ImageStatus.UPLOADED,
                file_name=checked.file_name,
                content_type=checked.content_type,
                size_bytes=len(checked.data),
                width=checked.width,
                height=checked.height,
                uploaded_by=principal.user_id,
                section_id=section,
            )
            metadata.put_image(image)
            written.append(image)
            objects.put(
                image.s3_key,
                checked.data,
                checked.content_type,
                _object_metadata(principal.user_id, checked.file_name, section),
            )
    except FindMeError:
        _undo_uploads(metadata, objects, written)
        raise
    return [image.image_id for image in written]


def _undo_uploads(metadata: ImageRepository, objects: ObjectStore, images: list[Image]) -> None:
    try:
        objects.delete([image.s3_key for image in images])
    finally:
        for image in images:
            try:
                metadata.delete_image(image.image_id)
            except FindMeError:
                continue


def _ascii(name: str) -> str:
    """S3 user metadata must be US-ASCII; other characters become ``_``."""
    return re.sub(r"[^\x20-\x7e]", "_", name)[:200]


def presign_uploads(
    *,
    metadata: SectionRepository,
    objects: ObjectStore,
    settings: Settings,
    access: GroupAccess,
    files: Sequence[tuple[str, str, int | None]],
    section_id: str | None = None,
) -> list[tuple[str, str, PresignedPost]]:
    """Presigned POSTs for ``(file_name, content_type, size)`` -> ``(image_id, name, post)``.

    Each POST is bound to one exact key ``originals/{group_id}/{image_id}{ext}``, to the
    declared content type and to 1..``max_upload_bytes`` bytes (S3 enforces the policy),
    and expires after ``presigned_url_expiry_s`` seconds. Digest creates the image item
    from the object's metadata when the file arrives. A ``section_id`` (one for the whole
    request) becomes the ``x-amz-meta-section-id`` field, fixed by a policy condition, so
    the client cannot change it and digest files the image in that section.

    Args:
        access: the caller's access to the group, with UPLOAD (the caller is recorded as
            the uploader).

    Raises:
        PermissionDeniedError: ``access`` lacks UPLOAD.
        UnsupportedMediaTypeError: a content type other than JPEG/PNG/WebP/GIF/HEIC (415).
        ImageTooLargeError: a declared size over ``max_upload_bytes`` (413).
        InvalidInputError: ``too_many_files`` or ``unknown_section`` (422).
    """
    if not access.allows(Need.UPLOAD):
        raise denied(Need.UPLOAD, access.role)
    group_id = access.group.group_id
    check_file_count(len(files), settings)
    section = check_section(metadata, group_id, section_id)
    keys = KeyScheme.from_settings(settings)
    by_type = {ctype: ext for ext, ctype in reversed(list(CONTENT_TYPES.items()))}
    planned: list[tuple[str, str, str, str]] = []
    for file_name, content_type, size in files:
        ctype = content_type.lower().strip()
        if ctype == "image/jpg":
            ctype = "image/jpeg"
        if ctype not in ACCEPTED_TYPES:
            raise UnsupportedMediaTypeError(
                f"{file_name}: content type {content_type!r} is not accepted",
                accepted=sorted(ACCEPTED_TYPES),
                file_name=file_name,
            )
        if size is not None and size > settings.max_upload_bytes:
            raise ImageTooLargeError(
                f"{file_name} is larger than {settings.max_upload_bytes} bytes",
                max_bytes=settings.max_upload_bytes,
                file_name=file_name,
            )
        image_id = str(uuid.uuid4())
        safe_name = posixpath.basename(file_name.replace("\\", "/"))[:200] or "photo"
        planned.append(
            (image_id, safe_name, ctype, keys.original(group_id, image_id, by_type[ctype]))
        )
    out: list[tuple[str, str, PresignedPost]] = []
    for image_id, safe_name, ctype, key in planned:
        post = objects.presigned_post(
            key,
            content_type_prefix=ctype,
            max_bytes=settings.max_upload_bytes,
            expires_s=settings.presigned_url_expiry_s,
            metadata=_object_metadata(access.user_id, safe_name, section),
        )
        # The policy fixes the Content-Type prefix; hand clients the exact value to send.
        fields = {**post.fields, "Content-Type": ctype}
        out.append((image_id, safe_name, PresignedPost(post.url, fields, post.key, post.expires)))
    return out


# --- one image ----------------------------------------------------------------------------------
def update_image(
    metadata: StoreUploadsStore,
    image: Image,
    *,
    tags: list[str] | None = None,
    description: str | None = None,
    section_id: str | None = None,
    section_given: bool = False,
    common: bool | None = None,
) -> Image:
    """Update tags, description, section and the common flag (only the fields given).

    Raises:
        InvalidInputError: ``unknown_section`` (422) when ``section_id`` is not a section of
            the group.
    """
    if tags is not None:
        image.tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if description is not None:
        image.description = description
    if section_given:
        image.section_id = check_section(metadata, image.group_id, section_id)
    if common is not None and common != image.common:
        image.common = common
        set_image_common(metadata, image, common)
    metadata.put_image(image)
    return image


def faces_with_persons(
    metadata: FacesWithPersonsStore, image_id: str
) -> list[tuple[Face, Person | None]]:
    """An image's faces in detection order, each with its person (``None``: unassigned, or
    a person since removed)."""
    faces = metadata.list_faces_of_image(image_id)
    persons: dict[str, Person] = {}
    for person_id in dict.fromkeys(f.person_id for f in faces if f.person_id):
        try:
            persons[person_id] = metadata.get_person(person_id)
        except NotFoundError:
            continue
    return [(f, persons.get(f.person_id or "")) for f in faces]


def load_images(metadata: ImageRepository, image_ids: Sequence[str]) -> dict[str, Image]:
    """The images that exist among ``image_ids`` (missing ones are left out)."""
    return {image.image_id: image for image in metadata.get_images(image_ids)}


@dataclass(frozen=True, slots=True)
class PhotoLinks:
    """Presigned GET URLs of a photo: the original, and its renditions when digest made them."""

    url: str
    thumbnail_url: str | None
    preview_url: str | None
    expires: datetime


def photo_links(objects: ObjectStore, image: Image, *, expires_s: int) -> PhotoLinks:
    """Sign the original and its thumbnail and preview (``None`` when not rendered yet).

    Signing is local (no request to S3): three URLs cost well under a millisecond.
    """
    url, expires = objects.presigned_get(image.s3_key, expires_s=expires_s)
    thumbnail = preview = None
    if image.thumbnail_key:
        thumbnail, _ = objects.presigned_get(image.thumbnail_key, expires_s=expires_s)
    if image.preview_key:
        preview, _ = objects.presigned_get(image.preview_key, expires_s=expires_s)
    return PhotoLinks(url=url, thumbnail_url=thumbnail, preview_url=preview, expires=expires)
