"""Digest one uploaded photo: renditions, faces, thumbnails, vectors, placing new faces.

Per original ``originals/{group_id}/{image_id}[.ext]``: read it from S3, decode (EXIF
orientation applied), detect, align, embed, score quality (and attributes when enabled),
render the photo's thumbnail ``thumbnails/{group_id}/{image_id}.jpg`` (long side
``photo_thumbnail_px``, 320) and preview ``previews/{group_id}/{image_id}.jpg``
(``photo_preview_px``, 1,280) from the decoded pixels and write them (in a thread, while the
models run), write face thumbnails ``faces/{group_id}/{face_id}.jpg``, face items and
vectors (:func:`findme.services.catalog.save_image_faces`), place new faces into known persons
(:func:`findme.services.cluster.place_new_faces`), then write the image item once, last:
``processed`` with its ``face_count``.

Status goes ``uploaded -> processing -> processed | failed``. S3 notifications come at least
once, so every write is idempotent: face ids are ``uuid5(image_id, face_index)`` and a
re-delivery rewrites the same faces; person ids and manual moves of faces already stored are
kept. An undecodable or oversized photo ends ``failed`` with a reason and nothing else written;
it is *not* an error for the caller (no retry storm). Any other failure (S3, DynamoDB, Qdrant)
marks the image ``failed`` with the reason and re-raises, so the message is retried and a
successful retry ends ``processed``.

Why one module of about 530 lines: the per-photo pipeline and its batch entry points (SQS
messages, map batches) share the timing, failure and status rules; it reads top to bottom as one
pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from findme.config import Settings
from findme.domain.faces import DecodedImage, DetectedFace, face_id_for
from findme.domain.keys import CONTENT_TYPES, KeyScheme, OriginalKey
from findme.domain.records import Face, Image, ImageStatus, utcnow
from findme.errors import DependencyError, ImageTooLargeError, InvalidInputError, NotFoundError
from findme.observability import logger
from findme.ports import (
    FaceEngine,
    FaceVector,
    JobRepository,
    ObjectStore,
    UserRepository,
    VectorIndex,
)
from findme.services.catalog import DeleteGroupStore
from findme.services.media import check_image

T = TypeVar("T")
R = TypeVar("R")

#: Content type of the photo's thumbnail and preview.
RENDITION_CONTENT_TYPE = "image/jpeg"
#: Object metadata names (``x-amz-meta-*``) an upload may set; read when the image item is new.
META_UPLOADED_BY = "uploaded-by"
META_FILE_NAME = "file-name"
META_SECTION_ID = "section-id"


class DigestStatus:
    """Outcome names of :class:`DigestOutcome` (image statuses plus ``skipped``)."""

    PROCESSED = "processed"
    FAILED = "failed"
    SKIPPED = "skipped"


class DigestStore(UserRepository, DeleteGroupStore, JobRepository, Protocol):
    """The metadata repositories the workers reach through :class:`DigestDeps`: every one but
    OTPs (digest and reprocess need a group's photos, faces and persons; the ``delete_group``
    job every aggregate of a group and its job; :mod:`findme.services.evaluation` registers
    users)."""


@dataclass(frozen=True, slots=True)
class DigestDeps:
    """The ports and settings digest works with (built by the handler from ``findme.wiring``)."""

    store: ObjectStore
    metadata: DigestStore
    vectors: VectorIndex
    engine: FaceEngine
    settings: Settings


@dataclass(slots=True)
class DigestOutcome:
    """What happened to one object.

    Attributes:
        key: the object key.
        status: ``processed`` | ``failed`` (permanent: undecodable, too large) | ``skipped``
            (not an original's key, object gone, or already processed when not forced).
        image_id / group_id: parsed from the key (``None`` when it is not an original's key).
        face_count: faces written.
        placed: new faces placed into an existing person (place new faces); ``assigned``
            in :meth:`as_dict`, the name job results keep.
        reason: why ``failed`` / ``skipped``, as ``"<error code>: <message>"``.
        timings_ms: ``read``, ``analyze``, ``render`` and ``render_put`` (the renditions, in a
            thread overlapping ``analyze``), ``save``, ``assign`` (placing new faces; the stage
            keeps its name), ``total`` in milliseconds.
    """

    key: str
    status: str
    image_id: str | None = None
    group_id: str | None = None
    face_count: int = 0
    placed: int = 0
    reason: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "image_id": self.image_id,
            "face_count": self.face_count,
            "assigned": self.placed,
            "reason": self.reason,
        }


def digest_object(
    key: str,
    deps: DigestDeps,
    *,
    size_bytes: int | None = None,
    force: bool = True,
) -> DigestOutcome:
    """Digest the original at ``key`` (see the module docstring for the steps).

    Args:
        key: ``originals/{group_id}/{image_id}[.ext]`` (other keys are skipped).
        deps: ports and settings.
        size_bytes: object size from the notification, if known (checked against
            ``Settings.max_upload_bytes`` before reading).
        force: re-digest an image already ``processed`` (True for S3 notifications, which
            mean new content; False for prefix back-fills, which skip finished images).

    Returns:
        The outcome; ``failed`` only for permanent problems with the photo itself.

    Raises:
        DependencyError: S3, DynamoDB or Qdrant failed (retry the message).
    """
    started = time.perf_counter()
    keys = KeyScheme.from_settings(deps.settings)
    try:
        parsed = keys.parse_original(key)
    except InvalidInputError as exc:
        return DigestOutcome(key=key, status=DigestStatus.SKIPPED, reason=_reason(exc))
    image = _load_or_create_image(key, parsed, deps)
    if image is None:
        return _skip(key, parsed, "not_found: the object no longer exists")
    if not force and image.status is ImageStatus.PROCESSED:
        return _skip(key, parsed, "already processed", face_count=image.face_count)

    image.status = ImageStatus.PROCESSING
    image.failure_reason = None
    deps.metadata.put_image(image)
    timings: dict[str, float] = {}
    try:
        outcome = _digest(image, deps, keys, size_bytes, timings)
    except InvalidInputError as exc:  # undecodable, too large, unsupported: permanent
        _mark_failed(image, deps, _reason(exc))
        logger.warning("image failed", extra={"key": key, "reason": _reason(exc)})
        return DigestOutcome(
            key=key,
            status=DigestStatus.FAILED,
            image_id=image.image_id,
            group_id=image.group_id,
            reason=_reason(exc),
        )
    except Exception as exc:
        # Visible while the message waits for its retry; a successful retry overwrites it.
        _mark_failed(image, deps, f"retrying: {_reason(exc)}")
        raise
    outcome.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 1)
    logger.info("image digested", extra=outcome.as_dict() | {"timings_ms": outcome.timings_ms})
    return outcome


# Long on purpose: the per-photo pipeline in order (read, decode, analyze, renditions, save,
# place), with one failure rule around all of it; the steps themselves are functions.
def _digest(
    image: Image,
    deps: DigestDeps,
    keys: KeyScheme,
    size_bytes: int | None,
    timings: dict[str, float],
) -> DigestOutcome:
    settings = deps.settings
    if size_bytes is not None and size_bytes > settings.max_upload_bytes:
        raise ImageTooLargeError(
            f"{size_bytes} bytes is over the {settings.max_upload_bytes}-byte limit",
            size_bytes=size_bytes,
        )
    t0 = time.perf_counter()
    try:
        data = deps.store.get(image.s3_key)
    except NotFoundError as exc:
        raise _ObjectGoneError(str(exc)) from exc
    timings["read"] = _ms(t0)

    t0 = time.perf_counter()
    # The API's checks (bytes, type, pixels, whole file) for presigned uploads, which reach S3
    # without passing the API: the same reason codes as the API's answers.
    check_image(data, image.file_name or image.s3_key, settings)
    decoded = deps.engine.decode(data)
    # The renditions are rendered and written while the models run: their S3 puts wait on
    # the network, not the CPU, so the photo's previews add little to digest's wall time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="renditions") as pool:
        rendering = pool.submit(_write_renditions, image, decoded, keys, deps)
        analysis = deps.engine.analyze(
            decoded,
            embed=True,
            quality=True,
            attributes=settings.enable_age_gender or settings.enable_emotion,
            crops=True,
        )
        timings["analyze"] = _ms(t0)
        timings.update(rendering.result())  # raises what the thread raised (retry)

    previous = {f.face_id: f for f in deps.metadata.list_faces_of_image(image.image_id)}
    deleted = set(image.deleted_face_ids)  # a curator deleted them: never written again
    faces: list[Face] = []
    vectors: list[FaceVector] = []
    thumbnails: dict[str, bytes] = {}
    for detected in analysis.faces:
        if face_id_for(image.image_id, detected.index) in deleted:
            continue
        face = face_record(
            image, detected, keys, previous.get(face_id_for(image.image_id, detected.index))
        )
        faces.append(face)
        if detected.embedding is not None:
            vectors.append(
                FaceVector(
                    face_id=face.face_id,
                    group_id=image.group_id,
                    image_id=image.image_id,
                    vector=detected.embedding,
                    person_id=face.person_id,
                )
            )
        if detected.crop_jpeg is not None and face.thumbnail_key is not None:
            thumbnails[face.thumbnail_key] = detected.crop_jpeg

    image.width = analysis.width
    image.height = analysis.height
    image.captured_at, image.captured_utc_offset_min = capture_time(analysis.captured_at)
    image.face_count = len(faces)

    t0 = time.perf_counter()
    _save(image, faces, vectors, thumbnails, deps)
    timings["save"] = _ms(t0)

    t0 = time.perf_counter()
    new_faces = [f for f in faces if f.person_id is None]
    placed = _place_new_faces(image.group_id, new_faces, vectors, deps) if new_faces else 0
    timings["assign"] = _ms(t0)

    image.status = ImageStatus.PROCESSED
    image.failure_reason = None
    image.processed_at = utcnow()
    deps.metadata.put_image(image)
    return DigestOutcome(
        key=image.s3_key,
        status=DigestStatus.PROCESSED,
        image_id=image.image_id,
        group_id=image.group_id,
        face_count=len(faces),
        placed=placed,
        timings_ms=timings,
    )


def _write_renditions(
    image: Image, decoded: DecodedImage, keys: KeyScheme, deps: DigestDeps
) -> dict[str, float]:
    """Render the photo's thumbnail and preview and put them in S3; their keys go on ``image``.

    Returns:
        Milliseconds spent: ``render`` (resize + JPEG) and ``render_put`` (both puts).
    """
    t0 = time.perf_counter()
    settings = deps.settings
    thumbnail, preview = deps.engine.render(
        decoded, [settings.photo_thumbnail_px, settings.photo_preview_px]
    )
    rendered = _ms(t0)
    t0 = time.perf_counter()
    thumbnail_key = keys.photo_thumbnail(image.group_id, image.image_id)
    preview_key = keys.photo_preview(image.group_id, image.image_id)
    deps.store.put(thumbnail_key, thumbnail, RENDITION_CONTENT_TYPE)
    deps.store.put(preview_key, preview, RENDITION_CONTENT_TYPE)
    image.thumbnail_key, image.preview_key = thumbnail_key, preview_key
    return {"render": rendered, "render_put": _ms(t0)}


def face_record(
    image: Image, detected: DetectedFace, keys: KeyScheme, previous: Face | None = None
) -> Face:
    """The face item for one detected face; keeps ``previous``'s person and manual flag.

    Args:
        image: the face's image.
        detected: the engine's face (quality required; attributes optional).
        keys: key scheme for the thumbnail key.
        previous: the stored face with the same deterministic id, if any (re-delivery).
    """
    face_id = face_id_for(image.image_id, detected.index)
    quality = detected.quality
    return Face(
        face_id=face_id,
        image_id=image.image_id,
        group_id=image.group_id,
        face_index=detected.index,
        bbox=detected.bbox.as_dict(),
        landmarks=detected.named_landmarks(),
        confidence=round(float(detected.confidence), 4),
        blur_score=quality.blur_score if quality else 0.0,
        brightness_score=quality.brightness_score if quality else 0.0,
        overall_quality=quality.overall_quality if quality else 0.0,
        quality_grade=quality.quality_grade if quality else "F",
        issues=list(quality.issues) if quality else [],
        person_id=previous.person_id if previous else None,
        is_manual_placement=previous.is_manual_placement if previous else False,
        thumbnail_key=(
            keys.face_thumbnail(image.group_id, face_id) if detected.crop_jpeg is not None else None
        ),
        attributes=_attributes(detected),
        created_at=previous.created_at if previous else utcnow(),
    )


def _attributes(detected: DetectedFace) -> dict[str, Any]:
    attrs = detected.attributes
    if attrs is None:
        return {}
    out: dict[str, Any] = {
        "age": attrs.age,
        "age_range": list(attrs.age_range) if attrs.age_range else None,
        "gender": attrs.gender,
        "gender_confidence": attrs.gender_confidence,
        "emotion": attrs.emotion,
        "dominant_emotion": attrs.dominant_emotion,
    }
    return {k: v for k, v in out.items() if v is not None}


def _save(
    image: Image,
    faces: list[Face],
    vectors: list[FaceVector],
    thumbnails: Mapping[str, bytes],
    deps: DigestDeps,
) -> None:
    from findme.services.catalog import save_image_faces

    save_image_faces(
        image,
        faces,
        vectors,
        thumbnails,
        metadata=deps.metadata,
        vectors=deps.vectors,
        store=deps.store,
        # digest writes the image item once, last, with its final status (_digest)
        write_image=False,
    )


def _place_new_faces(
    group_id: str, faces: list[Face], vectors: Iterable[FaceVector], deps: DigestDeps
) -> int:
    from findme.services.cluster import place_new_faces

    wanted = {f.face_id for f in faces}
    result = place_new_faces(
        group_id,
        [v for v in vectors if v.face_id in wanted],
        metadata=deps.metadata,
        vectors=deps.vectors,
        settings=deps.settings,
    )
    return sum(1 for person_id in result.values() if person_id is not None)


class _ObjectGoneError(InvalidInputError):
    """The object was deleted between the notification and the read (permanent)."""

    code = "not_found"


def _load_or_create_image(key: str, parsed: OriginalKey, deps: DigestDeps) -> Image | None:
    """The image item, created from the object's metadata when the upload skipped the API."""
    try:
        image = deps.metadata.get_image(parsed.image_id)
    except NotFoundError:
        info = deps.store.head(key)
        if info is None:
            return None
        meta = {k.lower().removeprefix("x-amz-meta-"): v for k, v in info.metadata.items()}
        return Image(
            image_id=parsed.image_id,
            group_id=parsed.group_id,
            s3_key=key,
            status=ImageStatus.UPLOADED,
            file_name=meta.get(META_FILE_NAME) or f"{parsed.image_id}{parsed.ext}",
            content_type=info.content_type or CONTENT_TYPES.get(parsed.ext),
            size_bytes=info.size_bytes,
            uploaded_by=meta.get(META_UPLOADED_BY),
            section_id=meta.get(META_SECTION_ID),
            created_at=info.last_modified or utcnow(),
        )
    if image.s3_key != key:
        # Same image id under another key: trust the notification's key (the object exists).
        image.s3_key = key
    return image


def _mark_failed(image: Image, deps: DigestDeps, reason: str) -> None:
    image.status = ImageStatus.FAILED
    image.failure_reason = reason[:500]
    image.processed_at = utcnow()
    try:
        deps.metadata.put_image(image)
    except Exception:  # the original error matters more; the retry rewrites the status
        logger.exception("could not mark image failed", extra={"image_id": image.image_id})


def _skip(key: str, parsed: OriginalKey, reason: str, *, face_count: int = 0) -> DigestOutcome:
    return DigestOutcome(
        key=key,
        status=DigestStatus.SKIPPED,
        image_id=parsed.image_id,
        group_id=parsed.group_id,
        face_count=face_count,
        reason=reason,
    )


def _reason(exc: Exception) -> str:
    code = getattr(exc, "code", type(exc).__name__)
    return f"{code}: {exc}"


def capture_time(value: datetime | None) -> tuple[datetime | None, int | None]:
    """The capture time to store: the instant in UTC and the camera's UTC offset in minutes.

    With EXIF OffsetTimeOriginal the time is aware: stored as UTC plus its offset (shown
    again in it, e.g. ``-07:00``). Without it the camera's wall time is kept, labelled UTC,
    and the offset is ``None`` (unknown).
    """
    if value is None:
        return None, None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC), None
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return value.astimezone(UTC), minutes


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


# --- batches (Step Functions Distributed Map item batches) ------------------------------------
class DigestBatchError(DependencyError):
    """Some items of a batch hit a transient error; the batch should be retried whole.

    Retrying is safe (idempotent writes); ``details["errors"]`` lists ``{key, error}``.
    """

    code = "digest_batch_failed"


@dataclass(slots=True)
class BatchSummary:
    """Counts over a batch of keys, small enough for a Step Functions state (≤ 256 KB)."""

    processed: int = 0
    failed: int = 0
    skipped: int = 0
    faces: int = 0
    failures: list[dict[str, str | None]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, outcome: DigestOutcome) -> None:
        if outcome.status == DigestStatus.PROCESSED:
            self.processed += 1
            self.faces += outcome.face_count
        elif outcome.status == DigestStatus.FAILED:
            self.failed += 1
            self.failures.append({"key": outcome.key, "reason": outcome.reason})
        else:
            self.skipped += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "failed": self.failed,
            "skipped": self.skipped,
            "faces": self.faces,
            "failures": self.failures[:50],
            "errors": self.errors[:50],
        }


