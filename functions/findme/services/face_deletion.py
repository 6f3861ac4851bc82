"""Deleting faces in bulk, and deleting a whole group as a job.

The cascades themselves are :mod:`findme.services.catalog`'s (vectors first, then
thumbnails, items and person/image counts, in an order a retry completes). What this module
adds for curation: who may delete what (faces of groups the caller does not curate are
skipped), the peer API's answer (``deleted_count``, ``deleted_thumbnails``, ids), and
thumbnail deletes that are best effort — an S3 failure is logged, never fatal, and a left
thumbnail is unreachable once its face item is gone.

A group is deleted by the ``delete_group`` workflow, a Distributed Map so that no invocation
works through a whole group: :func:`plan_delete_group` (the group's vectors, the list of its
photos), :func:`delete_group_batch` per batch of photos, :func:`finish_delete_group` (the
rest of the cascade, the group item last).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol, cast

from findme.domain.keys import KeyScheme
from findme.domain.records import Face, Job, JobStatus, JobType, utcnow
from findme.errors import InvalidInputError, NotFoundError
from findme.observability import logger
from findme.ports import (
    ImageRepository,
    JobRepository,
    ObjectInfo,
    ObjectStore,
    Orchestrator,
    PersonRepository,
    PresignedPost,
    VectorIndex,
)
from findme.services.catalog import DeleteGroupImagesStore, DeleteGroupStore, SaveImageFacesStore
from findme.services.job_files import BatchSummary, JobFiles, combine
from findme.services.policy import Need, Policy
from findme.services.processing import start_job


class PlanDeleteGroupStore(ImageRepository, JobRepository, Protocol):
    """The metadata repositories :func:`plan_delete_group` uses."""


class PurgeFacesStore(SaveImageFacesStore, Protocol):
    """The metadata repositories :func:`purge_faces`, :func:`batch_delete_faces` use (those of
    :func:`findme.services.catalog.delete_faces`)."""


class DeleteGroupBatchStore(DeleteGroupImagesStore, JobRepository, Protocol):
    """The metadata repositories :func:`delete_group_batch` uses."""


class FinishDeleteGroupStore(DeleteGroupStore, JobRepository, Protocol):
    """The metadata repositories :func:`finish_delete_group`, :func:`run_delete_group_job` use."""


#: Batch delete size limits (peer API, docs/compatibility.md: 1-500 face ids).
MAX_BATCH_DELETE = 500
DELETE_GROUP_WORKFLOW = "delete_group"


class _BestEffortDeletes:
    """An ObjectStore view whose ``delete`` never raises: failures are logged and counted.

    With ``skip=True`` deletes are not sent at all (``delete_thumbnails=false``).
    """

    def __init__(self, inner: ObjectStore, *, skip: bool = False) -> None:
        self._inner = inner
        self._skip = skip
        self.deleted: list[str] = []
        self.failed: list[str] = []

    def delete(self, keys: Sequence[str]) -> None:
        if self._skip or not keys:
            return
        try:
            self._inner.delete(keys)
        except Exception:
            logger.warning(
                "thumbnail delete failed", extra={"keys": list(keys)[:20]}, exc_info=True
            )
            self.failed.extend(keys)
        else:
            self.deleted.extend(keys)

    def put(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self._inner.put(key, data, content_type, metadata)

    def get(self, key: str) -> bytes:
        return self._inner.get(key)

    def head(self, key: str) -> ObjectInfo | None:
        return self._inner.head(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return self._inner.list(prefix)

    def open_read(self, key: str) -> IO[bytes]:
        return self._inner.open_read(key)

    def open_multipart_writer(
        self, key: str, content_type: str
    ) -> AbstractContextManager[IO[bytes]]:
        return self._inner.open_multipart_writer(key, content_type)

    def presigned_post(
        self,
        key: str,
        *,
        content_type_prefix: str = "image/",
        max_bytes: int,
        expires_s: int,
        metadata: dict[str, str] | None = None,
    ) -> PresignedPost:
        return self._inner.presigned_post(
            key,
            content_type_prefix=content_type_prefix,
            max_bytes=max_bytes,
            expires_s=expires_s,
            metadata=metadata,
        )

    def presigned_get(
        self, key: str, *, expires_s: int, download_name: str | None = None
    ) -> tuple[str, datetime]:
        return self._inner.presigned_get(key, expires_s=expires_s, download_name=download_name)


@dataclass(slots=True)
class PurgeResult:
    deleted_face_ids: list[str]
    deleted_thumbnails: int
    thumbnail_failures: list[str]
    removed_person_ids: list[str]


def purge_faces(
    faces: Sequence[Face],
    *,
    metadata: PurgeFacesStore,
    vectors: VectorIndex,
    store: ObjectStore,
    delete_thumbnails: bool = True,
) -> PurgeResult:
    """Delete faces everywhere (:func:`findme.services.catalog.delete_faces`): vectors,
    thumbnails (best effort), items; then person and image counts.

    Args:
        faces: face items to delete (already authorised).
        delete_thumbnails: also delete ``faces/{group_id}/{face_id}.jpg``.

    Returns:
        What was deleted; ``thumbnail_failures`` are keys whose S3 delete failed (logged).

    Raises:
        DependencyError: Qdrant or DynamoDB failed; calling again completes the delete.
    """
    from findme.services import catalog

    ids = [f.face_id for f in faces]
    if not ids:
        return PurgeResult([], 0, [], [])
    persons = sorted({f.person_id for f in faces if f.person_id})
    best_effort = _BestEffortDeletes(store, skip=not delete_thumbnails)
    catalog.delete_faces(
        ids, metadata=metadata, vectors=vectors, store=cast(ObjectStore, best_effort)
    )
    removed = [p for p in persons if not _exists(metadata, p)]
    return PurgeResult(ids, len(best_effort.deleted), best_effort.failed, removed)


def _exists(metadata: PersonRepository, person_id: str) -> bool:
    try:
        metadata.get_person(person_id)
    except NotFoundError:
        return False
    return True


@dataclass(slots=True)
class BatchDeleteResult:
    """The peer API's batch-delete answer plus the ids that were skipped."""

    deleted_count: int
    deleted_thumbnails: int
    face_ids: list[str]
    skipped_face_ids: list[str]
    removed_person_ids: list[str]


