"""Persons: list, details, rename/hide/cover, merge, images, and re-clustering a group.

Paths::

    GET    /groups/{group_id}/persons          list (search by name, sort, hidden, paging)
    POST   /groups/{group_id}/recluster        re-cluster as a job (preserve_manual default true)
    GET    /groups/{group_id}/cluster-status   the group's latest cluster run
    GET    /persons/{person_id}                details: faces, image ids, counts, cover face
    PATCH  /persons/{person_id}                rename, hide/unhide, set cover face
    POST   /persons/{person_id}/merge          merge other persons into this one
    GET    /persons/{person_id}/images         images the person appears in (cursor paging)
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, status

from findme.domain.records import Person
from findme.errors import NotFoundError
from findme.services import persons as svc
from findme.services import processing
from findme.services.policy import Need
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY, LimitedRouter
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_JOB,
    LIMIT_READ,
    LIMIT_WRITE,
    ThumbnailUrls,
)
from findme.web.schemas.faces import face_out
from findme.web.schemas.jobs import JobAccepted, job_accepted, job_out
from findme.web.schemas.media import ImagePage, image_out
from findme.web.schemas.persons import (
    ClusterStatusOut,
    MergeOut,
    MergeRequest,
    PersonDetailOut,
    PersonOut,
    PersonPage,
    PersonUpdate,
    ReclusterRequest,
    person_out,
)

router = LimitedRouter(tags=["persons"], responses=AUTH_ERRORS, per_minute=LIMIT_READ)


@router.get(
    "/groups/{group_id}/persons",
    summary="List a group's persons",
    responses=INPUT_ERRORS,
)
def list_persons(
    group: deps.GroupReader,
    policy: deps.Rights,
    metadata: deps.Metadata,
    page: deps.Page,
    thumbs: ThumbnailUrls,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Only persons whose name contains this (any case)."),
    ] = None,
    sort: Annotated[Literal["name", "created", "face_count"], Query()] = "face_count",
    order: Annotated[
        Literal["asc", "desc"] | None, Query(description="Default: desc, name asc.")
    ] = None,
    include_hidden: Annotated[
        bool, Query(description="Photographers, owners, admins only.")
    ] = False,
) -> PersonPage:
    """Photographers, owners and admins (UPLOAD): every person (hidden ones when asked).
    Members (READ): only their own persons (matched to their selfie), never other attendees.
    ``q`` searches names; each person carries its cover face's crop as
    ``cover_thumbnail_url``."""
    result = svc.list_persons(
        metadata,
        policy,
        group.group.group_id,
        sort=sort,
        descending=None if order is None else order == "desc",
        include_hidden=include_hidden,
        name_query=q,
        limit=page.limit,
        cursor=page.cursor,
    )
    covers = {
        f.face_id: thumbs(f)
        for f in metadata.get_faces([p.cover_face_id for p in result.items if p.cover_face_id])
    }
    items = [person_out(p, covers.get(p.cover_face_id or "")) for p in result.items]
    return PersonPage(items=items, next_cursor=result.cursor)


@router.get(
    "/persons/{person_id}",
    summary="A person with faces, images and cover face",
)
def get_person(
    person_id: str, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> PersonDetailOut:
    """Photographers, owners and admins: any person of the group; members: their own
    (403 ``access_denied`` for another's)."""
    details = svc.person_details(metadata, policy, person_id)
    faces = [face_out(f, thumbs) for f in details.faces]
    cover = next((f for f in faces if f.face_id == details.person.cover_face_id), None)
    return PersonDetailOut(
        person=person_out(details.person, cover.thumbnail_url if cover else None),
        faces=faces,
        image_ids=details.image_ids,
        cover_face=cover,
    )


@router.patch(
    "/persons/{person_id}",
    summary="Rename, hide/unhide or set the cover face",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def update_person(
    body: PersonUpdate,
    person: Annotated[Person, deps.person_with(Need.CURATE)],
    policy: deps.Rights,
    metadata: deps.Metadata,
) -> PersonOut:
    """CURATE (owner, admin)."""
    changes = body.model_dump(exclude_unset=True)
    kwargs: dict[str, object] = {}
    if "name" in changes:
        kwargs["name"] = changes["name"]
    updated = svc.update_person(
        metadata,
        policy,
        person.person_id,
        hidden=changes.get("hidden"),
        cover_face_id=changes.get("cover_face_id"),
        **kwargs,
    )
    return person_out(updated)


@router.post(
    "/persons/{person_id}/merge",
    summary="Merge persons into this one (kept by later clustering)",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def merge_persons(
    body: MergeRequest,
    person: Annotated[Person, deps.person_with(Need.CURATE)],
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
) -> MergeOut:
    """CURATE. Moves every face of the sources into this person as manual placements;
    deletes the sources. 409 when persons belong to different groups."""
    result = svc.merge_persons(metadata, vectors, policy, person.person_id, body.source_person_ids)
    return MergeOut(
        person=person_out(result.person),
        merged_person_ids=result.merged_person_ids,
        moved_face_count=len(result.moved_face_ids),
    )


@router.get(
    "/persons/{person_id}/images",
    summary="Images a person appears in",
)
def person_images(
    person_id: str,
    policy: deps.Rights,
    metadata: deps.Metadata,
    page: deps.Page,
    links: deps.PhotoLinker,
) -> ImagePage:
    """Who may read the person (see ``GET /persons/{person_id}``). With presigned ``url``,
    ``thumbnail_url`` and ``preview_url`` per image."""
    result = svc.person_images(metadata, policy, person_id, limit=page.limit, cursor=page.cursor)
    return ImagePage(
        items=[image_out(i, links(i)) for i in result.items], next_cursor=result.cursor
    )


@router.post(
    "/groups/{group_id}/recluster",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Re-cluster a group's faces into persons (a job)",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_JOB},
)
def recluster(
    group: deps.GroupCurator,
    metadata: deps.Metadata,
    jobs: deps.Jobs,
    principal: deps.CurrentUser,
    body: ReclusterRequest | None = None,
) -> JobAccepted:
    """Starts the cluster workflow; the job's ``result`` holds the counts (faces_processed,
    persons_created, persons_merged, manual_assignments_preserved, processing_time)."""
    request = body or ReclusterRequest()
    job = processing.start_cluster(
        metadata=metadata,
        orchestrator=jobs,
        principal=principal,
        group_id=group.group.group_id,
        eps=request.eps,
        min_samples=request.min_samples,
        preserve_manual=request.preserve_manual,
    )
    return job_accepted(job, "Clustering started.")


@router.get(
    "/groups/{group_id}/cluster-status",
    summary="A group's latest cluster run",
)
def cluster_status(group: deps.GroupUploader, metadata: deps.Metadata) -> ClusterStatusOut:
    """UPLOAD (photographers, owners, admins): poll it after uploads or a re-cluster."""
    g = group.group
    job = None
    if g.last_cluster_job_id:
        try:
            job = job_out(metadata.get_job(g.last_cluster_job_id))
        except NotFoundError:
            job = None  # expired (DynamoDB TTL) or removed
    return ClusterStatusOut(
        group_id=g.group_id,
        person_count=g.person_count,
        clustered_face_count=g.clustered_face_count,
        clustered_at=g.gallery_updated_at,
        job=job,
    )
