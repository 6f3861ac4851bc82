"""Ports: one small Protocol per external service.

Services take these as arguments; only ``findme.adapters`` import an SDK (boto3, pynamodb,
qdrant_client, onnxruntime, cv2). Real wiring lives in :mod:`findme.wiring`. The metadata
repositories, one per aggregate, live in :mod:`findme.ports.metadata` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from findme.config import Settings
from findme.domain.faces import BoundingBox, DecodedImage, ImageAnalysis
from findme.domain.ratelimits import RateLimitState
from findme.ports.metadata import (
    FaceRepository,
    GroupRepository,
    ImageRepository,
    JobRepository,
    MetadataStore,
    OtpRepository,
    PersonLinkRepository,
    PersonRepository,
    SectionRepository,
    UserRepository,
)


# --- face engine -----------------------------------------------------------------------------
class FaceEngine(Protocol):
    """Photo bytes -> faces. Implementations load models once, lazily, thread-safely."""

    def decode(self, data: bytes) -> DecodedImage:
        """Decode JPEG/PNG/WebP/GIF/HEIC bytes with EXIF orientation applied.

        Raises:
            InvalidImageError: empty, not an image, truncated.
            ImageTooLargeError: over ``Settings.max_image_pixels``.
        """
        ...

    def analyze(
        self,
        data: bytes | DecodedImage,
        *,
        embed: bool = True,
        quality: bool = True,
        attributes: bool = False,
        crops: bool = False,
    ) -> ImageAnalysis:
        """Detect, align and (optionally) embed, score, describe and crop every face."""
        ...

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        """JPEG bytes of the face crop with the configured margin and size."""
        ...

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        """JPEG renditions of the whole photo, one per long side (pixels), never upscaled.

        Pixels come EXIF-oriented from :meth:`decode`; the JPEGs carry no metadata.
        """
        ...


# --- objects (S3) -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size_bytes: int
    content_type: str | None = None
    last_modified: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PresignedPost:
    """A browser/mobile form upload: POST ``fields`` + the file to ``url`` before ``expires``."""

    url: str
    fields: dict[str, str]
    key: str
    expires: datetime


class ObjectStore(Protocol):
    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None: ...

    def get(self, key: str) -> bytes:
        """Raises NotFoundError."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys (missing keys are fine); batches of 1,000."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def open_read(self, key: str) -> IO[bytes]:
        """A streaming reader (never loads the object whole). Raises NotFoundError."""
        ...

    def open_multipart_writer(
        self, key: str, content_type: str
    ) -> AbstractContextManager[IO[bytes]]:
        """A write-only stream uploaded as S3 multipart parts; aborted on exception."""
        ...

    def presigned_post(
        self,
        key: str,
        *,
        content_type_prefix: str = "image/",
        max_bytes: int,
        expires_s: int,
        metadata: dict[str, str] | None = None,
    ) -> PresignedPost: ...

    def presigned_get(
        self, key: str, *, expires_s: int, download_name: str | None = None
    ) -> tuple[str, datetime]:
        """A presigned GET URL and its expiry time (UTC)."""
        ...


# --- vectors (Qdrant) -------------------------------------------------------------------------
@dataclass(slots=True)
class FaceVector:
    """A face embedding with its payload. ``vector`` is ``(128,) float32`` L2-normalised."""

    face_id: str
    group_id: str
    image_id: str
    vector: NDArray[np.float32]
    person_id: str | None = None
    kind: str = "face"  # "face" (group photo) | "reference" (a user's selfie)
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class VectorHit:
    face_id: str
    score: float  # cosine similarity
    group_id: str
    image_id: str
    person_id: str | None
    user_id: str | None = None


