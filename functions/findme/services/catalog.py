"""Consistency use cases across DynamoDB (metadata), Qdrant (vectors) and S3 (objects).

There is no transaction across the three stores, so every use case orders its steps so that

1. **no vector is ever visible without its face item**: writes go objects -> face items ->
   vectors; deletes go vectors -> objects -> face items -> parent item;
2. **a retry after a failure at any step repairs the state**: every step is idempotent
   (deterministic ids ``face_id = uuid5(image_id, face_index)``, upserts, deletes of missing
   things are no-ops), and the item that leads a retry to the rest (the image item, the
   group item) is written last and deleted last.

Readers hold up their side: a search maps vector hits to face items with
``FaceRepository.get_faces`` (which skips unknown ids), so a face item whose vector is not
written yet is simply not found, and a vector whose item is gone (mid-delete) is dropped.

Callers: the digest service (:func:`save_image_faces`), image and face curation
(:func:`delete_image`, :func:`delete_faces`), the ``delete_group`` workflow
(:func:`delete_group_images` per batch, :func:`delete_group` last).

Why one module of about 470 lines: the cross-store write and delete orders are this module's
whole point; split, the invariant above would no longer be visible in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from findme.domain.keys import KeyScheme
from findme.domain.records import Face, Image, utcnow
from findme.errors import InvalidInputError, NotFoundError
from findme.ports import (
    FaceRepository,
    FaceVector,
    GroupRepository,
    ImageRepository,
    ObjectStore,
    PersonLinkRepository,
    PersonRepository,
    SectionRepository,
    VectorIndex,
)


class DeleteGroupImagesStore(ImageRepository, FaceRepository, Protocol):
    """The metadata repositories :func:`delete_group_images` uses."""


class DeleteGroupStore(
    GroupRepository,
    SectionRepository,
    ImageRepository,
    FaceRepository,
    PersonRepository,
    PersonLinkRepository,
    Protocol,
):
    """The metadata repositories :func:`delete_group` uses."""


class DeleteImageStore(
    GroupRepository,
    ImageRepository,
    FaceRepository,
    PersonRepository,
    PersonLinkRepository,
    Protocol,
):
    """The metadata repositories :func:`delete_image` uses."""


class RefreshPersonsStore(FaceRepository, PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`_remove_faces`, :func:`refresh_persons` use."""


class SaveImageFacesStore(
    ImageRepository, FaceRepository, PersonRepository, PersonLinkRepository, Protocol
):
    """The metadata repositories :func:`save_image_faces`, :func:`delete_faces` use."""


