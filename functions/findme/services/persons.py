"""Persons and faces curation: list, details, rename, hide, cover face, merge, move a face.

Every change a curator makes to who-is-who is written with ``is_manual_placement=True`` on
the faces it touches (DynamoDB item and Qdrant payload), so the cluster workflow's
``preserve_manual`` keeps it: merges and moves survive a re-cluster (Immich drops them on a
forced re-run; see ARCHITECTURE.md §6). Persons left without faces are removed and counts
recomputed (:func:`findme.services.curation_access.refresh_persons`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from findme.domain.cursors import paginate
from findme.domain.records import Face, Image, Page, Person, utcnow
from findme.errors import ConflictError, InvalidInputError, NotFoundError
from findme.ports import (
    FaceRepository,
    ImageRepository,
    PersonLinkRepository,
    PersonRepository,
    VectorIndex,
)
from findme.services.curation_access import face_for, person_for, refresh_persons
from findme.services.policy import Need, Policy, denied


class ListPersonsStore(PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`list_persons`, :func:`own_person_ids`,
    :func:`readable_person` use.
    """


class PersonDetailsStore(FaceRepository, PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`person_details`, :func:`merge_persons`,
    :func:`move_face` use.
    """


class PersonImagesStore(
    ImageRepository, FaceRepository, PersonRepository, PersonLinkRepository, Protocol
):
    """The metadata repositories :func:`person_images` uses."""


class UpdatePersonStore(FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`update_person` uses."""


PersonSort = Literal["name", "created", "face_count"]

#: Maximum persons merged into one in a single call.
MAX_MERGE_SOURCES = 50


def list_persons(
    metadata: ListPersonsStore,
    policy: Policy,
    group_id: str,
    *,
    sort: PersonSort = "face_count",
    descending: bool | None = None,
    include_hidden: bool = False,
    name_query: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Person]:
    """A group's persons, one page.

    Whoever sees the whole group (UPLOAD) sees every person (hidden ones when asked); a
    member (READ) sees only the persons that are theirs (matched to their selfie or linked to
    their account), never other attendees.

    Args:
        metadata: the metadata store.
        policy: the caller's rights.
        group_id: the group.
        sort: ``name`` (unnamed last), ``created`` or ``face_count``.
        descending: default ``True`` for ``face_count`` and ``created``, ``False`` for ``name``.
        include_hidden: include hidden persons (UPLOAD only; ignored for members).
        name_query: keep persons whose name contains it (case-insensitive, spaces collapsed);
            unnamed persons never match.
        limit: page size, 1-500.
        cursor: from the previous page.

    Raises:
        NotFoundError: unknown group. PermissionDeniedError: not a member.
    """
    policy.authorize(group_id, Need.READ)
    sees_all = policy.allows(group_id, Need.UPLOAD)
    own = set() if sees_all else own_person_ids(metadata, policy.user_id, group_id)
    wanted = " ".join(name_query.split()).casefold() if name_query else ""
    persons = [
        p
        for p in metadata.list_persons(group_id)
        if (
            (sees_all and (include_hidden or not p.hidden)) or (p.person_id in own and not p.hidden)
        )
        and (not wanted or wanted in " ".join((p.name or "").split()).casefold())
    ]
    desc = descending if descending is not None else sort != "name"
    if sort == "name":
        named = sorted(
            (p for p in persons if p.name),
            key=lambda p: ((p.name or "").casefold(), p.person_id),
            reverse=desc,
        )
        ordered = named + sorted((p for p in persons if not p.name), key=lambda p: p.person_id)
    elif sort == "created":
        ordered = sorted(persons, key=lambda p: (p.created_at, p.person_id), reverse=desc)
    else:
        ordered = sorted(persons, key=lambda p: (p.face_count, p.person_id), reverse=desc)
    return paginate(ordered, limit=limit, cursor=cursor)


@dataclass(slots=True)
class PersonDetails:
    """A person with its faces (best quality first) and the ids of its images."""

    person: Person
    faces: list[Face]
    image_ids: list[str]


def own_person_ids(metadata: ListPersonsStore, user_id: str, group_id: str) -> set[str]:
    """Persons of a group that are the user's: a person link to them, or ``linked_user_id``."""
    mine = {
        a.person_id for a in metadata.list_person_links(user_id=user_id) if a.group_id == group_id
    }
    return mine | {
        p.person_id for p in metadata.list_persons(group_id) if p.linked_user_id == user_id
    }


def readable_person(metadata: ListPersonsStore, policy: Policy, person: Person) -> None:
    """Who sees the whole group (UPLOAD) reads any person of it; a member (READ) only their
    own, non-hidden ones.

    Raises:
        PermissionDeniedError: not a member of the group, or a member asking for a person
            that is not theirs (the policy's refusal, saying so).
    """
    if policy.allows(person.group_id, Need.UPLOAD):
        return
    policy.require(person.group_id, Need.READ)
    if person.hidden or person.person_id not in own_person_ids(
        metadata, policy.user_id, person.group_id
    ):
        raise denied(
            Need.UPLOAD,
            policy.role_in(person.group_id),
            "Members see only their own persons and faces; this person is not yours",
        )


def person_details(metadata: PersonDetailsStore, policy: Policy, person_id: str) -> PersonDetails:
    """A person, its faces and images (UPLOAD; members for their own persons only).

    Raises:
        NotFoundError: unknown person.
        PermissionDeniedError: not a member of the person's group, or not the member's.
    """
    person = metadata.get_person(person_id)
    readable_person(metadata, policy, person)
    faces = sorted(
        metadata.list_faces_of_person(person_id),
        key=lambda f: (-f.overall_quality, f.face_id),
    )
    return PersonDetails(person=person, faces=faces, image_ids=sorted({f.image_id for f in faces}))


def person_images(
    metadata: PersonImagesStore,
    policy: Policy,
    person_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Image]:
    """The images a person appears in, newest first (capture time, else upload time)."""
    details = person_details(metadata, policy, person_id)
    # A face item outliving its image is drift (skipped; the consistency check reports it).
    images = metadata.get_images(details.image_ids)
    images.sort(key=lambda i: (i.captured_at or i.created_at, i.image_id), reverse=True)
    return paginate(images, limit=limit, cursor=cursor)


_UNSET: object = object()


def update_person(
    metadata: UpdatePersonStore,
    policy: Policy,
    person_id: str,
    *,
    name: str | object | None = _UNSET,
    hidden: bool | None = None,
    cover_face_id: str | None = None,
) -> Person:
    """Rename, hide/unhide or set the cover face of a person (fields left out are kept).

    Args:
        name: new name; ``None`` or ``""`` clears it; leave out to keep.
        hidden: new hidden flag.
        cover_face_id: a face of this person.

    Raises:
        NotFoundError, PermissionDeniedError; InvalidInputError when the cover face is not
        one of the person's faces.
    """
    person = person_for(metadata, policy, person_id, Need.CURATE)
    if name is not _UNSET:
        cleaned = name.strip() if isinstance(name, str) else None
        person.name = cleaned or None
    if hidden is not None:
        person.hidden = hidden
    if cover_face_id is not None:
        try:
            face = metadata.get_face(cover_face_id)
        except NotFoundError as exc:
            raise InvalidInputError(
                "cover_face_id is not a face of this person", field="cover_face_id"
            ) from exc
        if face.person_id != person_id:
            raise InvalidInputError(
                "cover_face_id is not a face of this person", field="cover_face_id"
            )
        person.cover_face_id = cover_face_id
    person.updated_at = utcnow()
    metadata.put_person(person)
    return person


@dataclass(slots=True)
class MergeResult:
    person: Person
    merged_person_ids: list[str]
    moved_face_ids: list[str]


def merge_persons(
    metadata: PersonDetailsStore,
    vectors: VectorIndex,
    policy: Policy,
    target_id: str,
    source_ids: Sequence[str],
) -> MergeResult:
    """Move every face of ``source_ids`` into ``target_id`` and delete the sources.

    Moved faces become manual placements, so a later clustering keeps the merge. The
    target keeps its name; when it has none, it takes the first named source's name.
    Person links of a source move to the target unless the user already has one.

    Raises:
        InvalidInputError: no sources, too many, or the target among them.
        ConflictError: persons of different groups, or two of them hold faces of the same
            photo (``face_ids`` lists them; one photo never shows one person twice).
        NotFoundError, PermissionDeniedError.
    """
    sources = list(dict.fromkeys(source_ids))
    if not sources or len(sources) > MAX_MERGE_SOURCES:
        raise InvalidInputError(
            f"Give 1-{MAX_MERGE_SOURCES} persons to merge", field="source_person_ids"
        )
    if target_id in sources:
        raise InvalidInputError("A person cannot be merged into itself", field="source_person_ids")
    target = person_for(metadata, policy, target_id, Need.CURATE)
    source_persons = [person_for(metadata, policy, s, Need.CURATE) for s in sources]
    if any(s.group_id != target.group_id for s in source_persons):
        raise ConflictError("Persons of different groups cannot be merged")
    faces_of = {p: metadata.list_faces_of_person(p) for p in [target_id, *sources]}
    seen: dict[str, str] = {}  # image id -> a face of it in the merged person
    clashes: list[str] = []
    for faces in faces_of.values():
        for face in faces:
            if face.image_id in seen:
                clashes += [seen[face.image_id], face.face_id]
            seen.setdefault(face.image_id, face.face_id)
    if clashes:
        # One photo cannot show one person twice: the curator moves the wrong face out first.
        raise ConflictError(
            "The persons share a photo; move one of these faces out before merging",
            face_ids=sorted(set(clashes)),
        )
    moved: list[str] = []
    for source in source_persons:
        face_ids = [f.face_id for f in faces_of[source.person_id]]
        _place_manually(metadata, vectors, face_ids, target_id)
        moved.extend(face_ids)
        if not target.name and source.name:
            target.name = source.name
        if not target.linked_user_id and source.linked_user_id:
            target.linked_user_id = source.linked_user_id
        target.hidden = target.hidden and source.hidden
    users_of_target = {
        a.user_id
        for a in metadata.list_person_links(group_id=target.group_id)
        if a.person_id == target_id
    }
    for link in metadata.list_person_links(group_id=target.group_id):
        if link.person_id in sources and link.user_id not in users_of_target:
            link.person_id = target_id
            metadata.put_person_link(link)
            users_of_target.add(link.user_id)
    target.updated_at = utcnow()
    metadata.put_person(target)
    refresh_persons(metadata, [target_id, *sources], group_id=target.group_id)
    return MergeResult(
        person=metadata.get_person(target_id), merged_person_ids=sources, moved_face_ids=moved
    )


@dataclass(slots=True)
class MoveResult:
    face: Face
    person: Person
    previous_person_id: str | None
    created_person: bool
    removed_person_ids: list[str]


def move_face(
    metadata: PersonDetailsStore,
    vectors: VectorIndex,
    policy: Policy,
    face_id: str,
    *,
    person_id: str | None = None,
    new_person_name: str | None = None,
) -> MoveResult:
    """Move a face to an existing person, or (``person_id=None``) to a new person.

    The face becomes a manual placement. Two faces of one photo are never one person, so
    moving a face into a person that already has a face of the same photo is refused.

    Raises:
        ConflictError: target in another group, or already has a face of this photo.
        NotFoundError, PermissionDeniedError.
    """
    face = face_for(metadata, policy, face_id, Need.CURATE)
    previous = face.person_id
    created = False
    if person_id is not None:
        target = person_for(metadata, policy, person_id, Need.CURATE)
        if target.group_id != face.group_id:
            raise ConflictError("The person belongs to another group", person_id=person_id)
        if target.person_id != previous and any(
            f.image_id == face.image_id and f.face_id != face_id
            for f in metadata.list_faces_of_person(target.person_id)
        ):
            raise ConflictError("That person already has a face in this photo", person_id=person_id)
    else:
        target = Person(
            person_id=str(uuid.uuid4()),
            group_id=face.group_id,
            name=(new_person_name or "").strip() or None,
            cover_face_id=face_id,
        )
        metadata.put_person(target)
        created = True
    _place_manually(metadata, vectors, [face_id], target.person_id)
    removed = refresh_persons(
        metadata, [target.person_id, *([previous] if previous else [])], group_id=face.group_id
    )
    return MoveResult(
        face=metadata.get_face(face_id),
        person=metadata.get_person(target.person_id),
        previous_person_id=previous,
        created_person=created,
        removed_person_ids=removed,
    )


def _place_manually(
    metadata: FaceRepository, vectors: VectorIndex, face_ids: Sequence[str], person_id: str
) -> None:
    """Manual placement in both stores: vector payload first, then the item (source of truth).

    A failure between the two leaves the item unchanged, so a retry redoes both; the
    consistency check repairs payload-only drift.
    """
    if not face_ids:
        return
    vectors.set_person(face_ids, person_id)
    for face_id in face_ids:
        metadata.update_face_person(face_id, person_id, manual=True)
