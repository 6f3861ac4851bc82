"""The VectorIndex contract, run the same way on every adapter (qdrant-client, Qdrant Edge).

Fixture a tier provides: ``vectors`` (an ensured, empty-or-shared collection). Tests isolate
by fresh group ids.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from findme.errors import InvalidInputError
from findme.ports import FaceVector, VectorIndex

from contracts.records import new_id, unit_vector


def _fv(group_id: str, image_id: str, seed: int, **kw: object) -> FaceVector:
    return FaceVector(
        face_id=str(uuid.uuid4()),
        group_id=group_id,
        image_id=image_id,
        vector=unit_vector(seed),
        **kw,  # type: ignore[arg-type]
    )


class VectorIndexContract:
    def test_upsert_is_idempotent_and_counts(self, vectors: VectorIndex) -> None:
        group_id = new_id("g")
        points = [_fv(group_id, "img", i) for i in range(5)]
        vectors.upsert(points)
        vectors.upsert(points)  # a retry
        assert vectors.count(group_id) == 5
        assert vectors.count(new_id("g")) == 0

    def test_query_finds_the_same_face_with_cosine_score(self, vectors: VectorIndex) -> None:
        group_id = new_id("g")
        points = [_fv(group_id, "img", i) for i in range(10)]
        vectors.upsert(points)
        probe = points[3].vector + 0.05 * unit_vector(99)
        probe = (probe / np.linalg.norm(probe)).astype(np.float32)
        hits = vectors.query(probe, group_ids=[group_id], limit=3)
        assert hits[0].face_id == points[3].face_id
        assert hits[0].score == pytest.approx(float(probe @ points[3].vector), abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        # A threshold drops unrelated faces (random 128-d vectors: cosine ~ 0 +- 0.1)
        assert [
            h.face_id for h in vectors.query(probe, group_ids=[group_id], score_threshold=0.9)
        ] == [points[3].face_id]

    def test_query_never_leaks_across_groups(self, vectors: VectorIndex) -> None:
        # Given the SAME embedding in two groups
        mine, theirs = new_id("g"), new_id("g")
        v = unit_vector(7)
        vectors.upsert(
            [
                FaceVector(str(uuid.uuid4()), mine, "a", v),
                FaceVector(str(uuid.uuid4()), theirs, "b", v),
            ]
        )
        # When one group is searched, only its face comes back
        hits = vectors.query(v, group_ids=[mine], limit=10)
        assert {h.group_id for h in hits} == {mine}
        both = vectors.query(v, group_ids=[mine, theirs], limit=10)
        assert {h.group_id for h in both} == {mine, theirs}
        with pytest.raises(InvalidInputError):
            vectors.query(v, group_ids=[])

    def test_kind_separates_reference_faces(self, vectors: VectorIndex) -> None:
        group_id, user_id = new_id("g"), new_id("u")
        face = _fv(group_id, "img", 1)
        selfie = _fv(group_id, "selfie", 1, kind="reference", user_id=user_id)
        vectors.upsert([face, selfie])
        assert [h.face_id for h in vectors.query(face.vector, group_ids=[group_id])] == [
            face.face_id
        ]
        refs = vectors.query(face.vector, group_ids=[group_id], kind="reference")
        assert [(h.face_id, h.user_id) for h in refs] == [(selfie.face_id, user_id)]
        vectors.delete_user(user_id)
        assert vectors.count(group_id, kind="reference") == 0
        assert vectors.count(group_id) == 1

    def test_set_person_updates_payload(self, vectors: VectorIndex) -> None:
        group_id, person_id = new_id("g"), new_id("p")
        points = [_fv(group_id, "img", i) for i in range(3)]
        vectors.upsert(points)
        vectors.set_person([p.face_id for p in points[:2]], person_id)
        got = {v.face_id: v for v in vectors.get([p.face_id for p in points])}
        assert [got[p.face_id].person_id for p in points] == [person_id, person_id, None]
        hit = vectors.query(points[0].vector, group_ids=[group_id], limit=1)[0]
        assert hit.person_id == person_id
        vectors.set_person([points[0].face_id], None)
        assert vectors.get([points[0].face_id])[0].person_id is None

    def test_scroll_group_returns_vectors(self, vectors: VectorIndex) -> None:
        group_id = new_id("g")
        points = [_fv(group_id, f"img{i % 2}", i) for i in range(7)]
        vectors.upsert(points)
        vectors.upsert([_fv(new_id("g"), "other", 50)])
        scrolled = {v.face_id: v for v in vectors.scroll_group(group_id)}
        assert set(scrolled) == {p.face_id for p in points}
        for p in points:
            np.testing.assert_allclose(scrolled[p.face_id].vector, p.vector, atol=1e-6)
            assert scrolled[p.face_id].vector.dtype == np.float32
        no_vectors = list(vectors.scroll_group(group_id, with_vectors=False))
        assert all(v.vector.size == 0 for v in no_vectors)

    def test_cascade_deletes(self, vectors: VectorIndex) -> None:
        group_id, other = new_id("g"), new_id("g")
        img_a = [_fv(group_id, "a", i) for i in range(3)]
        img_b = [_fv(group_id, "b", i + 3) for i in range(2)]
        kept = _fv(other, "c", 9)
        vectors.upsert([*img_a, *img_b, kept])
        vectors.delete_faces([img_a[0].face_id])
        assert vectors.count(group_id) == 4
        vectors.delete_image("a")
        assert {v.image_id for v in vectors.scroll_group(group_id)} == {"b"}
        vectors.delete_group(group_id)
        assert vectors.count(group_id) == 0
        assert vectors.get([kept.face_id])[0].face_id == kept.face_id

    def test_bad_vectors_are_refused(self, vectors: VectorIndex) -> None:
        group_id = new_id("g")
        bad = FaceVector(str(uuid.uuid4()), group_id, "i", np.ones(64, np.float32))
        with pytest.raises(InvalidInputError):
            vectors.upsert([bad])
        # one bad vector in a batch: nothing of the batch is written
        with pytest.raises(InvalidInputError):
            vectors.upsert([_fv(group_id, "i", 1), bad])
        assert vectors.count(group_id) == 0

    def test_bulk_upsert_spans_write_batches(self, vectors: VectorIndex) -> None:
        # Given more faces than one write request carries (both adapters batch: 256, 1,024)
        group_id = new_id("g")
        rng = np.random.default_rng(5)
        matrix = rng.standard_normal((1500, 128)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        points = [
            FaceVector(str(uuid.uuid4()), group_id, f"img{i}", matrix[i]) for i in range(1500)
        ]
        # When they are upserted in one call
        vectors.upsert(points)
        # Then every one is stored, searchable and scrolled
        assert vectors.count(group_id) == 1500
        assert vectors.query(matrix[1234], group_ids=[group_id], limit=1)[0].face_id == (
            points[1234].face_id
        )
        assert len(list(vectors.scroll_group(group_id, with_vectors=False))) == 1500