#: Content type of face thumbnails (JPEG crops from the face engine).
THUMBNAIL_CONTENT_TYPE = "image/jpeg"
#: Face thumbnails of one photo written at once (S3 puts; boto3 clients are thread-safe).
THUMBNAIL_PUT_WORKERS = 8


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What :func:`save_image_faces` wrote (counts) and removed (stale faces of a re-run)."""

    faces: int
    vectors: int
    thumbnails: int
    stale_faces_removed: int


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """Counts of what a cascade delete removed."""

    images: int = 0
    faces: int = 0
    objects: int = 0
    persons_updated: int = 0
    persons_deleted: int = 0


def save_image_faces(
    image: Image,
    faces: Sequence[Face],
    face_vectors: Sequence[FaceVector],
    thumbnails: Mapping[str, bytes],
    *,
    metadata: SaveImageFacesStore,
    vectors: VectorIndex,
    store: ObjectStore,
    write_image: bool = True,
) -> SaveResult:
    """Write one image's faces, thumbnails and vectors, idempotently and in a safe order.

    Safe to call again with the same arguments after a failure at any step (an S3
    notification re-delivery, a Lambda retry): it converges to the same state and never
    duplicates, because every id is deterministic and every write an upsert.

    Order:
        1. thumbnails -> S3 (``put``, same keys on retry, several at once; digest wrote the
           photo's thumbnail and preview before);
        2. face items -> DynamoDB (``put_faces``, batch upsert);
        3. vectors -> Qdrant (``upsert``, point id = face id): only now can a search find
           the faces, and their items already exist;
        4. stale faces of an earlier run of the same image (ids not in ``faces``, e.g. the
           image was reprocessed with another detector setting) are removed, vectors first
           (:func:`delete_faces`);
        5. the image item -> DynamoDB (``put_image``, with ``face_count = len(faces)``),
           last, so a reader that sees the new ``face_count`` sees the faces too. With
           ``write_image=False`` the caller writes it after this returns (digest: once,
           with the final status, after placing new faces), saving a write.

    The caller keeps ``person_id`` / ``is_manual_placement`` of faces already stored
    (``FaceRepository.list_faces_of_image`` before building ``faces``) and passes the same
    ``person_id`` in each :class:`FaceVector`; this function writes what it is given.

    Args:
        image: the image item to write last; its ``status`` is written as given (the
            digest service sets ``processed`` afterwards). ``face_count`` is set here.
        faces: the image's face items; every ``face.image_id == image.image_id`` and
            ``face.group_id == image.group_id``; ids ``face_id_for(image_id, face_index)``.
        face_vectors: one per face that has an embedding (``vector``: ``(128,) float32``,
            L2-normalised; ``face_id``/``group_id``/``image_id`` as the face's). Faces
            without a vector are stored but never match a search.
        thumbnails: S3 key -> JPEG bytes, normally ``{face.thumbnail_key: crop}``.
        metadata, vectors, store: the ports.
        write_image: write the image item here (step 5); ``False`` leaves it to the caller,
            which must write it after this call returns (``face_count`` is set on ``image``).

    Returns:
        A :class:`SaveResult` with counts.

    Raises:
        InvalidInputError: a face or vector that does not belong to ``image`` (nothing is
            written then).
        DependencyError: a store failed; retry the call (the message) to repair.
    """
    face_ids = {f.face_id for f in faces}
    for face in faces:
        if face.image_id != image.image_id or face.group_id != image.group_id:
            raise InvalidInputError("face does not belong to the image", face_id=face.face_id)
    for v in face_vectors:
        if v.face_id not in face_ids or v.image_id != image.image_id:
            raise InvalidInputError("vector without a face of the image", face_id=v.face_id)
        if v.group_id != image.group_id:
            raise InvalidInputError("vector group differs from the image's", face_id=v.face_id)

    _put_thumbnails(thumbnails, store)
    if faces:
        metadata.put_faces(faces)
    if face_vectors:
        vectors.upsert(face_vectors)

    stale = [f for f in metadata.list_faces_of_image(image.image_id) if f.face_id not in face_ids]
    if stale:
        _remove_faces(stale, metadata=metadata, vectors=vectors, store=store)

    image.face_count = len(faces)
    if write_image:
        metadata.put_image(image)
    return SaveResult(len(faces), len(face_vectors), len(thumbnails), len(stale))


def _put_thumbnails(thumbnails: Mapping[str, bytes], store: ObjectStore) -> None:
    """Put every thumbnail (JPEG) and return once all are written; a failure is raised."""
    if len(thumbnails) <= 1:
        for key, data in thumbnails.items():
            store.put(key, data, THUMBNAIL_CONTENT_TYPE)
        return
    # A group photo's crops go up together: each put waits on the network, not the CPU.
    workers = min(THUMBNAIL_PUT_WORKERS, len(thumbnails))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thumbnails") as pool:
        futures = [
            pool.submit(store.put, key, data, THUMBNAIL_CONTENT_TYPE)
            for key, data in thumbnails.items()
        ]
        for future in futures:
            future.result()


def delete_faces(
    face_ids: Sequence[str],
    *,
    metadata: SaveImageFacesStore,
    vectors: VectorIndex,
    store: ObjectStore,
) -> DeleteResult:
    """Delete faces: vectors, thumbnails, items; then fix person and image counts.

    Unknown ids are ignored (idempotent). Persons left with no face are deleted (with their
    person links); a deleted cover face is replaced by the person's best remaining face.
    Each image's ``face_count`` is lowered accordingly.

    Raises:
        DependencyError: a store failed; calling again with the same ids completes it.
    """
    faces = metadata.get_faces(face_ids)
    # By id, not by item: vectors whose item an interrupted earlier call removed go too.
    vectors.delete_faces(list(dict.fromkeys(face_ids)))
    result = _remove_faces(faces, metadata=metadata, vectors=None, store=store)
    for image_id in sorted({f.image_id for f in faces}):
        try:
            image = metadata.get_image(image_id)
        except NotFoundError:
            continue
        image.face_count = len(metadata.list_faces_of_image(image_id))
        metadata.put_image(image)
    return result


def delete_image(
    image_id: str,
    *,
    metadata: DeleteImageStore,
    vectors: VectorIndex,
    store: ObjectStore,
) -> DeleteResult:
    """Delete an image and everything hanging off it.

    Order: vectors of the image (Qdrant filter on ``image_id``, catching even vectors whose
    face item is missing) -> original, photo renditions and face thumbnails (S3) -> face
    items -> person counts ->
    the image's id in its group's common photos -> the image item, last (it leads a retry
    to the rest). A missing image is a no-op (idempotent).

    Returns:
        Counts; ``images`` is 0 when the image did not exist.

    Raises:
        DependencyError: a store failed; calling again completes the delete.
    """
    try:
        image = metadata.get_image(image_id)
    except NotFoundError:
        vectors.delete_image(image_id)  # vectors are never left behind, even without items
        return DeleteResult()
    vectors.delete_image(image_id)
    faces = metadata.list_faces_of_image(image_id)
    object_keys = [
        image.s3_key,
        *_renditions_of(image),
        *(f.thumbnail_key for f in faces if f.thumbnail_key),
    ]
    store.delete(object_keys)
    result = _remove_faces(faces, metadata=metadata, vectors=None, store=None)
    _drop_common_photo(image, metadata)
    metadata.delete_image(image_id)
    return DeleteResult(
        images=1,
        faces=result.faces,
        objects=len(object_keys),
        persons_updated=result.persons_updated,
        persons_deleted=result.persons_deleted,
    )


def delete_group(
    group_id: str,
    *,
    metadata: DeleteGroupStore,
    vectors: VectorIndex,
    store: ObjectStore,
    keys: KeyScheme | None = None,
) -> DeleteResult:
    """Delete a group and all it holds: vectors, objects, faces, images, persons, etc.

    Order: every vector of the group (one Qdrant filter delete) -> every object under
    ``originals/``, ``thumbnails/``, ``previews/`` and ``faces/{group_id}/`` and every
    original/rendition/thumbnail key the items name -> face items -> image items ->
    persons, person links, sections, memberships -> the group item, last. Archives expire by
    the bucket lifecycle rule. Idempotent; a missing group still sweeps what is left.

    Args:
        keys: the key scheme (prefixes); defaults to the standard prefixes.

    Returns:
        Counts of removed images, faces, objects and persons (``persons_deleted``).

    Raises:
        DependencyError: a store failed; calling again completes the delete.
    """
    keys = keys or KeyScheme()
    vectors.delete_group(group_id)
    faces = list(metadata.list_faces_of_group(group_id))
    images: list[Image] = []
    cursor: str | None = None
    while True:  # collect first: deleting while paging would move the cursor
        page = metadata.list_images(group_id, limit=100, cursor=cursor)
        images += page.items
        cursor = page.cursor
        if cursor is None:
            break
    object_keys = list(
        dict.fromkeys(
            [
                *(
                    info.key
                    for prefix in (
                        keys.group_originals(group_id),
                        keys.group_thumbnails(group_id),
                        keys.group_previews(group_id),
                        keys.group_faces(group_id),
                    )
                    for info in store.list(prefix)
                ),
                *(image.s3_key for image in images),
                *(key for image in images for key in _renditions_of(image)),
                *(f.thumbnail_key for f in faces if f.thumbnail_key),
            ]
        )
    )
    store.delete(object_keys)
    metadata.delete_faces([f.face_id for f in faces])
    for image in images:
        metadata.delete_image(image.image_id)
    persons = metadata.list_persons(group_id)
    for link in metadata.list_person_links(group_id=group_id):
        metadata.delete_person_link(group_id, link.person_id)
    for person in persons:
        metadata.delete_person(person.person_id)
    for section in metadata.list_sections(group_id):
        metadata.delete_section(group_id, section.section_id)
    for membership in metadata.list_members(group_id):
        metadata.delete_membership(group_id, membership.user_id)
    metadata.delete_group(group_id)
    return DeleteResult(
        images=len(images),
        faces=len(faces),
        objects=len(object_keys),
        persons_deleted=len(persons),
    )


def delete_group_images(
    group_id: str,
    image_ids: Sequence[str],
    *,
    metadata: DeleteGroupImagesStore,
    store: ObjectStore,
) -> DeleteResult:
    """One batch of a group's deletion (the ``delete_group`` map): photos of ``group_id``.

    Order: originals and face thumbnails (S3) -> face items -> image items. The group's
    vectors went first, all at once (``VectorIndex.delete_group``, the plan step); persons
    and the group item go in the last step (:func:`delete_group`, which also sweeps anything
    a batch missed). Ids of other groups and unknown ids are skipped; idempotent.

    Raises:
        DependencyError: a store failed; calling again completes the batch.
    """
    images = [i for i in metadata.get_images(image_ids) if i.group_id == group_id]
    faces = [f for image in images for f in metadata.list_faces_of_image(image.image_id)]
    object_keys = [
        *(image.s3_key for image in images),
        *(f.thumbnail_key for f in faces if f.thumbnail_key),
    ]
    store.delete(object_keys)
    metadata.delete_faces([f.face_id for f in faces])
    for image in images:
        metadata.delete_image(image.image_id)
    return DeleteResult(images=len(images), faces=len(faces), objects=len(object_keys))


# --- shared steps -----------------------------------------------------------------------------
def _remove_faces(
    faces: Sequence[Face],
    *,
    metadata: RefreshPersonsStore,
    vectors: VectorIndex | None,
    store: ObjectStore | None,
) -> DeleteResult:
    """Vectors (if given) -> thumbnails (if given) -> items -> person counts."""
    if not faces:
        return DeleteResult()
    if vectors is not None:
        vectors.delete_faces([f.face_id for f in faces])
    if store is not None:
        store.delete([f.thumbnail_key for f in faces if f.thumbnail_key])
    metadata.delete_faces([f.face_id for f in faces])
    updated, deleted = refresh_persons(
        {f.person_id for f in faces if f.person_id}, group_id=faces[0].group_id, metadata=metadata
    )
    return DeleteResult(
        faces=len(faces), persons_updated=len(updated), persons_deleted=len(deleted)
    )


def refresh_persons(
    person_ids: Iterable[str], *, group_id: str, metadata: RefreshPersonsStore
) -> tuple[list[str], list[str]]:
    """Recount persons from their faces (idempotent, unlike decrements, so retries are safe).

    ``face_count`` = faces of the person; ``image_count`` = distinct images among them; a
    cover face that is gone is replaced by the best remaining face (highest
    ``overall_quality``). A person with no face left is deleted with its person link; an id
    naming no person is skipped (its person link went before it, so a retry has nothing left).

    Returns:
        ``(updated, deleted)`` person ids, sorted.
    """
    updated: list[str] = []
    deleted: list[str] = []
    for person_id in sorted(set(person_ids)):
        faces = metadata.list_faces_of_person(person_id)
        try:
            person = metadata.get_person(person_id)
        except NotFoundError:
            continue
        if not faces:
            metadata.delete_person_link(group_id, person_id)
            metadata.delete_person(person_id)
            deleted.append(person_id)
            continue
        try:
            cover = person.cover_face_id
            if cover not in {f.face_id for f in faces}:
                cover = max(faces, key=lambda f: f.overall_quality).face_id
            # Only the derived fields: a concurrent rename or hide is not overwritten.
            metadata.update_person(
                person_id,
                face_count=len(faces),
                image_count=len({f.image_id for f in faces}),
                cover_face_id=cover,
                updated_at=utcnow(),
            )
        except NotFoundError:
            continue
        updated.append(person_id)
    return updated, deleted


def _renditions_of(image: Image) -> list[str]:
    """The keys of the photo's thumbnail and preview that digest recorded on the item."""
    return [key for key in (image.thumbnail_key, image.preview_key) if key]


def _drop_common_photo(image: Image, metadata: GroupRepository) -> None:
    try:
        group = metadata.get_group(image.group_id)
    except NotFoundError:
        return
    if image.image_id in group.common_photo_ids:
        group.common_photo_ids = [i for i in group.common_photo_ids if i != image.image_id]
        metadata.put_group(group)
