"""Faces: details, crop, move, batch delete, reprocessing; deleting a whole group.

Paths::

    GET    /faces/{face_id}                    face details (UPLOAD)
    GET    /faces/{face_id}/thumbnail          the face crop, image/jpeg (UPLOAD; members: own)
    POST   /faces/{face_id}/move               to an existing person or a new one (CURATE)
    POST   /faces:batch-delete                 delete 1-500 faces (UPLOAD; skips the others)
    POST   /faces/batch-delete                 the same (the seed's path, docs/compatibility.md)
    POST   /faces/{face_id}/reprocess          reprocess the face's photo (a job; UPLOAD)
    POST   /groups/{group_id}/reprocess        reprocess a group's photos (a job; UPLOAD)
    DELETE /groups/{group_id}                  delete a group and everything in it (ADMINISTER)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Response, status

from findme.domain.keys import KeyScheme
from findme.domain.records import Face
from findme.errors import NotFoundError
from findme.services import face_deletion, reprocess
from findme.services import persons as person_svc
from findme.services.duplicates import invalidate_duplicates
from findme.services.policy import Need
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY, LimitedRouter
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_HEAVY,
    LIMIT_JOB,
    LIMIT_READ,
    LIMIT_WRITE,
    ThumbnailUrls,
)
from findme.web.schemas.face_curation import (
    BatchDeleteOut,
    BatchDeleteRequest,
    GroupReprocessRequest,
    MoveOut,
    MoveRequest,
    ReprocessAccepted,
)
from findme.web.schemas.faces import FaceOut, face_out
from findme.web.schemas.jobs import JobAccepted, job_accepted
from findme.web.schemas.persons import person_out

router = LimitedRouter(tags=["face_curation"], responses=AUTH_ERRORS, per_minute=LIMIT_JOB)


@router.get(
    "/faces/{face_id}",
    summary="A face's details",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def get_face(face: Annotated[Face, deps.face_with(Need.UPLOAD)], thumbs: ThumbnailUrls) -> FaceOut:
    """UPLOAD (photographers, owners, admins)."""
    return face_out(face, thumbs)


@router.get(
    "/faces/{face_id}/thumbnail",
    summary="The face crop (JPEG)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def face_thumbnail(
    face_id: str, policy: deps.Rights, metadata: deps.Metadata, objects: deps.Objects
) -> Response:
    """UPLOAD in the face's group, or a member whose own person the face belongs to (403
    ``access_denied`` for someone else's face). 404 when it has no thumbnail."""
    face = metadata.get_face(face_id)
    if not policy.allows(face.group_id, Need.UPLOAD):
        if face.person_id is None:
            policy.require(
                face.group_id,
                Need.UPLOAD,
                "Members see only their own faces; this face is in no person of yours",
            )
        else:
            person_svc.readable_person(metadata, policy, metadata.get_person(face.person_id))
    if not face.thumbnail_key:
        raise NotFoundError("This face has no thumbnail", face_id=face_id)
    data = objects.get(face.thumbnail_key)
    return Response(
        content=data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=300"},
    )


@router.post(
    "/faces/{face_id}/move",
    summary="Move a face to another or a new person (kept by later clustering)",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def move_face(
    body: MoveRequest,
    face: Annotated[Face, deps.face_with(Need.CURATE)],
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    thumbs: ThumbnailUrls,
) -> MoveOut:
    """CURATE (owner, admin)."""
    result = person_svc.move_face(
        metadata,
        vectors,
        policy,
        face.face_id,
        person_id=body.person_id,
        new_person_name=body.new_person_name,
    )
    return MoveOut(
        face=face_out(result.face, thumbs),
        person=person_out(result.person),
        previous_person_id=result.previous_person_id,
        created_person=result.created_person,
        removed_person_ids=result.removed_person_ids,
    )


@router.post(
    "/faces:batch-delete",
    summary="Delete up to 500 faces (items, vectors, thumbnails)",
    responses=INPUT_ERRORS,
)
@router.post(
    "/faces/batch-delete",
    operation_id="batch_delete_seed_path",
    summary="Delete up to 500 faces: the seed's path for POST /faces:batch-delete",
    responses=INPUT_ERRORS,
)
def batch_delete(
    body: BatchDeleteRequest,
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    objects: deps.Objects,
) -> BatchDeleteOut:
    """UPLOAD in each face's group. Faces the caller may not delete, and unknown ids, are
    skipped and listed in ``skipped_face_ids``, even when that is all of them (200,
    ``deleted_count: 0``). Thumbnail deletes that fail are logged, not fatal."""
    result = face_deletion.batch_delete_faces(
        metadata, vectors, objects, policy, body.face_ids, delete_thumbnails=body.delete_thumbnails
    )
    invalidate_duplicates()
    return BatchDeleteOut(
        message="Faces deleted successfully",
        deleted_count=result.deleted_count,
        deleted_thumbnails=result.deleted_thumbnails,
        face_ids=result.face_ids,
        skipped_face_ids=result.skipped_face_ids,
        removed_person_ids=result.removed_person_ids,
    )


@router.post(
    "/faces/{face_id}/reprocess",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Reprocess a face's photo (a job)",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def reprocess_face(
    face: Annotated[Face, deps.face_with(Need.UPLOAD)],
    policy: deps.Rights,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    jobs: deps.Jobs,
) -> ReprocessAccepted:
    """UPLOAD. Re-detects the whole photo; manual placements stay on faces overlapping their
    old box (IoU > 0.5). 20 per minute per caller (the seed's limit, docs/compatibility.md)."""
    selection = reprocess.select_for_face(metadata, policy, face.face_id)
    job = reprocess.start_reprocess(
        metadata, jobs, policy, selection, objects=objects, keys=KeyScheme.from_settings(settings)
    )
    return ReprocessAccepted(
        **job_accepted(job, "Face reprocessing started.").model_dump(),
        image_ids=selection.image_ids,
        face_ids=selection.face_ids,
    )


@router.post(
    "/groups/{group_id}/reprocess",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Reprocess a group's photos (a job)",
    responses=INPUT_ERRORS,
)
def reprocess_group(
    body: GroupReprocessRequest,
    group: deps.GroupUploader,
    policy: deps.Rights,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    jobs: deps.Jobs,
) -> ReprocessAccepted:
    """UPLOAD. ``force_all`` or ``min_quality`` is required; 400 ``nothing_to_reprocess``
    when no photo qualifies. The photos are reprocessed in batches of about 50 (a
    Distributed Map)."""
    selection = reprocess.select_for_group(
        metadata,
        policy,
        group.group.group_id,
        force_all=body.force_all,
        min_quality=body.min_quality,
    )
    job = reprocess.start_reprocess(
        metadata, jobs, policy, selection, objects=objects, keys=KeyScheme.from_settings(settings)
    )
    return ReprocessAccepted(
        **job_accepted(job, f"Reprocessing {len(selection.image_ids)} photos.").model_dump(),
        image_ids=selection.image_ids,
        face_ids=selection.face_ids,
    )


@router.delete(
    "/groups/{group_id}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Delete a group and everything in it (a job; owner or admin)",
)
def delete_group(
    group: deps.GroupAdmin, policy: deps.Rights, metadata: deps.Metadata, jobs: deps.Jobs
) -> JobAccepted:
    """ADMINISTER. Photos, thumbnails, faces, vectors, persons, sections, memberships and the
    group."""
    job = face_deletion.start_delete_group(metadata, jobs, policy, group.group.group_id)
    return job_accepted(job, "Group deletion started.")
