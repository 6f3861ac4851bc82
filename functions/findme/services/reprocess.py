"""Reprocess photos (re-detect, re-embed, re-score) without losing curators' work.

Reprocessing runs digest again on a photo (:func:`findme.services.digest.digest_object`
with ``force=True``). Face ids are ``uuid5(image_id, face_index)``, so a re-detection that
finds faces in another order (or a different number of them) would hand an old face's person
to whatever face now has its index. Around the digest call this module therefore:

1. snapshots the photo's faces (boxes, persons, manual flags);
2. after digest, gives each *manual placement* to the new face whose box overlaps the old
   one with IoU > 0.5 (:func:`findme.domain.curation.carry_manual_placements`), and takes
   any person a new face only inherited by index from a face it does not overlap;
3. recounts persons (faces that no longer exist were removed by digest's
   :func:`findme.services.catalog.save_image_faces`).

It needs the face engine, so it runs as a job in the digest function's image (workflow
``reprocess``), never in the API function: the API creates the job (:func:`start_reprocess`,
which writes the image ids to ``jobs/{job_id}/items.json``), the workflow's Distributed Map
hands the curation worker batches of about 50 ids (:func:`reprocess_batch`) and its last step
sums them (:func:`finish_reprocess`); see :mod:`findme.services.job_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from findme.domain.curation import MANUAL_CARRY_IOU, BoxedFace, carry_manual_placements
from findme.domain.faces import BoundingBox
from findme.domain.keys import KeyScheme
from findme.domain.records import Face, Job, JobStatus, JobType, utcnow
from findme.errors import InvalidInputError, NotFoundError
from findme.observability import logger
from findme.ports import (
    FaceRepository,
    ImageRepository,
    JobRepository,
    ObjectStore,
    Orchestrator,
)
from findme.services import digest as digest_service
from findme.services.curation_access import check_range, face_for, refresh_persons
from findme.services.job_files import MAX_ERRORS, BatchSummary, combine
from findme.services.policy import Need, Policy
from findme.services.processing import start_job


class SelectForGroupStore(ImageRepository, FaceRepository, Protocol):
    """The metadata repositories :func:`select_for_group` uses."""


#: Workflow names the orchestrator runs (Step Functions in AWS, threads locally).
REPROCESS_WORKFLOW = "reprocess"


@dataclass(slots=True)
class ReprocessOutcome:
    """What reprocessing one photo did."""

    image_id: str
    status: str
    faces_before: int = 0
    faces_after: int = 0
    manual_kept: int = 0
    manual_lost: int = 0
    faces_removed: int = 0
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "status": self.status,
            "faces_before": self.faces_before,
            "faces_after": self.faces_after,
            "manual_kept": self.manual_kept,
            "manual_lost": self.manual_lost,
            "faces_removed": self.faces_removed,
            "reason": self.reason,
        }


def _boxed(face: Face) -> BoxedFace:
    b = face.bbox
    return BoxedFace(
        face_id=face.face_id,
        bbox=BoundingBox(int(b["x"]), int(b["y"]), int(b["w"]), int(b["h"])),
        person_id=face.person_id,
        is_manual_placement=face.is_manual_placement,
    )


def reprocess_image(image_id: str, deps: digest_service.DigestDeps) -> ReprocessOutcome:
    """Re-digest one photo, keeping manual placements on faces that overlap their old box.

    Args:
        image_id: the photo.
        deps: digest's ports and settings (the face engine included).

    Returns:
        The outcome (``processed`` | ``failed`` | ``skipped`` as digest reports it).

    Raises:
        NotFoundError: unknown image. DependencyError: a backing service failed (retry).
    """
    image = deps.metadata.get_image(image_id)
    if image.deleted_face_ids:  # a curator asked for a reprocess: deleted faces may return
        image.deleted_face_ids = []
        deps.metadata.put_image(image)
    old = deps.metadata.list_faces_of_image(image_id)
    old_boxes = {f.face_id: _boxed(f) for f in old}
    result = digest_service.digest_object(image.s3_key, deps, force=True)
    outcome = ReprocessOutcome(
        image_id=image_id, status=result.status, faces_before=len(old), reason=result.reason
    )
    if result.status != digest_service.DigestStatus.PROCESSED:
        return outcome
    new = deps.metadata.list_faces_of_image(image_id)
    new_ids = {f.face_id for f in new}
    carried = carry_manual_placements(
        old_boxes.values(), [_boxed(f) for f in new], min_iou=MANUAL_CARRY_IOU
    )
    touched: set[str] = {f.person_id for f in old if f.person_id}
    changes: dict[str, tuple[str | None, bool]] = {}
    for face in new:
        if face.face_id in carried:
            target: tuple[str | None, bool] = (carried[face.face_id], True)
        else:
            before = old_boxes.get(face.face_id)
            inherited_wrongly = (
                before is not None
                and face.person_id is not None
                and (
                    before.is_manual_placement
                    or before.bbox.iou(_boxed(face).bbox) <= MANUAL_CARRY_IOU
                )
                and face.person_id == before.person_id
            )
            # A manual person not carried here belongs to a face that moved or vanished.
            target = (
                (None, False) if inherited_wrongly else (face.person_id, face.is_manual_placement)
            )
        if target != (face.person_id, face.is_manual_placement):
            changes[face.face_id] = target
    for face_id, (person_id, manual) in changes.items():
        deps.vectors.set_person([face_id], person_id)
        deps.metadata.update_face_person(face_id, person_id, manual=manual)
        if person_id:
            touched.add(person_id)
    # Faces of the old run that no longer exist were removed by digest (catalog.save_image_faces).
    stale = [f for f in old if f.face_id not in new_ids]
    refresh_persons(deps.metadata, touched, group_id=image.group_id)
    manual_before = sum(1 for f in old if f.is_manual_placement and f.person_id)
    outcome.faces_after = len(new)
    outcome.manual_kept = len(carried)
    outcome.manual_lost = manual_before - len(carried)
    outcome.faces_removed = len(stale)
    return outcome


# --- jobs ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class ReprocessSelection:
    """The photos a reprocess request covers (``image_ids`` empty: nothing to do)."""

    group_id: str
    image_ids: list[str]
    face_ids: list[str] = field(default_factory=list)


def select_for_face(metadata: FaceRepository, policy: Policy, face_id: str) -> ReprocessSelection:
    """Reprocessing a face means reprocessing its whole photo (UPLOAD)."""
    face = face_for(metadata, policy, face_id, Need.UPLOAD)
    return ReprocessSelection(group_id=face.group_id, image_ids=[face.image_id], face_ids=[face_id])


def select_for_group(
    metadata: SelectForGroupStore,
    policy: Policy,
    group_id: str,
    *,
    force_all: bool = False,
    min_quality: float | None = None,
) -> ReprocessSelection:
    """A group's photos: all of them (``force_all``), or those with a face whose
    ``overall_quality < min_quality``.

    Raises:
        InvalidInputError: neither ``force_all`` nor ``min_quality`` given, or ``min_quality``
            outside ``[0, 1]``. NotFoundError, PermissionDeniedError.
    """
    if not force_all and min_quality is None:
        raise InvalidInputError("Give force_all=true or a min_quality", field="min_quality")
    if min_quality is not None:
        check_range("min_quality", min_quality, 0.0, 1.0)
    policy.authorize(group_id, Need.UPLOAD)
    if force_all:
        image_ids: list[str] = []
        cursor: str | None = None
        while True:
            page = metadata.list_images(group_id, limit=500, cursor=cursor)
            image_ids.extend(i.image_id for i in page.items)
            cursor = page.cursor
            if cursor is None:
                break
        return ReprocessSelection(group_id=group_id, image_ids=image_ids)
    assert min_quality is not None
    low = [f for f in metadata.list_faces_of_group(group_id) if f.overall_quality < min_quality]
    return ReprocessSelection(
        group_id=group_id,
        image_ids=sorted({f.image_id for f in low}),
        face_ids=[f.face_id for f in low],
    )


def start_reprocess(
    metadata: JobRepository,
    orchestrator: Orchestrator,
    policy: Policy,
    selection: ReprocessSelection,
    *,
    objects: ObjectStore,
    keys: KeyScheme,
) -> Job:
    """Create a ``reprocess`` job for the selection and start its workflow.

    The image ids go to ``jobs/{job_id}/items.json`` (a whole group's ids would pass the
    256 KiB Step Functions input limit); the workflow input is ``{"job_id", "group_id",
    "items_key"}`` and its Distributed Map reads the ids from there.

    Raises:
        InvalidInputError: the selection is empty.
    """
    if not selection.image_ids:
        raise InvalidInputError("No photos to reprocess", code="nothing_to_reprocess")
    return start_job(
        metadata,
        orchestrator,
        job_type=JobType.REPROCESS,
        workflow=REPROCESS_WORKFLOW,
        user_id=policy.user_id,
        group_id=selection.group_id,
        payload={"group_id": selection.group_id},
        total=len(selection.image_ids),
        items=selection.image_ids,
        objects=objects,
        keys=keys,
    )


#: Counters of a reprocess job's result.
RESULT_COUNTS = ("processed", "failed", "skipped", "manual_kept", "manual_lost", "faces_removed")


def reprocess_batch(
    job_id: str, image_ids: Sequence[str], deps: digest_service.DigestDeps
) -> BatchSummary:
    """Reprocess one batch of the ``reprocess`` map: each photo in turn, counting progress.

    A photo that fails counts as ``failed`` (its error is kept) and does not stop the others;
    an unknown photo (deleted meanwhile) counts as ``skipped``. The job's ``done``/``failed``
    grow per photo, so progress shows while the map runs.

    Returns:
        The batch's summary: :data:`RESULT_COUNTS` and ``errors`` (photos that raised).
    """
    metadata = deps.metadata
    summary = BatchSummary(
        items=len(image_ids), counts=dict.fromkeys([*RESULT_COUNTS, "errors"], 0)
    )
    counts = summary.counts
    for image_id in image_ids:
        try:
            outcome = reprocess_image(image_id, deps)
        except NotFoundError:
            counts["skipped"] += 1
            metadata.add_job_progress(job_id, done=1)
            continue
        except Exception as exc:
            logger.exception("reprocess failed", extra={"image_id": image_id, "job_id": job_id})
            if len(summary.errors) < MAX_ERRORS:
                summary.errors.append(f"{image_id}: {getattr(exc, 'code', type(exc).__name__)}")
            counts["errors"] += 1
            counts["failed"] += 1
            metadata.add_job_progress(job_id, failed=1)
            continue
        key = outcome.status if outcome.status in ("processed", "failed") else "skipped"
        counts[key] += 1
        counts["manual_kept"] += outcome.manual_kept
        counts["manual_lost"] += outcome.manual_lost
        counts["faces_removed"] += outcome.faces_removed
        if outcome.status == "failed":
            metadata.add_job_progress(job_id, failed=1)
        else:
            metadata.add_job_progress(job_id, done=1)
    return summary


def finish_reprocess(
    job_id: str, summaries: Sequence[BatchSummary], metadata: JobRepository
) -> dict[str, int]:
    """The ``reprocess`` workflow's last step: sum the batches into the job's result.

    Photos of batches that wrote no summary (they failed after their retries; the map counted
    them as failed) are ``failed`` here too. The job ends ``failed`` when every photo hit an
    error, else ``succeeded``.

    Returns:
        The job result: :data:`RESULT_COUNTS`.
    """
    job = metadata.get_job(job_id)
    summed = combine(summaries)
    totals = {name: summed.counts.get(name, 0) for name in RESULT_COUNTS}
    lost = max(0, job.total - summed.items)
    totals["failed"] += lost
    errors = list(summed.errors)
    if lost:
        errors.insert(0, f"{lost} photos in batches that failed after their retries")
    all_failed = job.total > 0 and summed.counts.get("errors", 0) + lost >= job.total
    metadata.update_job(
        job_id,
        status=JobStatus.FAILED if all_failed else JobStatus.SUCCEEDED,
        result=totals,
        error="; ".join(errors[:MAX_ERRORS]) or None,
        updated_at=utcnow(),
    )
    return totals


def run_reprocess_job(
    job_id: str, image_ids: Sequence[str], deps: digest_service.DigestDeps
) -> dict[str, int]:
    """A whole ``reprocess`` job in one call: running, one batch of every photo, finish.

    For small selections and for executions started before the workflow became a map
    (their input still holds ``image_ids``).
    """
    deps.metadata.update_job(job_id, status=JobStatus.RUNNING, updated_at=utcnow())
    return finish_reprocess(job_id, [reprocess_batch(job_id, image_ids, deps)], deps.metadata)