def batch_delete_faces(
    metadata: PurgeFacesStore,
    vectors: VectorIndex,
    store: ObjectStore,
    policy: Policy,
    face_ids: Sequence[str],
    *,
    delete_thumbnails: bool = True,
) -> BatchDeleteResult:
    """Delete 1-500 faces (UPLOAD in each face's group); faces the caller may not delete and
    unknown ids are skipped, all of them included (the answer then deletes nothing).

    Raises:
        InvalidInputError: no ids or more than 500.
    """
    ids = list(dict.fromkeys(face_ids))
    if not 1 <= len(ids) <= MAX_BATCH_DELETE:
        raise InvalidInputError(f"face_ids must hold 1-{MAX_BATCH_DELETE} ids", field="face_ids")
    allowed = [f for f in metadata.get_faces(ids) if policy.allows(f.group_id, Need.UPLOAD)]
    result = purge_faces(
        allowed,
        metadata=metadata,
        vectors=vectors,
        store=store,
        delete_thumbnails=delete_thumbnails,
    )
    deleted = set(result.deleted_face_ids)
    _remember_deleted(metadata, [f for f in allowed if f.face_id in deleted])
    logger.info(
        "faces deleted",
        extra={"deleted_count": len(deleted), "deleted_thumbnails": result.deleted_thumbnails},
    )
    return BatchDeleteResult(
        deleted_count=len(deleted),
        deleted_thumbnails=result.deleted_thumbnails,
        face_ids=[i for i in ids if i in deleted],
        skipped_face_ids=[i for i in ids if i not in deleted],
        removed_person_ids=result.removed_person_ids,
    )


def _remember_deleted(metadata: ImageRepository, faces: Sequence[Face]) -> None:
    """Record the deleted faces on their images, so a redelivered S3 notification (or an
    automatic re-digest) does not bring them back; a curator's reprocess clears them."""
    by_image: dict[str, list[str]] = {}
    for face in faces:
        by_image.setdefault(face.image_id, []).append(face.face_id)
    for image in metadata.get_images(by_image):  # one batch read; deleted images skipped
        ids = by_image[image.image_id]
        image.deleted_face_ids = list(dict.fromkeys([*image.deleted_face_ids, *ids]))
        metadata.put_image(image)


