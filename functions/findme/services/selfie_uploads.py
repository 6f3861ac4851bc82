"""Presigned selfie uploads: the path for photos too big for a request body.

On Lambda a request body is capped near 4 MB (``Settings.max_request_body_bytes``: 6 MB
synchronous-invoke payload, base64 by API Gateway). A client with a bigger photo asks for a
presigned POST (:func:`presign`), uploads the file straight to S3, then sends its key as
``selfie_key`` to ``/register``, ``POST /users/me/selfies`` or a face route instead of the file.

Who may use which key: every upload lies in a *slot* of its caller,
``selfies/uploads/{slot}/{upload_id}{ext}``, and a route reads only keys of the caller's own
slot (:func:`read`; any other key is 404, as if it did not exist):

- a signed-in user's slot is ``u-{user_id}`` (:func:`user_slot`);
- before registration there is no user yet: the slot is ``p-`` + an HMAC of the phone number
  keyed by the OTP key (:meth:`findme.services.auth.OtpService.phone_slot`). The upload slot
  is handed out only with the phone's valid sign-in code, and ``/register`` checks the code
  again before reading, so only whoever holds the phone's code can fill or read that slot,
  and a key never shows the phone number.

Upload ids are random UUIDs, so keys cannot be guessed either. The POST policy (AWS S3
"Creating a POST policy") fixes the exact key, the declared content type and
``content-length-range`` 1..``max_upload_bytes``, and expires after
:data:`UPLOAD_EXPIRY_S`. An upload is used once: the route deletes it when it succeeds (a
registered selfie is stored again under ``selfies/{user_id}/``); unused uploads expire with
the bucket lifecycle rule on ``selfies/uploads/`` after :data:`UPLOAD_RETENTION_DAYS` day.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from findme.config import Settings
from findme.domain.keys import CONTENT_TYPES, KeyScheme
from findme.errors import ImageTooLargeError, NotFoundError, UnsupportedMediaTypeError
from findme.ports import ObjectStore, PresignedPost

#: Lifetime of a selfie upload form, seconds (the photo is taken and sent right away).
UPLOAD_EXPIRY_S = 600
#: Days an unused upload is kept (bucket lifecycle rule on ``selfies/uploads/``).
UPLOAD_RETENTION_DAYS = 1
_EXT_BY_TYPE = {ctype: ext for ext, ctype in reversed(list(CONTENT_TYPES.items()))}


@dataclass(frozen=True, slots=True)
class SelfieUpload:
    """A presigned POST for one selfie; ``key`` is what the client sends as ``selfie_key``."""

    key: str
    post: PresignedPost
    max_bytes: int


def user_slot(user_id: str) -> str:
    """The upload slot of a signed-in user."""
    return f"u-{user_id}"


def phone_slot(digest: str) -> str:
    """The upload slot of a phone before registration (``digest``: ``OtpService.phone_slot``)."""
    return f"p-{digest}"


def presign(
    objects: ObjectStore,
    settings: Settings,
    slot: str,
    content_type: str,
    size_bytes: int | None = None,
) -> SelfieUpload:
    """A presigned POST for one photo into ``slot``.

    Args:
        content_type: the photo's type (JPEG, PNG, WebP, GIF, HEIC/HEIF); fixed by the policy.
        size_bytes: the declared size, refused early when over ``max_upload_bytes``.

    Raises:
        UnsupportedMediaTypeError: another content type (415).
        ImageTooLargeError: a declared size over ``max_upload_bytes`` (413).
    """
    ctype = content_type.lower().strip()
    ctype = "image/jpeg" if ctype == "image/jpg" else ctype
    if ctype not in _EXT_BY_TYPE:
        raise UnsupportedMediaTypeError(
            f"content type {content_type!r} is not accepted", accepted=sorted(_EXT_BY_TYPE)
        )
    if size_bytes is not None and size_bytes > settings.max_upload_bytes:
        raise ImageTooLargeError(
            f"the photo is larger than {settings.max_upload_bytes} bytes",
            max_bytes=settings.max_upload_bytes,
        )
    keys = KeyScheme.from_settings(settings)
    key = keys.selfie_upload(slot, str(uuid.uuid4()), _EXT_BY_TYPE[ctype])
    post = objects.presigned_post(
        key,
        content_type_prefix=ctype,
        max_bytes=settings.max_upload_bytes,
        expires_s=min(UPLOAD_EXPIRY_S, settings.presigned_url_expiry_s),
    )
    fields = {**post.fields, "Content-Type": ctype}
    return SelfieUpload(
        key=key,
        post=PresignedPost(post.url, fields, post.key, post.expires),
        max_bytes=settings.max_upload_bytes,
    )


def read(objects: ObjectStore, settings: Settings, slot: str, key: str) -> bytes:
    """The bytes of upload ``key``, which must lie in ``slot``.

    Raises:
        NotFoundError: ``selfie_upload_not_found`` (404): not an upload key, another caller's
            slot, or nothing uploaded there (yet, or any more).
    """
    if KeyScheme.from_settings(settings).slot_of_selfie_upload(key) != slot:
        raise NotFoundError("No such selfie upload", code="selfie_upload_not_found")
    try:
        return objects.get(key)
    except NotFoundError as exc:
        raise NotFoundError("No such selfie upload", code="selfie_upload_not_found") from exc


def discard(objects: ObjectStore, key: str | None) -> None:
    """Delete a used upload (nothing when ``key`` is ``None``; a missing key is fine)."""
    if key:
        objects.delete([key])
