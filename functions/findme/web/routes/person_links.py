"""Person links: match a group's persons to its members' selfies, list them, delete one.

Paths::

    POST   /groups/{group_id}/person-links              run the matching (CURATE)
    GET    /groups/{group_id}/person-links              the group's person links (CURATE)
    DELETE /groups/{group_id}/person-links/{person_id}  delete one, unlink the person (CURATE)
    GET    /users/{user_id}/person-links                a user's person links (self or admin;
                                                        ``me`` is the caller)
    GET    /users/{user_id}/person-links/stats          a user's person-link statistics

Each is also served, deprecated, at its former path with ``assignments`` in place of
``person-links`` (``/groups/{group_id}/assignments``, ...): the same handler, the same
answer, for clients written before the rename (:data:`DEPRECATED_PATHS`).

The matching itself is :func:`findme.services.person_links.link_persons_to_users`
(strategy ``evidence``, ``centroid`` or ``vote``, cosine similarity threshold). It runs in
the request: it reads the group's face vectors once (one Qdrant scroll) and compares person
centroids or faces with the members' reference embeddings, ``O(faces × references)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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

router = LimitedRouter(tags=["person_links"], responses=AUTH_ERRORS, per_minute=LIMIT_READ)

#: The former path of each route (before "assignment" was split into four words), served
#: as a deprecated alias of the new one. Each alias keeps its former operation id.
DEPRECATED_PATHS = {
    "/groups/{group_id}/person-links": "/groups/{group_id}/assignments",
    "/groups/{group_id}/person-links/{person_id}": "/groups/{group_id}/assignments/{person_id}",
    "/users/{user_id}/person-links": "/users/{user_id}/assignments",
    "/users/{user_id}/person-links/stats": "/users/{user_id}/assignments/stats",
}


def _route(
    method: str, path: str, former_operation_id: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the endpoint at ``path`` and, deprecated, at its former path."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(path, endpoint, methods=[method], **kwargs)
        router.add_api_route(
            DEPRECATED_PATHS[path],
            endpoint,
            methods=[method],
            deprecated=True,
            operation_id=former_operation_id,
            **{**kwargs, "summary": f"{kwargs['summary']} (deprecated path: use {path})"},
        )
        return endpoint

    return register


@_route(
    "POST",
    "/groups/{group_id}/person-links",
    "run_assignments_groups__group_id__assignments_post",
    summary="Link the group's persons to its members by their selfies",
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
    """Replaces the group's earlier automatic (``evidence``/``centroid``/``vote``) person
    links; ``manual`` and ``confirmed`` ones and their persons are kept. 400
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
        assignments=[person_link_out(a) for a in run.links],
        removed=run.removed,
        persons_considered=run.persons_considered,
        users_considered=run.users_considered,
    )


def _page(found: list[PersonLink], page: PageParams) -> PersonLinkPage:
    result = paginate(found, limit=page.limit, cursor=page.cursor)
    return PersonLinkPage(
        items=[person_link_out(a) for a in result.items], next_cursor=result.cursor
    )


@_route(
    "GET",
    "/groups/{group_id}/person-links",
    "list_group_assignments_groups__group_id__assignments_get",
    summary="A group's person links (most similar first)",
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


@_route(
    "DELETE",
    "/groups/{group_id}/person-links/{person_id}",
    "delete_assignment_groups__group_id__assignments__person_id__delete",
    summary="Delete a person's link to a user and unlink the person",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_person_link(
    person_id: str, group: deps.GroupCurator, metadata: deps.Metadata
) -> MessageOut:
    """404 when the person has no link in this group. A later run may link the person
    again if it still matches."""
    svc.delete_person_link(metadata, group.group.group_id, person_id)
    return MessageOut(message="Assignment deleted.")  # the message clients know, kept


@_route(
    "GET",
    "/users/{user_id}/person-links",
    "list_user_assignments_users__user_id__assignments_get",
    summary="A user's person links in every group (self or admin)",
)
def list_user_person_links(
    user: deps.SelfOrAdmin, metadata: deps.Metadata, page: deps.Page
) -> PersonLinkPage:
    """403 ``access_denied`` for another user's unless the caller is an admin; 404
    ``user_not_found`` for an unknown user."""
    return _page(svc.list_person_links(metadata, user_id=user.user_id), page)


@_route(
    "GET",
    "/users/{user_id}/person-links/stats",
    "user_assignment_stats_users__user_id__assignments_stats_get",
    summary="A user's person-link statistics (self or admin)",
)
def user_person_link_stats(
    user: deps.SelfOrAdmin, metadata: deps.Metadata
) -> UserPersonLinkStatsOut:
    """``me`` for the caller; 403 ``access_denied`` for another user's unless the caller is
    an admin; 404 ``user_not_found``."""
    stats = svc.user_person_link_stats(metadata, user.user_id)
    return UserPersonLinkStatsOut(
        user_id=stats.user_id,
        assignments=stats.links,
        groups=stats.groups,
        faces=stats.faces,
        images=stats.images,
        by_strategy=stats.by_strategy,
        mean_similarity=stats.mean_similarity,
        last_assigned_at=stats.last_linked_at,
    )
