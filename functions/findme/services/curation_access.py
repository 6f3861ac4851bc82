"""Curation reads that check access (a face, person or image for a Need), person bookkeeping.

The curation services (:mod:`~findme.services.persons`, :mod:`~findme.services.quality_review`,
:mod:`~findme.services.duplicates`, :mod:`~findme.services.face_filters`,
:mod:`~findme.services.face_deletion`, :mod:`~findme.services.reprocess`,
:mod:`~findme.services.sections`, :mod:`~findme.services.users_admin`,
:mod:`~findme.services.stats`) take ports as arguments and the caller's
:class:`~findme.services.policy.Policy`, which they ask for the
:class:`~findme.services.policy.Need` of each step (the one access policy).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from findme.domain.records import Face, Image, Person
from findme.errors import InvalidInputError
from findme.ports import (
    FaceRepository,
    ImageRepository,
    ObjectStore,
    PersonRepository,
)
from findme.services.policy import Need, Policy

if TYPE_CHECKING:
    from findme.services.catalog import RefreshPersonsStore


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raises InvalidInputError (400) unless ``low <= value <= high`` (services' own guard)."""
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low} and {high}", field=name)


# --- reads that check access ----------------------------------------------------------------
def face_for(metadata: FaceRepository, policy: Policy, face_id: str, need: Need) -> Face:
    """The face, if the caller has ``need`` in its group.

    Raises:
        NotFoundError: no such face. PermissionDeniedError: the policy's refusal.
    """
    face = metadata.get_face(face_id)
    policy.require(face.group_id, need)
    return face


def person_for(metadata: PersonRepository, policy: Policy, person_id: str, need: Need) -> Person:
    """The person, if the caller has ``need`` in its group.

    Raises:
        NotFoundError: no such person. PermissionDeniedError: the policy's refusal.
    """
    person = metadata.get_person(person_id)
    policy.require(person.group_id, need)
    return person


def image_for(metadata: ImageRepository, policy: Policy, image_id: str, need: Need) -> Image:
    """The image, if the caller has ``need`` in its group.

    Raises:
        NotFoundError: no such image. PermissionDeniedError: the policy's refusal.
    """
    image = metadata.get_image(image_id)
    policy.require(image.group_id, need)
    return image


def thumbnail_url(objects: ObjectStore, face: Face, *, expires_s: int) -> str | None:
    """Presigned GET URL of the face's thumbnail, or ``None`` when it has none."""
    if not face.thumbnail_key:
        return None
    url, _ = objects.presigned_get(face.thumbnail_key, expires_s=expires_s)
    return url


# --- person bookkeeping -----------------------------------------------------------------------
def refresh_persons(
    metadata: RefreshPersonsStore, person_ids: Iterable[str], *, group_id: str
) -> list[str]:
    """Recount persons of a group from their faces; persons left empty are deleted.

    Delegates to :func:`findme.services.catalog.refresh_persons` (idempotent recount, cover
    face kept valid, empty persons removed with their person links).

    Returns:
        Ids of the persons removed because they had no face left.
    """
    from findme.services import catalog

    ids = sorted({p for p in person_ids if p})
    if not ids:
        return []
    _, removed = catalog.refresh_persons(ids, group_id=group_id, metadata=metadata)
    return removed