def map_concurrently(
    work: Callable[[T], R], items: Sequence[T], workers: int, *, name: str = "digest"
) -> list[R]:
    """``[work(item) for item in items]``, with up to ``workers`` items on threads at once.

    Results keep the items' order. ``work`` should catch what it wants reported per item:
    an exception it raises propagates once every item has run. One worker (or one item)
    runs in the calling thread. The engine's onnxruntime sessions run concurrently from
    threads (``InferenceSession.run`` is thread-safe); the stores' boto3 clients are too.
    """
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(work, items))


def digest_keys(
    items: Iterable[tuple[str, int | None]],
    deps: DigestDeps,
    *,
    job_id: str | None = None,
    force: bool = False,
) -> BatchSummary:
    """Digest a batch of originals, ``Settings.digest_workers`` at a time, then count them on
    the job once.

    Args:
        items: ``(key, size_bytes or None)`` pairs.
        deps: ports and settings.
        job_id: a job whose ``done``/``failed`` counters get this batch's counts (added once,
            only when the batch succeeds, so a retried batch is not counted twice).
        force: re-digest images already ``processed``.

    Returns:
        The batch summary (permanent failures count as ``failed``).

    Raises:
        DigestBatchError: some items hit transient errors (after every other item was done).
    """
    summary = BatchSummary()

    def one(item: tuple[str, int | None]) -> DigestOutcome | dict[str, str]:
        key, size = item
        try:
            return digest_object(key, deps, size_bytes=size, force=force)
        except Exception as exc:
            logger.exception("digest failed", extra={"key": key})
            return {"key": key, "error": _reason(exc)}

    for result in map_concurrently(one, list(items), deps.settings.digest_workers):
        if isinstance(result, DigestOutcome):
            summary.add(result)
        else:
            summary.errors.append(result)
    if summary.errors:
        raise DigestBatchError(
            f"{len(summary.errors)} of the batch's items failed; retry the batch",
            errors=summary.errors[:50],
        )
    if job_id:
        deps.metadata.add_job_progress(
            job_id, done=summary.processed + summary.skipped, failed=summary.failed
        )
    return summary