# --- delete a whole group (as a job) -----------------------------------------------------------
def start_delete_group(
    metadata: JobRepository, orchestrator: Orchestrator, policy: Policy, group_id: str
) -> Job:
    """Create a ``delete_group`` job and start its workflow (ADMINISTER).

    Raises:
        NotFoundError: unknown group. PermissionDeniedError: the policy.
    """
    policy.authorize(group_id, Need.ADMINISTER)
    return start_job(
        metadata,
        orchestrator,
        job_type=JobType.DELETE_GROUP,
        workflow=DELETE_GROUP_WORKFLOW,
        user_id=policy.user_id,
        group_id=group_id,
        payload={"group_id": group_id},
        total=1,
    )


def plan_delete_group(
    job_id: str,
    group_id: str,
    *,
    metadata: PlanDeleteGroupStore,
    vectors: VectorIndex,
    files: JobFiles,
) -> dict[str, Any]:
    """The ``delete_group`` workflow's first step: the job runs, the group's vectors go (the
    biometric data first, and searches stop finding its faces at once), and the ids of its
    photos go to ``jobs/{job_id}/items.json`` for the map.

    Returns:
        ``{"items_key": key of the id list, "images": how many}``.
    """
    metadata.update_job(job_id, status=JobStatus.RUNNING, updated_at=utcnow())
    vectors.delete_group(group_id)
    image_ids: list[str] = []
    cursor: str | None = None
    while True:
        page = metadata.list_images(group_id, limit=500, cursor=cursor)
        image_ids += [i.image_id for i in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    key = files.write_items(image_ids)
    metadata.update_job(job_id, total=len(image_ids), updated_at=utcnow())
    return {"items_key": key, "images": len(image_ids)}


def delete_group_batch(
    job_id: str,
    group_id: str,
    image_ids: Sequence[str],
    *,
    metadata: DeleteGroupBatchStore,
    store: ObjectStore,
) -> BatchSummary:
    """One batch of the ``delete_group`` map (:func:`findme.services.catalog.delete_group_images`);
    the job's ``done`` grows by the batch's size."""
    from findme.services import catalog

    result = catalog.delete_group_images(group_id, image_ids, metadata=metadata, store=store)
    metadata.add_job_progress(job_id, done=len(image_ids))
    return BatchSummary(items=len(image_ids), counts=_as_counts(result))


def finish_delete_group(
    job_id: str,
    group_id: str,
    summaries: Sequence[BatchSummary],
    *,
    metadata: FinishDeleteGroupStore,
    vectors: VectorIndex,
    store: ObjectStore,
    keys: KeyScheme | None = None,
) -> dict[str, int]:
    """The ``delete_group`` workflow's last step: the cascade of
    :func:`findme.services.catalog.delete_group` (what the batches left, photos uploaded
    meanwhile, persons, sections, memberships, the group item last), then the job succeeds with
    the batches' counts added to it. On its own it deletes a whole (small) group."""
    from findme.services import catalog

    try:
        result = catalog.delete_group(
            group_id, metadata=metadata, vectors=vectors, store=store, keys=keys
        )
    except Exception as exc:
        metadata.update_job(
            job_id,
            status=JobStatus.FAILED,
            error=f"{getattr(exc, 'code', 'error')}: {exc}",
            updated_at=utcnow(),
        )
        raise
    summary = combine([*summaries, BatchSummary(items=0, counts=_as_counts(result))]).counts
    metadata.update_job(job_id, status=JobStatus.SUCCEEDED, result=summary, updated_at=utcnow())
    return summary


def run_delete_group_job(
    job_id: str,
    group_id: str,
    *,
    metadata: FinishDeleteGroupStore,
    vectors: VectorIndex,
    store: ObjectStore,
    keys: KeyScheme | None = None,
) -> dict[str, int]:
    """A whole ``delete_group`` job in one call (executions started before the workflow
    became a map): running, the cascade, succeeded."""
    metadata.update_job(job_id, status=JobStatus.RUNNING, updated_at=utcnow())
    summary = finish_delete_group(
        job_id, group_id, [], metadata=metadata, vectors=vectors, store=store, keys=keys
    )
    metadata.add_job_progress(job_id, done=1)
    return summary


def _as_counts(result: object) -> dict[str, int]:
    if isinstance(result, dict):
        return {str(k): int(v) for k, v in result.items() if isinstance(v, int | float)}
    fields = getattr(result, "__dataclass_fields__", None) or {}
    return {
        name: int(getattr(result, name))
        for name in fields
        if isinstance(getattr(result, name), int | float)
    }
