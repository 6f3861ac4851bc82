"""Persons: lists, details, updates, merges, re-clustering."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.domain.records import Person
from findme.services import persons as svc
from findme.web.schemas.common import PageOut, example
from findme.web.schemas.faces import FaceOut
from findme.web.schemas.jobs import JobOut

_FACE = "8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d"

_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"

_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"


class PersonOut(BaseModel):
    model_config = example(
        person_id=_PERSON,
        group_id=_GROUP,
        name="Alice",
        hidden=False,
        face_count=12,
        image_count=11,
        cover_face_id=_FACE,
        cover_thumbnail_url="https://findme-media.s3.amazonaws.com/faces/...",
        linked_user_id=None,
        created_at="2026-05-01T12:00:00Z",
        updated_at="2026-05-02T08:30:00Z",
    )

    person_id: str
    group_id: str
    name: str | None
    hidden: bool
    face_count: int
    image_count: int
    cover_face_id: str | None
    cover_thumbnail_url: str | None = Field(
        default=None,
        description="Presigned URL of the cover face's crop (in person lists and details).",
    )
    linked_user_id: str | None
    created_at: datetime
    updated_at: datetime


def person_out(person: Person, cover_thumbnail_url: str | None = None) -> PersonOut:
    """``person`` as the API shows it, with its cover face's presigned URL when given."""
    out = PersonOut.model_validate(person, from_attributes=True)
    return out.model_copy(update={"cover_thumbnail_url": cover_thumbnail_url})


class PersonPage(PageOut[PersonOut]):
    """A page of a group's persons."""


class PersonDetailOut(BaseModel):
    person: PersonOut
    faces: list[FaceOut]
    image_ids: list[str]
    cover_face: FaceOut | None


class PersonUpdate(BaseModel):
    """Fields to change; those left out are kept. ``name: null`` or ``""`` clears the name."""

    name: str | None = Field(default=None, max_length=100, examples=["Alice"])
    hidden: bool | None = None
    cover_face_id: str | None = None


class MergeRequest(BaseModel):
    source_person_ids: list[str] = Field(min_length=1, max_length=svc.MAX_MERGE_SOURCES)


class MergeOut(BaseModel):
    person: PersonOut
    merged_person_ids: list[str]
    moved_face_count: int


class ReclusterRequest(BaseModel):
    preserve_manual: bool = Field(
        default=True, description="Keep faces curators placed (moves, merges) where they are."
    )
    eps: float | None = Field(default=None, gt=0.0, lt=2.0, description="DBSCAN eps (cosine).")
    min_samples: int | None = Field(default=None, ge=1, le=100)


class ClusterStatusOut(BaseModel):
    """A group's latest cluster run and the gallery it left."""

    model_config = example(
        group_id="9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        person_count=42,
        clustered_face_count=804,
        clustered_at="2026-05-01T12:03:10Z",
        job={
            "job_id": "3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21",
            "job_type": "cluster",
            "status": "succeeded",
            "group_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "total": 0,
            "done": 0,
            "failed": 0,
            "result": {"faces_processed": 911, "persons_created": 3, "persons_merged": 1},
            "error": None,
            "created_at": "2026-05-01T12:03:00Z",
            "updated_at": "2026-05-01T12:03:10Z",
        },
    )

    group_id: str
    person_count: int = Field(description="Persons after the last finished clustering.")
    clustered_face_count: int = Field(description="Faces in a person after it.")
    clustered_at: datetime | None = Field(
        description="When the last clustering finished; null: never clustered."
    )
    job: JobOut | None = Field(
        description="The latest cluster job started through the API (`POST .../recluster`, "
        "`POST /cluster-faces`), whatever its status; null when none was (or it expired "
        "after 30 days)."
    )
