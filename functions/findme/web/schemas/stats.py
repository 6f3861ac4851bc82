"""Statistics and the consistency check."""

from __future__ import annotations

from pydantic import BaseModel, Field

from findme.domain.curation import CurationStats
from findme.services import stats as svc
from findme.web.schemas.common import example


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


class GroupStatsOut(StatsOut):
    group_id: str


class GlobalStatsOut(BaseModel):
    groups: int
    totals: StatsOut
    per_group: dict[str, StatsOut]


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


def stats_out(stats: CurationStats) -> StatsOut:
    return StatsOut.model_validate(stats, from_attributes=True)


def consistency_out(report: svc.ConsistencyReport) -> ConsistencyOut:
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
