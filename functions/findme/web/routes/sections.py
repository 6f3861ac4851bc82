"""Sections inside a group, and the group's filtered image list.

Paths::

    GET    /groups/{group_id}/sections                        list (members)
    POST   /groups/{group_id}/sections                        create (curators)
    PATCH  /groups/{group_id}/sections/{section_id}           rename
    DELETE /groups/{group_id}/sections/{section_id}           delete (images stay)
    POST   /groups/{group_id}/sections/{section_id}/images    put images into the section
    DELETE /groups/{group_id}/sections/{section_id}/images    take images out of it
    GET    /groups/{group_id}/images                          filter by section, person, date
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from findme.domain.records import Section
from findme.services import sections as svc
from findme.services.face_filters import parse_iso_datetime
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import (
    AUTH_ERRORS,
    INPUT_ERRORS,
    LIMIT_READ,
    LIMIT_WRITE,
    ImageOut,
    Scope,
    image_out,
)

router = APIRouter(tags=["sections"])


class SectionOut(BaseModel):
    section_id: str
    group_id: str
    name: str
    created_at: datetime


def _out(section: Section) -> SectionOut:
    return SectionOut(
        section_id=section.section_id,
        group_id=section.group_id,
        name=section.name,
        created_at=section.created_at,
    )


class SectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=svc.MAX_SECTION_NAME, examples=["Ceremony"])


class SectionList(BaseModel):
    sections: list[SectionOut]


@router.get(
    "/groups/{group_id}/sections",
    summary="A group's sections",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_sections(group_id: str, scope: Scope, metadata: deps.Metadata) -> SectionList:
    return SectionList(sections=[_out(s) for s in svc.list_sections(metadata, scope, group_id)])


@router.post(
    "/groups/{group_id}/sections",
    status_code=status.HTTP_201_CREATED,
    summary="Create a section",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def create_section(
    group_id: str, body: SectionIn, scope: Scope, metadata: deps.Metadata
) -> SectionOut:
    return _out(svc.create_section(metadata, scope, group_id, body.name))


@router.patch(
    "/groups/{group_id}/sections/{section_id}",
    summary="Rename a section",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def rename_section(
    group_id: str, section_id: str, body: SectionIn, scope: Scope, metadata: deps.Metadata
) -> SectionOut:
    return _out(svc.rename_section(metadata, scope, group_id, section_id, body.name))


class SectionDeleted(BaseModel):
    section_id: str
    images_unassigned: int


@router.delete(
    "/groups/{group_id}/sections/{section_id}",
    summary="Delete a section (its images stay in the group)",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_section(
    group_id: str, section_id: str, scope: Scope, metadata: deps.Metadata
) -> SectionDeleted:
    moved = svc.delete_section(metadata, scope, group_id, section_id)
    return SectionDeleted(section_id=section_id, images_unassigned=moved)


class SectionImagesIn(BaseModel):
    image_ids: list[str] = Field(min_length=1, max_length=svc.MAX_ASSIGN_IMAGES)


class SectionImagesOut(BaseModel):
    section_id: str | None
    image_ids: list[str]


@router.post(
    "/groups/{group_id}/sections/{section_id}/images",
    summary="Put images into a section",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def add_images(
    group_id: str, section_id: str, body: SectionImagesIn, scope: Scope, metadata: deps.Metadata
) -> SectionImagesOut:
    ids = svc.assign_images(metadata, scope, group_id, section_id, body.image_ids)
    return SectionImagesOut(section_id=section_id, image_ids=ids)


@router.delete(
    "/groups/{group_id}/sections/{section_id}/images",
    summary="Take images out of a section",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def remove_images(
    group_id: str, section_id: str, body: SectionImagesIn, scope: Scope, metadata: deps.Metadata
) -> SectionImagesOut:
    svc.get_section(metadata, group_id, section_id)
    ids = svc.assign_images(metadata, scope, group_id, None, body.image_ids)
    return SectionImagesOut(section_id=None, image_ids=ids)


class ImagePage(BaseModel):
    items: list[ImageOut]
    next_cursor: str | None = None


@router.get(
    "/groups/{group_id}/images",
    summary="A group's images filtered by section, person and date",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_images(
    group_id: str,
    scope: Scope,
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
    """Newest first (capture time, else upload time); curators only. Each image has
    presigned ``url``, ``thumbnail_url`` (320 px) and ``preview_url`` (1,280 px)."""
    query = svc.ImageQuery(
        section_id=section_id,
        person_id=person_id,
        taken_after=parse_iso_datetime(taken_after, "taken_after"),
        taken_before=parse_iso_datetime(taken_before, "taken_before"),
    )
    result = svc.list_images(metadata, scope, group_id, query, limit=page.limit, cursor=page.cursor)
    return ImagePage(
        items=[image_out(i, links(i)) for i in result.items], next_cursor=result.cursor
    )
