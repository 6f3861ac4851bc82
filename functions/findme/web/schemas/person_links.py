"""Person links (a person of a group linked to a user) and their statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from findme.domain.records import PersonLink
from findme.web.schemas.common import PageOut, example

#: Most candidate users one run may name (a group's members are the default).
MAX_CANDIDATE_USERS = 500

_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"

_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"

_USER = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class PersonLinkOut(BaseModel):
    """A person link: a person of a group linked to a registered user."""

    model_config = example(
        group_id=_GROUP,
        person_id=_PERSON,
        user_id=_USER,
        similarity=0.71,
        strategy="vote",
        vote_share=0.83,
        created_at="2026-05-01T12:00:00Z",
    )

    group_id: str
    person_id: str
    user_id: str
    similarity: float = Field(
        description="Cosine similarity of the person to the user's selfies, whatever the "
        "strategy: evidence: mean of the person's best faces; centroid: of the person's "
        "centroid; vote: mean over the person's faces (each to the closest selfie); "
        "manual/confirmed: as recorded then."
    )
    strategy: str = Field(description="evidence, centroid, vote, manual or confirmed.")
    vote_share: float | None = Field(
        default=None,
        description="vote only: share of the person's faces that voted for the user (0-1).",
    )
    created_at: datetime


class PersonLinkRunIn(BaseModel):
    """How to match; every field is optional."""

    model_config = example(strategy="vote", threshold=0.4, min_vote_fraction=0.5)

    strategy: Literal["evidence", "centroid", "vote"] = "evidence"
    threshold: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description=(
            "Cosine similarity; default: for evidence the group's person bar (the rule of "
            "GET /get), else the server's match threshold."
        ),
    )
    min_vote_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="vote: share of faces that must match."
    )
    user_ids: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CANDIDATE_USERS,
        description="Candidate users (members of the group); default every member.",
    )


class PersonLinkRunOut(BaseModel):
    group_id: str
    strategy: str
    threshold: float
    assignments: list[PersonLinkOut] = Field(
        description="The person links this run stored (the field keeps its former name)."
    )
    removed: int = Field(description="Earlier automatic person links that no longer hold.")
    persons_considered: int
    users_considered: int


class PersonLinkPage(PageOut[PersonLinkOut]):
    """A page of person links."""


class UserPersonLinkStatsOut(BaseModel):
    model_config = example(
        user_id=_USER,
        assignments=3,
        groups=2,
        faces=41,
        images=37,
        by_strategy={"evidence": 2, "confirmed": 1},
        mean_similarity=0.62,
        last_assigned_at="2026-05-01T12:00:00Z",
    )

    user_id: str
    assignments: int = Field(
        description="Persons linked to the user, in every group (the field keeps its former name)."
    )
    groups: int = Field(description="Groups with at least one of them.")
    faces: int = Field(description="Faces in those persons.")
    images: int = Field(description="Images of those persons, summed per person.")
    by_strategy: dict[str, int] = Field(description="Person links per strategy.")
    mean_similarity: float | None = Field(description="Mean cosine similarity; null: none.")
    last_assigned_at: datetime | None = Field(description="When the newest person link was made.")


def person_link_out(link: PersonLink) -> PersonLinkOut:
    return PersonLinkOut.model_validate(link, from_attributes=True)
