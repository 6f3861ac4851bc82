"""Sections inside a group (e.g. "Ceremony", "Reception") and the filtered image list.

An image belongs to at most one section (``Image.section_id``), set at upload (object
metadata ``section-id``, see :mod:`findme.services.digest`) or later here. Deleting a
section leaves its images in the group, without a section.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from findme.domain.cursors import paginate
from findme.domain.records import Image, Page, Section
from findme.errors import ConflictError, InvalidInputError, NotFoundError
from findme.ports import (
    FaceRepository,
    ImageRepository,
    PersonRepository,
    SectionRepository,
)
from findme.services.groups import iter_group_images
from findme.services.policy import Need, Policy


class ListSectionsStore(SectionRepository, ImageRepository, Protocol):
    """The metadata repositories :func:`list_sections`, :func:`delete_section`,
    :func:`set_section_membership` use.
    """


class ListImagesStore(
    SectionRepository, ImageRepository, FaceRepository, PersonRepository, Protocol
):
    """The metadata repositories :func:`list_images` uses."""


MAX_SECTION_NAME = 100
MAX_SECTION_DESCRIPTION = 2000
#: Most images one section-membership change (into a section, or out of it) may name.
MAX_SECTION_MEMBERSHIP_IMAGES = 500


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= MAX_SECTION_NAME:
        raise InvalidInputError(f"name must be 1-{MAX_SECTION_NAME} characters", field="name")
    return cleaned


def _clean_description(description: str) -> str:
    cleaned = description.strip()
    if len(cleaned) > MAX_SECTION_DESCRIPTION:
        raise InvalidInputError(
            f"description must be at most {MAX_SECTION_DESCRIPTION} characters",
            field="description",
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class SectionSummary:
    """A section and how many of the group's images are in it."""

    section: Section
    image_count: int


def list_sections(
    metadata: ListSectionsStore, policy: Policy, group_id: str
) -> list[SectionSummary]:
    """A group's sections by name, each with its image count (READ).

    Counting reads the group's images once (O(images), like the group's ``image_counts``).
    """
    policy.authorize(group_id, Need.READ)
    sections = sorted(
        metadata.list_sections(group_id), key=lambda s: (s.name.casefold(), s.section_id)
    )
    counts = section_image_counts(metadata, group_id) if sections else {}
    return [SectionSummary(s, counts.get(s.section_id, 0)) for s in sections]


def section_image_counts(metadata: ImageRepository, group_id: str) -> dict[str, int]:
    """Section id -> number of the group's images in it (one pass over the images)."""
    counts: dict[str, int] = {}
    for image in iter_group_images(metadata, group_id):
        if image.section_id:
            counts[image.section_id] = counts.get(image.section_id, 0) + 1
    return counts


def get_section(metadata: SectionRepository, group_id: str, section_id: str) -> Section:
    """Raises NotFoundError."""
    for section in metadata.list_sections(group_id):
        if section.section_id == section_id:
            return section
    raise NotFoundError("Section not found", section_id=section_id)


def create_section(
    metadata: SectionRepository, policy: Policy, group_id: str, name: str, description: str = ""
) -> Section:
    """Create a section (CURATE); names are unique in a group (case-insensitive).

    Raises:
        InvalidInputError: empty or long name, long description. ConflictError: the name is
            taken.
    """
    policy.authorize(group_id, Need.CURATE)
    cleaned = _clean_name(name)
    _check_unique(metadata, group_id, cleaned, None)
    section = Section(
        group_id=group_id,
        section_id=str(uuid.uuid4()),
        name=cleaned,
        description=_clean_description(description),
    )
    metadata.put_section(section)
    return section


