"""The S3 key scheme, in one place: originals, face thumbnails, archives, selfies.

``originals/{group_id}/{image_id}[.ext]`` — an uploaded photo (any upload path: API, presigned
POST, ``findme upload``); ``thumbnails/{group_id}/{image_id}.jpg`` and
``previews/{group_id}/{image_id}.jpg`` — the photo's renditions for grids (long side 320 px)
and the lightbox (1,280 px); ``faces/{group_id}/{face_id}.jpg`` — a face thumbnail;
``archives/{job_id}.zip`` — a download ZIP (bucket lifecycle deletes it after
``Settings.archive_retention_days``); ``selfies/{user_id}/{face_id}[.ext]`` — a reference
selfie; ``jobs/{job_id}/...`` — a job's work files (the id list its Distributed Map reads,
per-batch summaries; deleted when the job ends, expired by the bucket lifecycle otherwise).
Prefixes come from :class:`findme.config.Settings`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from findme.config import Settings
from findme.errors import InvalidInputError

#: Under ``selfies_prefix``: presigned selfie uploads waiting to be used.
SELFIE_UPLOADS = "uploads/"
#: Group and image ids inside keys: UUIDs in practice; letters, digits, ``-`` and ``_`` allowed.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: File extensions kept on original keys (lower case, with the dot).
_EXT = re.compile(r"^\.[a-z0-9]{1,5}$")


@dataclass(frozen=True, slots=True)
class OriginalKey:
    """A parsed ``originals/{group_id}/{image_id}[.ext]`` key; ``ext`` is ``""`` or ``".jpg"``."""

    group_id: str
    image_id: str
    ext: str = ""


@dataclass(frozen=True, slots=True)
class KeyScheme:
    """Builds and parses FindMe object keys; use :meth:`from_settings`."""

    originals_prefix: str = "originals/"
    faces_prefix: str = "faces/"
    archives_prefix: str = "archives/"
    selfies_prefix: str = "selfies/"
    thumbnails_prefix: str = "thumbnails/"
    previews_prefix: str = "previews/"
    jobs_prefix: str = "jobs/"

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyScheme:
        return cls(
            originals_prefix=settings.originals_prefix,
            faces_prefix=settings.faces_prefix,
            archives_prefix=settings.archives_prefix,
            selfies_prefix=settings.selfies_prefix,
            thumbnails_prefix=settings.thumbnails_prefix,
            previews_prefix=settings.previews_prefix,
            jobs_prefix=settings.jobs_prefix,
        )

    # --- originals ---------------------------------------------------------------------
    def group_originals(self, group_id: str) -> str:
        """Prefix of a group's originals, ``originals/{group_id}/`` (ends with ``/``)."""
        _check_id(group_id, "group_id")
        return f"{self.originals_prefix}{group_id}/"

    def original(self, group_id: str, image_id: str, ext: str = "") -> str:
        """``originals/{group_id}/{image_id}{ext}``; ``ext`` like ``".jpg"`` or ``""``.

        Raises:
            InvalidInputError: an id or extension with characters outside the scheme.
        """
        _check_id(image_id, "image_id")
        ext = ext.lower()
        if ext and not _EXT.match(ext):
            raise InvalidInputError(f"bad file extension {ext!r}", field="ext")
        return f"{self.group_originals(group_id)}{image_id}{ext}"

    def parse_original(self, key: str) -> OriginalKey:
        """Split an original's key into group id, image id and extension.

        Raises:
            InvalidInputError: ``key`` is not ``originals/{group_id}/{image_id}[.ext]``.
        """
        if not key.startswith(self.originals_prefix):
            raise InvalidInputError(f"not an original's key: {key!r}", field="key")
        parts = key[len(self.originals_prefix) :].split("/")
        if len(parts) != 2:
            raise InvalidInputError(f"not an original's key: {key!r}", field="key")
        group_id, name = parts
        stem, ext = posixpath.splitext(name)
        ext = ext.lower()
        if not _ID.match(group_id) or not _ID.match(stem) or (ext and not _EXT.match(ext)):
            raise InvalidInputError(f"not an original's key: {key!r}", field="key")
        return OriginalKey(group_id=group_id, image_id=stem, ext=ext)

    def is_original(self, key: str) -> bool:
        """Whether ``key`` follows the originals scheme (never raises)."""
        try:
            self.parse_original(key)
        except InvalidInputError:
            return False
        return True

    # --- derived objects ------------------------------------------------------------------
    def face_thumbnail(self, group_id: str, face_id: str) -> str:
        """``faces/{group_id}/{face_id}.jpg``."""
        _check_id(group_id, "group_id")
        _check_id(face_id, "face_id")
        return f"{self.faces_prefix}{group_id}/{face_id}.jpg"

    def group_faces(self, group_id: str) -> str:
        """Prefix of a group's face thumbnails, ``faces/{group_id}/``."""
        _check_id(group_id, "group_id")
        return f"{self.faces_prefix}{group_id}/"

    def photo_thumbnail(self, group_id: str, image_id: str) -> str:
        """``thumbnails/{group_id}/{image_id}.jpg``: the photo for grids."""
        _check_id(image_id, "image_id")
        return f"{self.group_thumbnails(group_id)}{image_id}.jpg"

    def photo_preview(self, group_id: str, image_id: str) -> str:
        """``previews/{group_id}/{image_id}.jpg``: the photo for a full-screen view."""
        _check_id(image_id, "image_id")
        return f"{self.group_previews(group_id)}{image_id}.jpg"

    def group_thumbnails(self, group_id: str) -> str:
        """Prefix of a group's photo thumbnails, ``thumbnails/{group_id}/``."""
        _check_id(group_id, "group_id")
        return f"{self.thumbnails_prefix}{group_id}/"

    def group_previews(self, group_id: str) -> str:
        """Prefix of a group's photo previews, ``previews/{group_id}/``."""
        _check_id(group_id, "group_id")
        return f"{self.previews_prefix}{group_id}/"

    def archive(self, job_id: str) -> str:
        """``archives/{job_id}.zip``."""
        _check_id(job_id, "job_id")
        return f"{self.archives_prefix}{job_id}.zip"

    def selfie(self, user_id: str, face_id: str, ext: str = ".jpg") -> str:
        """``selfies/{user_id}/{face_id}{ext}``."""
        _check_id(user_id, "user_id")
        _check_id(face_id, "face_id")
        return f"{self.selfies_prefix}{user_id}/{face_id}{ext.lower()}"

    def selfie_thumbnail(self, user_id: str, face_id: str) -> str:
        """``selfies/{user_id}/{face_id}-face.jpg``: the selfie's face crop."""
        _check_id(user_id, "user_id")
        _check_id(face_id, "face_id")
        return f"{self.selfies_prefix}{user_id}/{face_id}-face.jpg"

    @property
    def selfie_uploads(self) -> str:
        """Prefix of presigned selfie uploads not yet used, ``selfies/uploads/`` (the bucket
        lifecycle expires them; user ids are UUIDs, so no user's selfies live there)."""
        return f"{self.selfies_prefix}{SELFIE_UPLOADS}"

    def selfie_upload(self, slot: str, upload_id: str, ext: str) -> str:
        """``selfies/uploads/{slot}/{upload_id}{ext}``: one presigned upload in a caller's slot."""
        _check_id(slot, "slot")
        _check_id(upload_id, "upload_id")
        if not _EXT.match(ext):
            raise InvalidInputError(f"bad file extension {ext!r}", field="ext")
        return f"{self.selfie_uploads}{slot}/{upload_id}{ext}"

    def slot_of_selfie_upload(self, key: str) -> str | None:
        """The slot of a ``selfies/uploads/{slot}/{upload_id}{ext}`` key, ``None`` for any
        other key (never raises)."""
        if not key.startswith(self.selfie_uploads):
            return None
        parts = key[len(self.selfie_uploads) :].split("/")
        if len(parts) != 2:
            return None
        slot, name = parts
        stem, ext = posixpath.splitext(name)
        if not (_ID.match(slot) and _ID.match(stem) and _EXT.match(ext)):
            return None
        return slot

    # --- job work files -----------------------------------------------------------------
    def job_files(self, job_id: str) -> str:
        """Prefix of a job's work files, ``jobs/{job_id}/``."""
        _check_id(job_id, "job_id")
        return f"{self.jobs_prefix}{job_id}/"

    def job_items(self, job_id: str) -> str:
        """``jobs/{job_id}/items.json``: the JSON array a Distributed Map's ItemReader reads."""
        return f"{self.job_files(job_id)}items.json"

    def job_batches(self, job_id: str) -> str:
        """Prefix of a job's batch summaries, ``jobs/{job_id}/batches/``."""
        return f"{self.job_files(job_id)}batches/"

    def job_batch_summary(self, job_id: str, batch_id: str) -> str:
        """``jobs/{job_id}/batches/{batch_id}.json``: what one item batch did."""
        _check_id(batch_id, "batch_id")
        return f"{self.job_batches(job_id)}{batch_id}.json"


#: Content types of accepted photos by extension (what uploads set on the object).
CONTENT_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heif",
}


def _check_id(value: str, name: str) -> None:
    if not _ID.match(value):
        raise InvalidInputError(f"bad {name} {value!r} for an object key", field=name)
