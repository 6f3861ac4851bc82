"""Shared pieces of the curation use cases: who may curate what, person bookkeeping.

The curation services (:mod:`~findme.services.persons`, :mod:`~findme.services.quality_review`,
:mod:`~findme.services.duplicates`, :mod:`~findme.services.face_filters`,
:mod:`~findme.services.face_deletion`, :mod:`~findme.services.reprocess`,
:mod:`~findme.services.sections`, :mod:`~findme.services.users_admin`,
:mod:`~findme.services.stats`) take ports as arguments and a :class:`CurationScope` saying
which groups the caller may read and curate. Rules (issue 6): an admin sees and curates
everything; a group's owner or photographer curates that group; a member reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from findme.domain.records import CURATOR_ROLES, Face, Person, Role
from findme.errors import InvalidInputError, PermissionDeniedError
from findme.ports import MetadataStore, ObjectStore


@dataclass(frozen=True, slots=True)
class CurationScope:
    """What one caller may touch.

    Attributes:
        user_id: the caller.
        is_admin: platform admin (reads and curates every group).
        curated_group_ids: groups where the caller is owner or photographer.
        member_group_ids: every group the caller belongs to (any role; readable).
    """

    user_id: str
    is_admin: bool = False
    curated_group_ids: frozenset[str] = frozenset()
    member_group_ids: frozenset[str] = frozenset()

    def may_curate(self, group_id: str) -> bool:
        return self.is_admin or group_id in self.curated_group_ids

    def may_read(self, group_id: str) -> bool:
        return self.is_admin or group_id in self.member_group_ids or self.may_curate(group_id)

    def require_curate(self, group_id: str) -> None:
        """Raises PermissionDeniedError unless the caller curates ``group_id``."""
        if not self.may_curate(group_id):
            raise PermissionDeniedError(
                "Only the group's owner or photographer (or an admin) may do this",
                group_id=group_id,
            )

    def require_read(self, group_id: str) -> None:
        """Raises PermissionDeniedError unless the caller belongs to ``group_id``."""
        if not self.may_read(group_id):
            raise PermissionDeniedError("Not a member of this group", group_id=group_id)

    def curated_groups(self, requested: Sequence[str] | None) -> list[str]:
        """The requested groups the caller curates, or all curated groups when none asked.

        Raises:
            PermissionDeniedError: a requested group the caller may not curate.
            InvalidInputError: an admin without memberships asked for "all groups" (there
                is no cross-tenant listing; admins name the groups).
        """
        if requested:
            for group_id in requested:
                self.require_curate(group_id)
            return list(dict.fromkeys(requested))
        if not self.curated_group_ids and self.is_admin:
            raise InvalidInputError("Admins must name the groups (group_ids)", field="group_ids")
        return sorted(self.curated_group_ids)


def scope_for(metadata: MetadataStore, user_id: str, role: Role | str) -> CurationScope:
    """Build the caller's scope from its platform role and group memberships.

    Args:
        metadata: the metadata store.
        user_id: the caller's user id (from the verified JWT).
        role: the caller's platform role (``admin`` curates everything).
    """
    memberships = metadata.list_groups_of_user(user_id)
    return CurationScope(
        user_id=user_id,
        is_admin=str(role) == Role.ADMIN.value,
        curated_group_ids=frozenset(m.group_id for m in memberships if m.role in CURATOR_ROLES),
        member_group_ids=frozenset(m.group_id for m in memberships),
    )


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raises InvalidInputError (400) unless ``low <= value <= high`` (services' own guard)."""
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low} and {high}", field=name)


# --- reads that check access ----------------------------------------------------------------
def face_for_curation(metadata: MetadataStore, scope: CurationScope, face_id: str) -> Face:
    """The face, if the caller curates its group. Raises NotFoundError, PermissionDeniedError."""
    face = metadata.get_face(face_id)
    scope.require_curate(face.group_id)
    return face


def person_for_curation(metadata: MetadataStore, scope: CurationScope, person_id: str) -> Person:
    """The person, if the caller curates its group. Raises NotFoundError, PermissionDeniedError."""
    person = metadata.get_person(person_id)
    scope.require_curate(person.group_id)
    return person


def thumbnail_url(objects: ObjectStore, face: Face, *, expires_s: int) -> str | None:
    """Presigned GET URL of the face's thumbnail, or ``None`` when it has none."""
    if not face.thumbnail_key:
        return None
    url, _ = objects.presigned_get(face.thumbnail_key, expires_s=expires_s)
    return url


# --- person bookkeeping -----------------------------------------------------------------------
def refresh_persons(
    metadata: MetadataStore, person_ids: Iterable[str], *, group_id: str
) -> list[str]:
    """Recount persons of a group from their faces; persons left empty are deleted.

    Delegates to :func:`findme.services.catalog.refresh_persons` (idempotent recount, cover
    face kept valid, empty persons removed with their assignments).

    Returns:
        Ids of the persons removed because they had no face left.
    """
    from findme.services import catalog

    ids = sorted({p for p in person_ids if p})
    if not ids:
        return []
    _, removed = catalog.refresh_persons(ids, group_id=group_id, metadata=metadata)
    return removed
