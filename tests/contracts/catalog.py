"""The catalog consistency contract: idempotent writes, safe order, retries that repair.

Fixtures a tier provides: ``store`` (DynamoMetadataStore), ``objects`` (S3ObjectStore) and
``vectors`` (a VectorIndex). Failures are injected with :class:`FailOnce`, a proxy that
raises :class:`DependencyError` from one method, like a store outage mid-use-case.
"""

from __future__ import annotations

from typing import Any

import pytest
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.domain.keys import KeyScheme
from findme.domain.records import Face, Group, Image, PersonLink
from findme.errors import DependencyError, NotFoundError
from findme.ports import FaceVector
from findme.services import catalog

from contracts.records import (
    TEST_ORIGINALS,
    face,
    image,
    new_id,
    person,
    unit_vector,
    vector_of,
)

KEYS = KeyScheme(originals_prefix=TEST_ORIGINALS)


class FailOnce:
    """Delegates to ``target`` but raises DependencyError from ``method`` ``times`` times."""

    def __init__(self, target: Any, method: str, times: int = 1) -> None:
        self._target = target
        self._method = method
        self.remaining = times

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name != self._method:
            return attr

        def failing(*args: Any, **kwargs: Any) -> Any:
            if self.remaining > 0:
                self.remaining -= 1
                raise DependencyError(f"injected failure in {name}")
            return attr(*args, **kwargs)

        return failing


def assert_no_orphan_vectors(
    group_id: str, store: DynamoMetadataStore, vectors: QdrantVectorIndex
) -> list[FaceVector]:
    """Every vector of the group has its face item, with the same image and person."""
    points = list(vectors.scroll_group(group_id, with_vectors=False))
    items = {f.face_id: f for f in store.get_faces([p.face_id for p in points])}
    for p in points:
        assert p.face_id in items, f"vector {p.face_id} without a face item"
        assert items[p.face_id].image_id == p.image_id
        assert items[p.face_id].person_id == p.person_id
    return points


def build(
    group_id: str, n: int, person_id: str | None = None
) -> tuple[Image, list[Face], list[FaceVector], dict[str, bytes]]:
    """An image with ``n`` faces, their vectors and thumbnails (what digest passes)."""
    img = image(group_id)
    faces = [face(img, i, person_id) for i in range(n)]
    vecs = [vector_of(f, unit_vector(hash(f.face_id) % 10_000)) for f in faces]
    thumbs = {f.thumbnail_key: f"jpeg-{f.face_id}".encode() for f in faces if f.thumbnail_key}
    return img, faces, vecs, thumbs


