""" "Is this you?" candidates and answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from findme.web.schemas.common import example
from findme.web.schemas.person_links import PersonLinkOut

_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"

_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"


class CandidateOut(BaseModel):
    """A person of the group that may be the caller."""

    model_config = example(
        person_id=_PERSON,
        group_id=_GROUP,
        score=0.41,
        face_count=4,
        thumbnail_url="https://bucket.s3.amazonaws.com/faces/...",
    )

    person_id: str
    group_id: str
    score: float = Field(
        description="Evidence that it is you: mean cosine similarity of its best faces to "
        "your selfies (between the group's candidate and match bars)."
    )
    face_count: int
    thumbnail_url: str | None = Field(description="Presigned URL of a face crop to show.")


class CandidateList(BaseModel):
    group_id: str
    items: list[CandidateOut]


class CandidateAnswerIn(BaseModel):
    model_config = example(is_me=True)

    is_me: bool = Field(description="true: it is me (its photos become mine); false: never ask.")


class CandidateAnswerOut(BaseModel):
    person_id: str
    group_id: str
    is_me: bool
    # the person link made by is_me (the field keeps its former name)
    assignment: PersonLinkOut | None = None
    faces_rejected: int = 0
    message: str
