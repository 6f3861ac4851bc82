"""Clustering the real faces-dev photos: BCubed F on real SFace embeddings, and re-clustering
on the local stack keeps person ids, names, hidden flags and manual moves."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
import pytest
from faces_dev_faces import RealFaces
from findme import wiring
from findme.config import Settings
from findme.domain.clustering import cluster_faces
from findme.domain.faces import face_id_for
from findme.domain.metrics import bcubed
from findme.domain.records import Face, Group, Person
from findme.local.stack import StackHandle
from findme.ports import FaceVector
from findme.services.cluster import cluster_group

pytestmark = [pytest.mark.integration, pytest.mark.models]


def labelled_bcubed(
    real: RealFaces, persons: list[str | None]
) -> tuple[float, dict[str, float | int]]:
    """BCubed over the labelled faces only (the other faces have no ground truth)."""
    idx = [i for i, t in enumerate(real.truth) if t is not None]
    score = bcubed([real.truth[i] for i in idx], [persons[i] for i in idx])
    return score.f, score.as_dict()


@pytest.mark.parametrize("method", ["average", "dbscan"])
def test_faces_dev_identities_become_persons(real_faces: RealFaces, method: str) -> None:
    # Given every face of faces-dev (62 labelled portraits of 13 people, group photos,
    # background faces) with real SFace embeddings
    settings = Settings()
    n = len(real_faces.files)
    assert sum(t is not None for t in real_faces.truth) == 62
    # When clustered with the default eps and min_samples
    out = cluster_faces(
        real_faces.embeddings,
        real_faces.files,
        [None] * n,
        [False] * n,
        eps=settings.cluster_eps,
        min_samples=settings.cluster_min_samples,
        method=method,
        linkage_threshold=settings.cluster_linkage_threshold,
    )
    # Then each identity's photos fall into one person and persons do not mix identities
    f, score = labelled_bcubed(real_faces, out.person_ids)
    print(f"faces-dev BCubed ({method}): {score}")
    assert f == 1.0
    # And no person holds two faces of one photo
    pairs = Counter((p, f) for p, f in zip(out.person_ids, real_faces.files, strict=True) if p)
    assert max(pairs.values()) == 1


def store_faces(group_id: str, real: RealFaces) -> list[Face]:
    metadata, vectors = wiring.metadata_store(), wiring.vector_index()
    metadata.put_group(Group(group_id=group_id, name="faces-dev", owner_id="owner"))
    image_ids = {f: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{group_id}/{f}")) for f in real.files}
    faces = [
        Face(
            face_id=face_id_for(image_ids[file], index),
            image_id=image_ids[file],
            group_id=group_id,
            face_index=index,
            bbox={"x": 0, "y": 0, "w": 1, "h": 1},
            landmarks={},
            confidence=0.9,
            blur_score=0.5,
            brightness_score=0.5,
            overall_quality=quality,
            quality_grade="C",
        )
        for file, index, quality in zip(real.files, real.indices, real.qualities, strict=True)
    ]
    metadata.put_faces(faces)
    vectors.upsert(
        [
            FaceVector(f.face_id, group_id, f.image_id, np.asarray(v, dtype=np.float32))
            for f, v in zip(faces, real.embeddings, strict=True)
        ]
    )
    return faces


def stored_persons(faces: list[Face]) -> list[str | None]:
    got = {
        f.face_id: f.person_id
        for f in wiring.metadata_store().get_faces([f.face_id for f in faces])
    }
    return [got[f.face_id] for f in faces]


def test_re_clustering_on_the_local_stack_keeps_ids_names_and_manual_moves(
    local_stack: StackHandle, real_faces: RealFaces, fresh_group_id: str
) -> None:
    # Given faces-dev stored in one group of the local stack and clustered once
    settings = local_stack.settings()
    metadata, vectors = wiring.metadata_store(), wiring.vector_index()
    faces = store_faces(fresh_group_id, real_faces)

    def recluster() -> object:
        return cluster_group(
            fresh_group_id,
            metadata=metadata,
            vectors=vectors,
            eps=settings.cluster_eps,
            min_samples=settings.cluster_min_samples,
        )

    first = recluster()
    before = stored_persons(faces)
    f, score = labelled_bcubed(real_faces, before)
    print(f"faces-dev BCubed through cluster_group on the local stack: {score}; {first}")
    assert f >= 0.95
    # And a curator names person01's person, hides person02's, and moves the face of
    # img11_reflection.jpg (person01) into a new person by hand
    files = real_faces.files
    p01 = before[files.index("img1.jpg")]
    p02 = before[files.index("img3.jpg")]
    assert p01 is not None
    assert p02 is not None
    for pid, change in ((p01, {"name": "Person One"}), (p02, {"hidden": True})):
        person = metadata.get_person(pid)
        for key, value in change.items():
            setattr(person, key, value)
        metadata.put_person(person)
    moved = faces[files.index("img11_reflection.jpg")]
    mirror = Person(person_id=str(uuid.uuid4()), group_id=fresh_group_id, name="Mirror")
    metadata.put_person(mirror)
    vectors.set_person([moved.face_id], mirror.person_id)
    metadata.update_face_person(moved.face_id, mirror.person_id, manual=True)
    # When the group is clustered again
    second = recluster()
    # Then every face keeps its person (the moved face stays in "Mirror", manual),
    # names and hidden flags are kept, and nothing is created or merged
    after = stored_persons(faces)
    expected = list(before)
    expected[files.index("img11_reflection.jpg")] = mirror.person_id
    assert after == expected
    assert metadata.get_face(moved.face_id).is_manual_placement is True
    assert metadata.get_person(p01).name == "Person One"
    assert metadata.get_person(p02).hidden is True
    assert metadata.get_person(mirror.person_id).face_count == 1
    assert second.manual_placements_preserved == 1  # type: ignore[attr-defined]
    assert second.persons_created == 0  # type: ignore[attr-defined]
    assert second.persons_merged == 0  # type: ignore[attr-defined]
    payload = {v.face_id: v.person_id for v in vectors.get([f.face_id for f in faces])}
    assert [payload[f.face_id] for f in faces] == after