class CatalogContract:
    def test_save_writes_everything_and_a_retry_changes_nothing(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given an image with three faces
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 3)
        # When saved twice (a re-delivered S3 notification)
        for _ in range(2):
            result = catalog.save_image_faces(
                img, faces, vecs, thumbs, metadata=store, vectors=vectors, store=objects
            )
        # Then exactly one copy of each face, vector and thumbnail exists
        assert result == catalog.SaveResult(3, 3, 3, 0)
        assert len(store.list_faces_of_image(img.image_id)) == 3
        assert vectors.count(group_id) == 3
        assert store.get_image(img.image_id).face_count == 3
        for key, data in thumbs.items():
            assert objects.get(key) == data
        assert len(assert_no_orphan_vectors(group_id, store, vectors)) == 3

    def test_a_failed_thumbnail_put_stops_the_save_before_any_item(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given a group photo whose thumbnails go up together, one of them failing
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 6)
        with pytest.raises(DependencyError):
            catalog.save_image_faces(
                img,
                faces,
                vecs,
                thumbs,
                metadata=store,
                vectors=vectors,
                store=FailOnce(objects, "put"),
            )
        # Then no face item and no vector was written after it
        assert store.list_faces_of_image(img.image_id) == []
        assert vectors.count(group_id) == 0

    def test_save_without_the_image_item_leaves_it_to_the_caller(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given digest's call: the image item is written by the caller, once, at its end
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 3)
        result = catalog.save_image_faces(
            img,
            faces,
            vecs,
            thumbs,
            metadata=store,
            vectors=vectors,
            store=objects,
            write_image=False,
        )
        # Then faces, vectors and thumbnails are written, the image item is not (yet)
        assert result == catalog.SaveResult(3, 3, 3, 0)
        assert len(assert_no_orphan_vectors(group_id, store, vectors)) == 3
        assert all(objects.get(key) == data for key, data in thumbs.items())
        with pytest.raises(NotFoundError):
            store.get_image(img.image_id)
        assert img.face_count == 3  # set for the caller's write

    def test_retry_after_failure_between_dynamodb_and_qdrant_ends_consistent(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given Qdrant fails right after the face items were written
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 4)
        flaky = FailOnce(vectors, "upsert")
        with pytest.raises(DependencyError):
            catalog.save_image_faces(
                img, faces, vecs, thumbs, metadata=store, vectors=flaky, store=objects
            )
        # Then the half-written state shows no vector, so search finds nothing half-made
        assert len(store.list_faces_of_image(img.image_id)) == 4
        assert vectors.count(group_id) == 0
        assert vectors.query(vecs[0].vector, group_ids=[group_id]) == []
        with pytest.raises(NotFoundError):
            store.get_image(img.image_id)  # the image item comes last
        # When the same call is retried
        catalog.save_image_faces(
            img, faces, vecs, thumbs, metadata=store, vectors=flaky, store=objects
        )
        # Then everything is there once, and every vector has its face item
        assert vectors.count(group_id) == 4
        assert store.get_image(img.image_id).face_count == 4
        hits = vectors.query(vecs[2].vector, group_ids=[group_id], limit=10)
        assert hits[0].face_id == faces[2].face_id
        assert len(assert_no_orphan_vectors(group_id, store, vectors)) == 4

    def test_retry_after_failure_writing_face_items(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 2)
        flaky = FailOnce(store, "put_faces")
        with pytest.raises(DependencyError):
            catalog.save_image_faces(
                img, faces, vecs, thumbs, metadata=flaky, vectors=vectors, store=objects
            )
        assert vectors.count(group_id) == 0  # nothing reached Qdrant before its items
        catalog.save_image_faces(
            img, faces, vecs, thumbs, metadata=flaky, vectors=vectors, store=objects
        )
        assert len(assert_no_orphan_vectors(group_id, store, vectors)) == 2

    def test_reprocessing_with_fewer_faces_removes_the_stale_ones(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given an image saved with three faces
        group_id = new_id("g")
        img, faces, vecs, thumbs = build(group_id, 3)
        catalog.save_image_faces(
            img, faces, vecs, thumbs, metadata=store, vectors=vectors, store=objects
        )
        # When it is reprocessed and only the first face is found
        keep = faces[0]
        result = catalog.save_image_faces(
            img,
            [keep],
            vecs[:1],
            {keep.thumbnail_key or "": b"new"},
            metadata=store,
            vectors=vectors,
            store=objects,
        )
        # Then the other faces' items, vectors and thumbnails are gone
        assert result.stale_faces_removed == 2
        assert [f.face_id for f in store.list_faces_of_image(img.image_id)] == [keep.face_id]
        assert [v.face_id for v in assert_no_orphan_vectors(group_id, store, vectors)] == [
            keep.face_id
        ]
        assert objects.head(faces[1].thumbnail_key or "") is None
        assert store.get_image(img.image_id).face_count == 1

    def test_delete_image_cascades_and_recounts_persons(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given person A in two images (cover face in the first), person B only in the first
        group_id = new_id("g")
        a, b = person(group_id), person(group_id)
        first, faces1, vecs1, thumbs1 = build(group_id, 2)
        faces1[0].person_id, faces1[1].person_id = a.person_id, b.person_id
        vecs1 = [vector_of(f, v.vector) for f, v in zip(faces1, vecs1, strict=True)]
        second, faces2, vecs2, thumbs2 = build(group_id, 1, person_id=a.person_id)
        a.cover_face_id, a.face_count, a.image_count = faces1[0].face_id, 2, 2
        b.cover_face_id, b.face_count, b.image_count = faces1[1].face_id, 1, 1
        for p in (a, b):
            store.put_person(p)
        store.put_person_link(PersonLink(group_id, b.person_id, new_id("u"), 0.7, "centroid"))
        store.put_group(Group(group_id, "G", new_id("u"), common_photo_ids=[first.image_id]))
        for img, faces, vecs, thumbs in (
            (first, faces1, vecs1, thumbs1),
            (second, faces2, vecs2, thumbs2),
        ):
            objects.put(img.s3_key, b"original", "image/jpeg")
            catalog.save_image_faces(
                img, faces, vecs, thumbs, metadata=store, vectors=vectors, store=objects
            )
        # When the first image is deleted, with a failure midway, then retried
        flaky = FailOnce(store, "delete_faces")
        with pytest.raises(DependencyError):
            catalog.delete_image(first.image_id, metadata=flaky, vectors=vectors, store=objects)
        assert_no_orphan_vectors(group_id, store, vectors)
        result = catalog.delete_image(
            first.image_id, metadata=flaky, vectors=vectors, store=objects
        )
        # Then the original, thumbnails, face items and vectors are gone
        assert result.images == 1
        assert objects.head(first.s3_key) is None
        assert all(objects.head(k) is None for k in thumbs1)
        assert store.list_faces_of_image(first.image_id) == []
        assert {v.image_id for v in assert_no_orphan_vectors(group_id, store, vectors)} == {
            second.image_id
        }
        with pytest.raises(NotFoundError):
            store.get_image(first.image_id)
        # And A is recounted with a new cover face; B (no face left) is deleted with its person link
        recounted = store.get_person(a.person_id)
        assert (recounted.face_count, recounted.image_count) == (1, 1)
        assert recounted.cover_face_id == faces2[0].face_id
        with pytest.raises(NotFoundError):
            store.get_person(b.person_id)
        assert store.list_person_links(group_id=group_id) == []
        assert store.get_group(group_id).common_photo_ids == []
        # And deleting again is a no-op
        assert (
            catalog.delete_image(first.image_id, metadata=store, vectors=vectors, store=objects)
            == catalog.DeleteResult()
        )

    def test_delete_faces(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        group_id = new_id("g")
        p = person(group_id, face_count=3, image_count=1)
        store.put_person(p)
        img, faces, vecs, thumbs = build(group_id, 3, person_id=p.person_id)
        catalog.save_image_faces(
            img, faces, vecs, thumbs, metadata=store, vectors=vectors, store=objects
        )
        catalog.delete_faces(
            [faces[0].face_id, new_id("f")], metadata=store, vectors=vectors, store=objects
        )
        assert [f.face_id for f in store.list_faces_of_image(img.image_id)] == [
            faces[1].face_id,
            faces[2].face_id,
        ]
        assert vectors.count(group_id) == 2
        assert objects.head(faces[0].thumbnail_key or "") is None
        assert store.get_image(img.image_id).face_count == 2
        assert store.get_person(p.person_id).face_count == 2
        assert_no_orphan_vectors(group_id, store, vectors)

    def test_delete_group_removes_everything_of_the_group_only(
        self, store: DynamoMetadataStore, objects: S3ObjectStore, vectors: QdrantVectorIndex
    ) -> None:
        # Given two groups with images, faces, persons, sections, members
        group_id, other = new_id("g"), new_id("g")
        for gid in (group_id, other):
            store.put_group(Group(gid, "G", new_id("u")))
            p = person(gid)
            store.put_person(p)
            for _ in range(3):
                img, faces, vecs, thumbs = build(gid, 2, person_id=p.person_id)
                objects.put(img.s3_key, b"original", "image/jpeg")
                catalog.save_image_faces(
                    img, faces, vecs, thumbs, metadata=store, vectors=vectors, store=objects
                )
        # When one group is deleted
        result = catalog.delete_group(
            group_id, metadata=store, vectors=vectors, store=objects, keys=KEYS
        )
        # Then nothing of it is left, and the other group is intact
        assert (result.images, result.faces, result.objects, result.persons_deleted) == (3, 6, 9, 1)
        assert vectors.count(group_id) == 0
        assert list(store.list_faces_of_group(group_id)) == []
        assert store.list_images(group_id).items == []
        assert store.list_persons(group_id) == []
        assert list(objects.list(f"{TEST_ORIGINALS}{group_id}/")) == []
        assert list(objects.list(f"faces/{group_id}/")) == []
        with pytest.raises(NotFoundError):
            store.get_group(group_id)
        assert vectors.count(other) == 6
        assert len(store.list_images(other).items) == 3
        assert len(list(objects.list(f"faces/{other}/"))) == 6
