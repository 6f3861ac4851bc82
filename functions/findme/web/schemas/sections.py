"""Sections of a group and the filtered image list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.domain.records import Section
from findme.services import sections as svc
from findme.web.schemas.common import example

_SECTION = {
    "section_id": "4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
    "group_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "name": "Ceremony",
    "description": "Vows in the garden, 15:00-16:00",
    "created_at": "2026-05-01T12:00:00Z",
}


class SectionOut(BaseModel):
    model_config = example(**_SECTION)

    section_id: str
    group_id: str
    name: str
    description: str
    created_at: datetime


class SectionWithCount(SectionOut):
    model_config = example(**_SECTION, image_count=48)

    image_count: int = Field(description="Images of the group in this section.")


class SectionIn(BaseModel):
    model_config = example(name="Ceremony", description="Vows in the garden, 15:00-16:00")

    name: str = Field(min_length=1, max_length=svc.MAX_SECTION_NAME, examples=["Ceremony"])
    description: str = Field(default="", max_length=svc.MAX_SECTION_DESCRIPTION)


class SectionUpdate(BaseModel):
    """The fields to change; those left out are kept."""

    model_config = example(description="Vows and the first dance")

    name: str | None = Field(default=None, min_length=1, max_length=svc.MAX_SECTION_NAME)
    description: str | None = Field(default=None, max_length=svc.MAX_SECTION_DESCRIPTION)


class SectionList(BaseModel):
    model_config = example(sections=[{**_SECTION, "image_count": 48}])

    sections: list[SectionWithCount]


class SectionDeleted(BaseModel):
    section_id: str
    images_unassigned: int


class SectionImagesIn(BaseModel):
    image_ids: list[str] = Field(min_length=1, max_length=svc.MAX_SECTION_MEMBERSHIP_IMAGES)


class SectionImagesOut(BaseModel):
    section_id: str | None
    image_ids: list[str]


def section_out(section: Section) -> SectionOut:
    return SectionOut.model_validate(section, from_attributes=True)
