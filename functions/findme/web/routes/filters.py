"""Finding faces to review: advanced filter, near duplicates, person outliers.

Paths::

    POST /faces/search        advanced filter (groups, persons, confidence, quality, dates)
    POST /faces/filter        the same (the seed's path, docs/compatibility.md)
    GET  /faces/duplicates    near-identical faces from different photos (cached 10 min)
    GET  /faces/outliers      faces far from the rest of their person

Registered before the ``/faces/{face_id}`` routes, so these literal paths win.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from findme.services import duplicates as dup
from findme.services import face_filters
from findme.web import deps
from findme.web.ratelimit import RATE_LIMIT_KEY, LimitedRouter
from findme.web.routes.curation_common import AUTH_ERRORS, INPUT_ERRORS, LIMIT_HEAVY, ThumbnailUrls
from findme.web.schemas.faces import face_out
from findme.web.schemas.filters import (
    DuplicatePairOut,
    DuplicatesOut,
    FaceSearchOut,
    FaceSearchRequest,
    OutlierOut,
    OutliersOut,
)

router = LimitedRouter(tags=["filters"], responses=AUTH_ERRORS, per_minute=LIMIT_HEAVY)


@router.post(
    "/faces/search",
    summary="Advanced face filter",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 50},
)
@router.post(
    "/faces/filter",
    summary="Advanced face filter: the seed's path for POST /faces/search",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: 50},
)
def search_faces(
    body: FaceSearchRequest, policy: deps.Rights, metadata: deps.Metadata, thumbs: ThumbnailUrls
) -> FaceSearchOut:
    """Faces of the groups where the caller reviews faces (UPLOAD: photographers, owners,
    admins), or of the named ones, newest first. An admin names the groups (``group_ids``)."""
    criteria = face_filters.criteria_from(**body.model_dump())
    faces = face_filters.filter_faces(metadata, policy, criteria)
    return FaceSearchOut(faces=[face_out(f, thumbs) for f in faces], count=len(faces))


@router.get(
    "/faces/duplicates",
    summary="Near-duplicate faces (never two faces of one photo)",
    responses=INPUT_ERRORS,
)
def duplicates(
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    thumbs: ThumbnailUrls,
    group_id: Annotated[str | None, Query(description="Only this group.")] = None,
    threshold: Annotated[float, Query(ge=0.8, le=0.99)] = dup.DEFAULT_DUPLICATE_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=dup.MAX_DUPLICATES)] = 50,
) -> DuplicatesOut:
    """UPLOAD in the group(s); an admin names the group (``group_id``)."""
    result = dup.find_duplicates(
        metadata, vectors, policy, group_id=group_id, threshold=threshold, limit=limit
    )
    return DuplicatesOut(
        pairs=[
            DuplicatePairOut(
                face_id_1=p.face_1.face_id,
                face_id_2=p.face_2.face_id,
                image_id_1=p.face_1.image_id,
                image_id_2=p.face_2.image_id,
                similarity_score=round(p.similarity, 4),
                thumbnail_url_1=thumbs(p.face_1),
                thumbnail_url_2=thumbs(p.face_2),
            )
            for p in result.pairs
        ],
        threshold=result.threshold,
        group_ids=result.group_ids,
        computed_at=result.computed_at,
        cached=result.cached,
    )


@router.get(
    "/faces/outliers",
    summary="Faces that fit their person badly (likely mislabelled)",
    responses=INPUT_ERRORS,
)
def outliers(
    policy: deps.Rights,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    thumbs: ThumbnailUrls,
    group_id: Annotated[str | None, Query()] = None,
    person_id: Annotated[str | None, Query()] = None,
    threshold: Annotated[float, Query(ge=0.3, le=0.8)] = dup.DEFAULT_OUTLIER_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=dup.MAX_OUTLIERS)] = 50,
) -> OutliersOut:
    """UPLOAD in the group(s); persons with at least two faces; lowest similarity first."""
    found = dup.find_outliers(
        metadata,
        vectors,
        policy,
        group_id=group_id,
        person_id=person_id,
        threshold=threshold,
        limit=limit,
    )
    return OutliersOut(
        outliers=[
            OutlierOut(
                face_id=o.face.face_id,
                image_id=o.face.image_id,
                person_id=o.person.person_id,
                person_name=o.person.name,
                person_face_count=o.person_face_count,
                confidence=o.face.confidence,
                avg_similarity_to_cluster=round(o.mean_similarity, 4),
                thumbnail_url=thumbs(o.face),
            )
            for o in found
        ],
        threshold=threshold,
    )