def update_section(
    metadata: SectionRepository,
    policy: Policy,
    group_id: str,
    section_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Section:
    """Rename a section or change its description (CURATE); ``None`` fields stay.

    Raises:
        NotFoundError, ConflictError, InvalidInputError.
    """
    policy.authorize(group_id, Need.CURATE)
    section = get_section(metadata, group_id, section_id)
    if name is not None:
        cleaned = _clean_name(name)
        _check_unique(metadata, group_id, cleaned, section_id)
        section.name = cleaned
    if description is not None:
        section.description = _clean_description(description)
    metadata.put_section(section)
    return section


def delete_section(
    metadata: ListSectionsStore, policy: Policy, group_id: str, section_id: str
) -> int:
    """Delete a section (CURATE); its images stay in the group without a section.

    Returns:
        The number of images taken out of the section.
    """
    policy.authorize(group_id, Need.CURATE)
    get_section(metadata, group_id, section_id)
    moved = 0
    for image in iter_group_images(metadata, group_id):
        if image.section_id == section_id:
            image.section_id = None
            metadata.put_image(image)
            moved += 1
    metadata.delete_section(group_id, section_id)
    return moved


def set_section_membership(
    metadata: ListSectionsStore,
    policy: Policy,
    group_id: str,
    section_id: str | None,
    image_ids: Sequence[str],
) -> list[str]:
    """Put images of the group into a section (``None``: out of any section) (CURATE).

    Raises:
        InvalidInputError: 0 or more than 500 ids, or an image of another group.
        NotFoundError: unknown group, section or image.
    """
    policy.authorize(group_id, Need.CURATE)
    ids = list(dict.fromkeys(image_ids))
    if not 1 <= len(ids) <= MAX_SECTION_MEMBERSHIP_IMAGES:
        raise InvalidInputError(
            f"image_ids must hold 1-{MAX_SECTION_MEMBERSHIP_IMAGES} ids", field="image_ids"
        )
    if section_id is not None:
        get_section(metadata, group_id, section_id)
    images = metadata.get_images(ids)
    if len(images) != len(ids):
        missing = next(i for i in ids if i not in {image.image_id for image in images})
        raise NotFoundError("image not found", id=missing)
    if any(i.group_id != group_id for i in images):
        raise InvalidInputError("Every image must belong to the group", field="image_ids")
    for image in images:
        image.section_id = section_id
        metadata.put_image(image)
    return ids


def _check_unique(
    metadata: SectionRepository, group_id: str, name: str, except_id: str | None
) -> None:
    for other in metadata.list_sections(group_id):
        if other.section_id != except_id and other.name.casefold() == name.casefold():
            raise ConflictError("A section with this name exists", section_id=other.section_id)


@dataclass(slots=True)
class ImageQuery:
    """Filters of a group's image list; times compare the capture time (else upload time)."""

    section_id: str | None = None
    person_id: str | None = None
    taken_after: datetime | None = None
    taken_before: datetime | None = None


def list_images(
    metadata: ListImagesStore,
    policy: Policy,
    group_id: str,
    query: ImageQuery,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Image]:
    """A group's images, newest first, filtered by section, person and date; one page (UPLOAD).

    Raises:
        NotFoundError: unknown group, section or person. PermissionDeniedError: the policy.
        InvalidInputError: a person of another group.
    """
    policy.authorize(group_id, Need.UPLOAD)
    if query.section_id is not None:
        get_section(metadata, group_id, query.section_id)
    person_images: set[str] | None = None
    if query.person_id is not None:
        person = metadata.get_person(query.person_id)
        if person.group_id != group_id:
            raise InvalidInputError("The person is not in this group", field="person_id")
        person_images = {f.image_id for f in metadata.list_faces_of_person(query.person_id)}

    def keep(image: Image) -> bool:
        when = image.captured_at or image.created_at
        return (
            (query.section_id is None or image.section_id == query.section_id)
            and (person_images is None or image.image_id in person_images)
            and (query.taken_after is None or when >= query.taken_after)
            and (query.taken_before is None or when <= query.taken_before)
        )

    matched = [i for i in iter_group_images(metadata, group_id) if keep(i)]
    matched.sort(key=lambda i: (i.captured_at or i.created_at, i.image_id), reverse=True)
    return paginate(matched, limit=limit, cursor=cursor)