class VectorIndex(Protocol):
    def ensure_collection(self) -> None: ...

    def upsert(self, vectors: Sequence[FaceVector]) -> None: ...

    def query(
        self,
        vector: NDArray[np.float32],
        *,
        group_ids: Sequence[str],
        limit: int = 100,
        score_threshold: float | None = None,
        kind: str = "face",
    ) -> list[VectorHit]:
        """Nearest faces by cosine similarity, only within ``group_ids`` (never empty)."""
        ...

    def scroll_group(
        self, group_id: str, *, with_vectors: bool = True, kind: str = "face"
    ) -> Iterator[FaceVector]: ...

    def get(self, face_ids: Sequence[str]) -> list[FaceVector]: ...

    def set_person(self, face_ids: Sequence[str], person_id: str | None) -> None: ...

    def delete_faces(self, face_ids: Sequence[str]) -> None: ...

    def delete_image(self, image_id: str) -> None: ...

    def delete_group(self, group_id: str) -> None: ...

    def delete_user(self, user_id: str) -> None: ...

    def count(self, group_id: str | None = None, *, kind: str = "face") -> int: ...


# --- workflows and notifications -----------------------------------------------------------
class Orchestrator(Protocol):
    """Starts a workflow (Step Functions in AWS; in-process threads on the local stack)."""

    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        """Start ``workflow`` ("digest_prefix" | "cluster" | "zip" | ...) -> execution id."""
        ...


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One received queue message (SQS), with what a Lambda SQS event record carries."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)
    md5_of_body: str = ""


class MessageQueue(Protocol):
    """A queue polled by the local worker (the digest queue fed by S3 notifications)."""

    arn: str

    def receive(self, *, max_messages: int = 10, wait_s: int = 1) -> list[QueueMessage]:
        """Long-poll up to ``max_messages`` messages (``wait_s`` seconds at most)."""
        ...

    def send(self, body: str) -> str:
        """Send one message -> its message id."""
        ...

    def delete(self, receipt_handles: Sequence[str]) -> None: ...


class RateLimiter(Protocol):
    """Fixed-window counters shared by every instance that should agree on a limit.

    In AWS a DynamoDB table (:class:`findme.adapters.ratelimit.DynamoRateLimiter`, an atomic
    ``ADD`` per hit); per process :class:`findme.web.ratelimit.MemoryRateLimiter`.
    """

    def hit(self, key: str, limit: int, window_s: int = 60) -> RateLimitState:
        """Count one event under ``key`` in the current ``window_s``-second window.

        Returns:
            The state after counting; ``allowed`` is False once more than ``limit`` events
            were counted in the window (refused events count too).
        """
        ...


class Notifier(Protocol):
    def send_sms(self, phone_number: str, message: str) -> None: ...


class SecretStore(Protocol):
    def get_secret(self, secret_id: str) -> str: ...


class RemoteFetcher(Protocol):
    """Fetches one remote file for the API (``drive_url`` uploads), safe against SSRF."""

    def fetch(
        self, url: str, settings: Settings, *, allowed_host: Callable[[str], bool]
    ) -> tuple[bytes, str]:
        """Download ``url`` (HTTPS only, every hop's host accepted by ``allowed_host`` and
        public, at most ``settings.max_upload_bytes``) -> ``(bytes, file name)``.

        Raises:
            InvalidInputError: ``https_required``, ``unsupported_url_host``,
                ``forbidden_url_host``, ``unreachable_url``, ``too_many_redirects``,
                ``download_failed``. ImageTooLargeError: over the limit (413).
        """
        ...


__all__ = [
    "FaceEngine",
    "FaceRepository",
    "FaceVector",
    "GroupRepository",
    "ImageRepository",
    "JobRepository",
    "MessageQueue",
    "MetadataStore",
    "Notifier",
    "ObjectInfo",
    "ObjectStore",
    "Orchestrator",
    "OtpRepository",
    "PersonLinkRepository",
    "PersonRepository",
    "PresignedPost",
    "QueueMessage",
    "RateLimiter",
    "RemoteFetcher",
    "SecretStore",
    "SectionRepository",
    "UserRepository",
    "VectorHit",
    "VectorIndex",
]
