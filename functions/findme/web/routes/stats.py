"""Statistics and the DynamoDB <-> Qdrant consistency check.

Paths::

    GET  /groups/{group_id}/stats          one group (UPLOAD)
    GET  /stats                            every group where the caller has UPLOAD (admins: all)
    GET  /groups/{group_id}/consistency    compare face items with vectors and counts (UPLOAD)
    POST /groups/{group_id}/consistency    the same, then repair the drift (CURATE)
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from findme.domain.curation import CurationStats
from findme.services import stats as svc
from findme.web import deps
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import AUTH_ERRORS, LIMIT_HEAVY, example

router = APIRouter(tags=["stats"])


class StatsOut(BaseModel):
    model_config = example(
        persons=42,
        images=380,
        faces=911,
        images_with_faces=352,
        images_without_faces=28,
        manual_assignments=17,
        assigned_faces=804,
        face_coverage_pct=88.26,
        avg_faces_per_image=2.4,
        avg_faces_per_person=19.14,
    )

    persons: int
    images: int
    faces: int
    images_with_faces: int
    images_without_faces: int
    manual_assignments: int
    assigned_faces: int
    face_coverage_pct: float = Field(description="Faces assigned to a person, percent.")
    avg_faces_per_image: float
    avg_faces_per_person: float


def _out(stats: CurationStats) -> StatsOut:
    return StatsOut(
        persons=stats.persons,
        images=stats.images,
        faces=stats.faces,
        images_with_faces=stats.images_with_faces,
        images_without_faces=stats.images_without_faces,
        manual_assignments=stats.manual_assignments,
        assigned_faces=stats.assigned_faces,
        face_coverage_pct=stats.face_coverage_pct,
        avg_faces_per_image=stats.avg_faces_per_image,
        avg_faces_per_person=stats.avg_faces_per_person,
    )


class GroupStatsOut(StatsOut):
    group_id: str


@router.get(
    "/groups/{group_id}/stats",
    summary="A group's statistics",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def group_stats(group: deps.GroupUploader, metadata: deps.Metadata) -> GroupStatsOut:
    """UPLOAD (photographers, owners, admins)."""
    stats = svc.group_stats(metadata, group.group.group_id)
    return GroupStatsOut(group_id=group.group.group_id, **_out(stats).model_dump())


class GlobalStatsOut(BaseModel):
    groups: int
    totals: StatsOut
    per_group: dict[str, StatsOut]


@router.get(
    "/stats",
    summary="Statistics over the groups where the caller uploads (admins: all)",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def global_stats(policy: deps.Rights, metadata: deps.Metadata) -> GlobalStatsOut:
    """Groups where the caller has UPLOAD; none gives zeros over no group."""
    result = svc.global_stats(metadata, policy)
    return GlobalStatsOut(
        groups=result.groups,
        totals=_out(result.totals),
        per_group={gid: _out(s) for gid, s in result.per_group.items()},
    )


class ConsistencyOut(BaseModel):
    group_id: str
    consistent: bool = Field(description="True when nothing below was found.")
    face_items: int
    vectors: int
    missing_vectors: list[str] = Field(description="Faces with an item but no vector.")
    orphan_vectors: list[str] = Field(description="Vectors without a face item.")
    person_mismatches: dict[str, list[str | None]] = Field(
        description="face_id -> [item's person_id, vector payload's person_id]."
    )
    image_mismatches: list[str]
    dangling_person_face_ids: list[str] = Field(description="Faces naming a deleted person.")
    miscounted_person_ids: list[str]
    reprocess_image_ids: list[str] = Field(
        description="Photos to reprocess to rebuild missing vectors."
    )
    repaired: bool
    fixed: dict[str, int]


def _consistency(report: svc.ConsistencyReport) -> ConsistencyOut:
    drift = report.drift
    return ConsistencyOut(
        group_id=report.group_id,
        consistent=report.consistent,
        face_items=report.face_items,
        vectors=report.vectors,
        missing_vectors=drift.missing_vectors,
        orphan_vectors=drift.orphan_vectors,
        person_mismatches={k: list(v) for k, v in drift.person_mismatches.items()},
        image_mismatches=drift.image_mismatches,
        dangling_person_face_ids=report.dangling_person_face_ids,
        miscounted_person_ids=report.miscounted_person_ids,
        reprocess_image_ids=report.reprocess_image_ids,
        repaired=report.repaired,
        fixed=report.fixed,
    )


@router.get(
    "/groups/{group_id}/consistency",
    summary="Compare DynamoDB and Qdrant for a group",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def check(
    group: deps.GroupUploader, metadata: deps.Metadata, vectors: deps.Vectors
) -> ConsistencyOut:
    """UPLOAD."""
    return _consistency(svc.check_consistency(metadata, vectors, group.group.group_id))


@router.post(
    "/groups/{group_id}/consistency",
    summary="Compare DynamoDB and Qdrant for a group and repair the drift",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def repair(
    group: deps.GroupCurator, metadata: deps.Metadata, vectors: deps.Vectors
) -> ConsistencyOut:
    """CURATE. Deletes orphan vectors, rewrites person payloads from the items, unassigns faces of
    deleted persons and recounts persons. Missing vectors need a reprocess job
    (``reprocess_image_ids``)."""
    return _consistency(svc.check_consistency(metadata, vectors, group.group.group_id, repair=True))
