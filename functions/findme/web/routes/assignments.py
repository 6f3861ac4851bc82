"""Cluster-to-user assignments: match a group's persons to its members' selfies, list, delete.

Paths::

    POST   /groups/{group_id}/assignments              run the matching (CURATE)
    GET    /groups/{group_id}/assignments              the group's assignments (CURATE)
    DELETE /groups/{group_id}/assignments/{person_id}  delete one, unlink the person (CURATE)
    GET    /users/{user_id}/assignments                a user's assignments (self or admin;
                                                       ``me`` is the caller)
    GET    /users/{user_id}/assignments/stats          a user's assignment statistics

The matching itself is :func:`findme.services.assignment.assign_persons_to_users`
(strategy ``centroid`` or ``vote``, cosine similarity threshold). It runs in the request:
it reads the group's face vectors once (one Qdrant scroll) and compares person centroids
or faces with the members' reference embeddings, ``O(faces × references)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from findme.domain.records import Assignment
from findme.services import assignment as svc
from findme.web import deps
from findme.web.pagination import PageParams, paginate
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_HEAVY,
    LIMIT_READ,
    LIMIT_WRITE,
    example,
)
from findme.web.schemas import MessageOut

router = APIRouter(tags=["persons"])

#: Most candidate users one run may name (a group's members are the default).
MAX_CANDIDATE_USERS = 500

_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"
_USER = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class AssignmentOut(BaseModel):
    """A person of a group assigned to a registered user."""

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


def assignment_out(assignment: Assignment) -> AssignmentOut:
    return AssignmentOut(
        group_id=assignment.group_id,
        person_id=assignment.person_id,
        user_id=assignment.user_id,
        similarity=assignment.similarity,
        strategy=assignment.strategy,
        vote_share=assignment.vote_share,
        created_at=assignment.created_at,
    )


class AssignmentRunIn(BaseModel):
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


class AssignmentRunOut(BaseModel):
    group_id: str
    strategy: str
    threshold: float
    assignments: list[AssignmentOut]
    removed: int = Field(description="Earlier automatic assignments that no longer hold.")
    persons_considered: int
    users_considered: int


@router.post(
    "/groups/{group_id}/assignments",
    summary="Assign the group's persons to its members by their selfies",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def run_assignments(
    group: deps.GroupCurator,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    body: AssignmentRunIn | None = None,
) -> AssignmentRunOut:
    """Replaces the group's earlier automatic (``evidence``/``centroid``/``vote``)
    assignments; ``manual`` and ``confirmed`` ones and their persons are kept. 400
    ``not_group_member`` when ``user_ids`` names a non-member; 422 for a strategy other than
    evidence|centroid|vote or a threshold outside [-1, 1]."""
    request = body or AssignmentRunIn()
    run = svc.assign_persons_to_users(
        group.group.group_id,
        metadata=metadata,
        vectors=vectors,
        threshold=request.threshold,
        strategy=request.strategy,
        settings=settings,
        min_vote_fraction=request.min_vote_fraction,
        user_ids=request.user_ids,
    )
    return AssignmentRunOut(
        group_id=run.group_id,
        strategy=run.strategy,
        threshold=run.threshold,
        assignments=[assignment_out(a) for a in run.assignments],
        removed=run.removed,
        persons_considered=run.persons_considered,
        users_considered=run.users_considered,
    )


class AssignmentPage(BaseModel):
    items: list[AssignmentOut]
    next_cursor: str | None = None


def _page(found: list[Assignment], page: PageParams) -> AssignmentPage:
    items, cursor = paginate(found, page)
    return AssignmentPage(items=[assignment_out(a) for a in items], next_cursor=cursor)


@router.get(
    "/groups/{group_id}/assignments",
    summary="A group's assignments (most similar first)",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_group_assignments(
    group: deps.GroupCurator,
    metadata: deps.Metadata,
    page: deps.Page,
    user_id: Annotated[str | None, Query(description="Only this user's.")] = None,
) -> AssignmentPage:
    return _page(
        svc.list_assignments(metadata, group_id=group.group.group_id, user_id=user_id), page
    )


@router.delete(
    "/groups/{group_id}/assignments/{person_id}",
    summary="Delete a person's assignment and unlink the person",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_assignment(
    person_id: str, group: deps.GroupCurator, metadata: deps.Metadata
) -> MessageOut:
    """404 when the person has no assignment in this group. A later run may assign the
    person again if it still matches."""
    svc.delete_assignment(metadata, group.group.group_id, person_id)
    return MessageOut(message="Assignment deleted.")


@router.get(
    "/users/{user_id}/assignments",
    summary="A user's assignments in every group (self or admin)",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_user_assignments(
    user: deps.SelfOrAdmin, metadata: deps.Metadata, page: deps.Page
) -> AssignmentPage:
    """403 ``access_denied`` for another user's unless the caller is an admin; 404
    ``user_not_found`` for an unknown user."""
    return _page(svc.list_assignments(metadata, user_id=user.user_id), page)


class UserAssignmentStatsOut(BaseModel):
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
    assignments: int = Field(description="Persons assigned to the user, in every group.")
    groups: int = Field(description="Groups with at least one of them.")
    faces: int = Field(description="Faces in those persons.")
    images: int = Field(description="Images of those persons, summed per person.")
    by_strategy: dict[str, int] = Field(description="Assignments per strategy.")
    mean_similarity: float | None = Field(description="Mean cosine similarity; null: none.")
    last_assigned_at: datetime | None


@router.get(
    "/users/{user_id}/assignments/stats",
    summary="A user's assignment statistics (self or admin)",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def user_assignment_stats(
    user: deps.SelfOrAdmin, metadata: deps.Metadata
) -> UserAssignmentStatsOut:
    """``me`` for the caller; 403 ``access_denied`` for another user's unless the caller is
    an admin; 404 ``user_not_found``."""
    stats = svc.user_assignment_stats(metadata, user.user_id)
    return UserAssignmentStatsOut(
        user_id=stats.user_id,
        assignments=stats.assignments,
        groups=stats.groups,
        faces=stats.faces,
        images=stats.images,
        by_strategy=stats.by_strategy,
        mean_similarity=stats.mean_similarity,
        last_assigned_at=stats.last_assigned_at,
    )
