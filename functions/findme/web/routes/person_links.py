"""Cluster-to-user assignments: match a group's persons to its members' selfies, list, delete.

Paths::

    POST   /groups/{group_id}/assignments              run the matching (CURATE)
    GET    /groups/{group_id}/assignments              the group's assignments (CURATE)
    DELETE /groups/{group_id}/assignments/{person_id}  delete one, unlink the person (CURATE)
    GET    /users/{user_id}/assignments                a user's assignments (self or admin;
                                                       ``me`` is the caller)
    GET    /users/{user_id}/assignments/stats          a user's assignment statistics

The matching itself is :func:`findme.services.person_links.link_persons_to_users`
(strategy ``centroid`` or ``vote``, cosine similarity threshold). It runs in the request:
it reads the group's face vectors once (one Qdrant scroll) and compares person centroids
or faces with the members' reference embeddings, ``O(faces × references)``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from findme.domain.cursors import paginate
from findme.domain.records import PersonLink
from findme.services import person_links as svc
from findme.web import deps
from findme.web.pagination import PageParams
from findme.web.ratelimit import RATE_LIMIT_KEY, LimitedRouter
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_HEAVY,
    LIMIT_READ,
    LIMIT_WRITE,
)
from findme.web.schemas.common import MessageOut
from findme.web.schemas.person_links import (
    PersonLinkPage,
    PersonLinkRunIn,
    PersonLinkRunOut,
    UserPersonLinkStatsOut,
    person_link_out,
)

router = LimitedRouter(tags=["assignments"], responses=AUTH_ERRORS, per_minute=LIMIT_READ)


@router.post(
    "/groups/{group_id}/assignments",
    summary="Assign the group's persons to its members by their selfies",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_HEAVY},
)
def link_persons(
    group: deps.GroupCurator,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    body: PersonLinkRunIn | None = None,
) -> PersonLinkRunOut:
    """Replaces the group's earlier automatic (``evidence``/``centroid``/``vote``)
    assignments; ``manual`` and ``confirmed`` ones and their persons are kept. 400
    ``not_group_member`` when ``user_ids`` names a non-member; 422 for a strategy other than
    evidence|centroid|vote or a threshold outside [-1, 1]."""
    request = body or PersonLinkRunIn()
    run = svc.link_persons_to_users(
        group.group.group_id,
        metadata=metadata,
        vectors=vectors,
        threshold=request.threshold,
        strategy=request.strategy,
        settings=settings,
        min_vote_fraction=request.min_vote_fraction,
        user_ids=request.user_ids,
    )
    return PersonLinkRunOut(
        group_id=run.group_id,
        strategy=run.strategy,
        threshold=run.threshold,
        assignments=[person_link_out(a) for a in run.assignments],
        removed=run.removed,
        persons_considered=run.persons_considered,
        users_considered=run.users_considered,
    )


def _page(found: list[PersonLink], page: PageParams) -> PersonLinkPage:
    result = paginate(found, limit=page.limit, cursor=page.cursor)
    return PersonLinkPage(
        items=[person_link_out(a) for a in result.items], next_cursor=result.cursor
    )


@router.get(
    "/groups/{group_id}/assignments",
    summary="A group's assignments (most similar first)",
    responses=INPUT_ERRORS,
)
def list_group_person_links(
    group: deps.GroupCurator,
    metadata: deps.Metadata,
    page: deps.Page,
    user_id: Annotated[str | None, Query(description="Only this user's.")] = None,
) -> PersonLinkPage:
    return _page(
        svc.list_person_links(metadata, group_id=group.group.group_id, user_id=user_id), page
    )


@router.delete(
    "/groups/{group_id}/assignments/{person_id}",
    summary="Delete a person's assignment and unlink the person",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_person_link(
    person_id: str, group: deps.GroupCurator, metadata: deps.Metadata
) -> MessageOut:
    """404 when the person has no assignment in this group. A later run may assign the
    person again if it still matches."""
    svc.delete_person_link(metadata, group.group.group_id, person_id)
    return MessageOut(message="Assignment deleted.")


@router.get(
    "/users/{user_id}/assignments",
    summary="A user's assignments in every group (self or admin)",
)
def list_user_person_links(
    user: deps.SelfOrAdmin, metadata: deps.Metadata, page: deps.Page
) -> PersonLinkPage:
    """403 ``access_denied`` for another user's unless the caller is an admin; 404
    ``user_not_found`` for an unknown user."""
    return _page(svc.list_person_links(metadata, user_id=user.user_id), page)


@router.get(
    "/users/{user_id}/assignments/stats",
    summary="A user's assignment statistics (self or admin)",
)
def user_person_link_stats(
    user: deps.SelfOrAdmin, metadata: deps.Metadata
) -> UserPersonLinkStatsOut:
    """``me`` for the caller; 403 ``access_denied`` for another user's unless the caller is
    an admin; 404 ``user_not_found``."""
    stats = svc.user_person_link_stats(metadata, user.user_id)
    return UserPersonLinkStatsOut(
        user_id=stats.user_id,
        assignments=stats.assignments,
        groups=stats.groups,
        faces=stats.faces,
        images=stats.images,
        by_strategy=stats.by_strategy,
        mean_similarity=stats.mean_similarity,
        last_assigned_at=stats.last_assigned_at,
    )
