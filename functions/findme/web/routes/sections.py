"""Sections inside a group, and the group's filtered image list.

Paths::

    GET    /groups/{group_id}/sections                        list with image counts (READ)
    POST   /groups/{group_id}/sections                        create (CURATE)
    PATCH  /groups/{group_id}/sections/{section_id}           rename, describe (CURATE)
    DELETE /groups/{group_id}/sections/{section_id}           delete, images stay (CURATE)
    POST   /groups/{group_id}/sections/{section_id}/images    put images into it (CURATE)
    DELETE /groups/{group_id}/sections/{section_id}/images    take images out of it (CURATE)
    GET    /groups/{group_id}/images                          filter by section, person, date
                                                              (UPLOAD)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from findme.services import sections as svc
from findme.services.face_filters import parse_iso_datetime
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY, LimitedRouter
from findme.web.routes.curation_common import AUTH_ERRORS, INPUT_ERRORS, LIMIT_READ, LIMIT_WRITE
from findme.web.schemas.media import ImagePage, image_out
from findme.web.schemas.sections import (
    SectionDeleted,
    SectionImagesIn,
    SectionImagesOut,
    SectionIn,
    SectionList,
    SectionOut,
    SectionUpdate,
    SectionWithCount,
    section_out,
)

router = LimitedRouter(tags=["sections"], responses=AUTH_ERRORS, per_minute=LIMIT_WRITE)


@router.get(
    "/groups/{group_id}/sections",
    summary="A group's sections, with their image counts",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_sections(
    group: deps.GroupReader, policy: deps.Rights, metadata: deps.Metadata
) -> SectionList:
    """READ (any member)."""
    found = svc.list_sections(metadata, policy, group.group.group_id)
    return SectionList(
        sections=[
            SectionWithCount(**section_out(s.section).model_dump(), image_count=s.image_count)
            for s in found
        ]
    )


@router.post(
    "/groups/{group_id}/sections",
    status_code=status.HTTP_201_CREATED,
    summary="Create a section",
    responses={**INPUT_ERRORS, **error_responses(409)},
)
def create_section(
    body: SectionIn, group: deps.GroupCurator, policy: deps.Rights, metadata: deps.Metadata
) -> SectionOut:
    """CURATE. Names are unique in a group (409)."""
    return section_out(
        svc.create_section(metadata, policy, group.group.group_id, body.name, body.description)
    )


@router.patch(
    "/groups/{group_id}/sections/{section_id}",
    summary="Rename a section or change its description",
    responses={**INPUT_ERRORS, **error_responses(409)},
)
def update_section(
    section_id: str,
    body: SectionUpdate,
    group: deps.GroupCurator,
    policy: deps.Rights,
    metadata: deps.Metadata,
) -> SectionOut:
    """CURATE. Only the fields sent change."""
    section = svc.update_section(
        metadata,
        policy,
        group.group.group_id,
        section_id,
        name=body.name,
        description=body.description,
    )
    return section_out(section)


@router.delete(
    "/groups/{group_id}/sections/{section_id}",
    summary="Delete a section (its images stay in the group)",
)
def delete_section(
    section_id: str, group: deps.GroupCurator, policy: deps.Rights, metadata: deps.Metadata
) -> SectionDeleted:
    """CURATE."""
    moved = svc.delete_section(metadata, policy, group.group.group_id, section_id)
    return SectionDeleted(section_id=section_id, images_unassigned=moved)


@router.post(
    "/groups/{group_id}/sections/{section_id}/images",
    summary="Put images into a section",
    responses=INPUT_ERRORS,
)
def add_images(
    section_id: str,
    body: SectionImagesIn,
    group: deps.GroupCurator,
    policy: deps.Rights,
    metadata: deps.Metadata,
) -> SectionImagesOut:
    """CURATE."""
    ids = svc.set_section_membership(
        metadata, policy, group.group.group_id, section_id, body.image_ids
    )
    return SectionImagesOut(section_id=section_id, image_ids=ids)


@router.delete(
    "/groups/{group_id}/sections/{section_id}/images",
    summary="Take images out of a section",
    responses=INPUT_ERRORS,
)
def remove_images(
    section_id: str,
    body: SectionImagesIn,
    group: deps.GroupCurator,
    policy: deps.Rights,
    metadata: deps.Metadata,
) -> SectionImagesOut:
    """CURATE."""
    group_id = group.group.group_id
    svc.get_section(metadata, group_id, section_id)
    ids = svc.set_section_membership(metadata, policy, group_id, None, body.image_ids)
    return SectionImagesOut(section_id=None, image_ids=ids)


@router.get(
    "/groups/{group_id}/images",
    summary="A group's images filtered by section, person and date",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_images(
    group: deps.GroupUploader,
    policy: deps.Rights,
    metadata: deps.Metadata,
    page: deps.Page,
    links: deps.PhotoLinker,
    section_id: Annotated[str | None, Query()] = None,
    person_id: Annotated[str | None, Query()] = None,
    taken_after: Annotated[
        str | None, Query(description="ISO 8601; capture else upload time.")
    ] = None,
    taken_before: Annotated[str | None, Query(description="ISO 8601.")] = None,
) -> ImagePage:
    """UPLOAD (photographers, owners, admins). Newest first (capture time, else upload
    time). Each image has presigned ``url``, ``thumbnail_url`` (320 px) and ``preview_url``
    (1,280 px)."""
    query = svc.ImageQuery(
        section_id=section_id,
        person_id=person_id,
        taken_after=parse_iso_datetime(taken_after, "taken_after"),
        taken_before=parse_iso_datetime(taken_before, "taken_before"),
    )
    result = svc.list_images(
        metadata, policy, group.group.group_id, query, limit=page.limit, cursor=page.cursor
    )
    return ImagePage(
        items=[image_out(i, links(i)) for i in result.items], next_cursor=result.cursor
    )
