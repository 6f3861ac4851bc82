"""cluster_group, run_cluster_job, the cluster handler and place_new_faces on the real
adapters: DynamoDB on moto and Qdrant in memory."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest
from fakes import DIM as D
from fakes import World, blob, photo, unit
from findme import wiring
from findme.domain.records import Face, Job, JobStatus, JobType, Person, PersonLink
from findme.errors import DependencyError, InvalidInputError
from findme.ports import FaceVector
from findme.services.cluster import (
    ClusterTask,
    cluster_group,
    place_new_faces,
    run_cluster_job,
)

EPS = 0.475


def three_identities(stores: World, group_id: str, seed: int = 0) -> tuple[list[Face], list[int]]:
    """Identities 0, 1, 2 with 5, 4, 3 faces (one photo each) and one stranger (-1)."""
    rng = np.random.default_rng(seed)
    truth = [0] * 5 + [1] * 4 + [2] * 3 + [-1]
    centres = [unit(rng.standard_normal(D)) for _ in range(3)]
    x = np.vstack(
        [
            blob(rng, centres[0], 5),
            blob(rng, centres[1], 4),
            blob(rng, centres[2], 3),
            unit(rng.standard_normal(D))[None, :],
        ]
    )
    qualities = [0.5 + 0.03 * i for i in range(len(truth))]
    faces = stores.add_faces(
        group_id, x, [photo(f"p{i}") for i in range(len(truth))], qualities=qualities
    )
    return faces, truth


def persons_of(stores: World, faces: list[Face]) -> list[str | None]:
    stored = {f.face_id: f for f in stores.metadata.get_faces([f.face_id for f in faces])}
    return [stored[f.face_id].person_id for f in faces]


def payload_persons(stores: World, faces: list[Face]) -> list[str | None]:
    stored = {v.face_id: v.person_id for v in stores.vectors.get([f.face_id for f in faces])}
    return [stored[f.face_id] for f in faces]


def run(stores: World, group_id: str, **kwargs: Any) -> Any:
    return cluster_group(
        group_id,
        metadata=stores.metadata,
        vectors=stores.vectors,
        eps=EPS,
        min_samples=2,
        **kwargs,
    )


def test_first_clustering_writes_persons_faces_and_payloads(stores: World, group_id: str) -> None:
    # Given a group with three identities and a stranger, nobody assigned yet
    faces, truth = three_identities(stores, group_id)
    # When the group is clustered (face items written by a small thread pool)
    result = run(stores, group_id, write_concurrency=2)
    # Then there are three persons, one per identity, with the right counts and the
    # best-quality face as cover, the stranger is unassigned, and both stores agree
    persons = persons_of(stores, faces)
    assert persons == payload_persons(stores, faces)
    by_identity = {
        t: {p for p, tt in zip(persons, truth, strict=True) if tt == t} for t in (0, 1, 2)
    }
    assert all(len(s) == 1 and None not in s for s in by_identity.values())
    assert persons[-1] is None
    stored = {p.person_id: p for p in stores.metadata.list_persons(group_id)}
    assert len(stored) == 3
    for identity, size in ((0, 5), (1, 4), (2, 3)):
        (pid,) = by_identity[identity]
        members = [f for f, t in zip(faces, truth, strict=True) if t == identity]
        assert (stored[pid].face_count, stored[pid].image_count) == (size, size)
        assert stored[pid].cover_face_id == max(members, key=lambda f: f.overall_quality).face_id
    assert result.faces_processed == 13
    assert result.persons_created == 3
    assert result.persons_merged == 0
    assert result.faces_assigned == 12
    assert result.faces_unassigned == 1
    assert result.processing_time > 0


def test_re_clustering_keeps_ids_names_hidden_flags_and_manual_moves(
    stores: World, group_id: str
) -> None:
    # Given a clustered group where a curator named one person, hid another,
    # and moved one face of identity 0 into identity 1's person by hand
    faces, _truth = three_identities(stores, group_id, seed=1)
    run(stores, group_id)
    before = persons_of(stores, faces)
    named, hidden = before[0], before[5]
    assert named is not None
    assert hidden is not None
    person = stores.metadata.get_person(named)
    person.name = "Ada"
    stores.metadata.put_person(person)
    person = stores.metadata.get_person(hidden)
    person.hidden = True
    stores.metadata.put_person(person)
    moved = faces[4]
    stores.vectors.set_person([moved.face_id], hidden)
    stores.metadata.update_face_person(moved.face_id, hidden, manual=True)
    # When the group is clustered again (a forced re-run)
    result = run(stores, group_id)
    # Then every person id, the name and the hidden flag are kept, the moved face stays
    # where the curator put it (manual), and nothing was created or merged
    after = persons_of(stores, faces)
    expected = list(before)
    expected[4] = hidden
    assert after == expected
    assert payload_persons(stores, faces) == expected
    assert stores.metadata.get_face(moved.face_id).is_manual_placement is True
    assert stores.metadata.get_person(named).name == "Ada"
    assert stores.metadata.get_person(hidden).hidden is True
    assert stores.metadata.get_person(hidden).face_count == 5
    assert result.manual_placements_preserved == 1
    assert result.persons_created == 0
    assert result.persons_removed == 0


def test_empty_persons_are_removed_and_a_merged_persons_user_follows(
    stores: World, group_id: str
) -> None:
    # Given identity 0 split by an earlier run into persons P (3 faces) and Q (2 faces),
    # Q linked to a user, and a stale person E with no face
    faces, _ = three_identities(stores, group_id, seed=2)
    p, q, e = (str(uuid.uuid4()) for _ in range(3))
    for pid in (p, q, e):
        stores.metadata.put_person(Person(person_id=pid, group_id=group_id))
    for face, pid in zip(faces[:5], [p, p, p, q, q], strict=True):
        stores.metadata.update_face_person(face.face_id, pid, manual=False)
        stores.vectors.set_person([face.face_id], pid)
    stores.metadata.put_person_link(
        PersonLink(
            group_id=group_id, person_id=q, user_id="u1", similarity=0.7, strategy="centroid"
        )
    )
    # When the group is clustered
    result = run(stores, group_id)
    # Then identity 0 is P, Q and E are gone, and Q's person link moved to P
    assert set(persons_of(stores, faces[:5])) == {p}
    remaining = {x.person_id for x in stores.metadata.list_persons(group_id)}
    assert p in remaining
    assert not {q, e} & remaining
    assert result.persons_merged == 1
    assert result.persons_removed == 2
    links = stores.metadata.list_person_links(group_id=group_id)
    assert [(a.person_id, a.user_id) for a in links] == [(p, "u1")]
    assert stores.metadata.get_person(p).linked_user_id is None  # Q had no link to carry


def test_a_cluster_job_goes_running_then_succeeded_with_counts(
    stores: World, group_id: str
) -> None:
    # Given a clustering job for a group with faces
    three_identities(stores, group_id)
    job_id = str(uuid.uuid4())
    stores.metadata.put_job(Job(job_id=job_id, job_type=JobType.CLUSTER, group_id=group_id))
    # When the task runs with its own eps
    out = run_cluster_job(
        ClusterTask.model_validate({"group_id": group_id, "job_id": job_id, "eps": 0.45}),
        metadata=stores.metadata,
        vectors=stores.vectors,
        settings=stores.settings,
    )
    # Then the job succeeded with the result counts
    job = stores.metadata.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.result["faces_processed"] == 13
    assert job.result["persons_created"] == 3
    assert out["eps"] == 0.45
    assert out["min_samples"] == stores.settings.cluster_min_samples
    assert out["job_id"] == job_id


def test_a_failing_cluster_job_is_marked_failed_and_raises(stores: World, group_id: str) -> None:
    # Given a job and a vector index that is down
    job_id = str(uuid.uuid4())
    stores.metadata.put_job(Job(job_id=job_id, job_type=JobType.CLUSTER, group_id=group_id))

    class Down:
        def scroll_group(self, *args: Any, **kwargs: Any) -> Any:
            raise DependencyError("Qdrant scroll failed")

    # When the task runs, Then the error propagates and the job records it
    with pytest.raises(DependencyError):
        run_cluster_job(
            ClusterTask(group_id=group_id, job_id=job_id),
            metadata=stores.metadata,
            vectors=Down(),  # type: ignore[arg-type]
            settings=stores.settings,
        )
    job = stores.metadata.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith("dependency_unavailable:")


def test_the_handler_parses_the_task_and_returns_the_counts(
    stores: World, group_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the wiring pointed at the test stores
    from findme.local.orchestrator import invoke

    three_identities(stores, group_id)
    monkeypatch.setattr(wiring, "metadata_store", lambda: stores.metadata)
    monkeypatch.setattr(wiring, "vector_index", lambda: stores.vectors)
    # When the cluster Lambda is invoked with a Step Functions task input (extra keys too)
    out = invoke("cluster", {"group_id": group_id, "min_samples": 3, "Execution": "x"})
    # Then it returns the run's counts with the requested min_samples
    assert out["faces_processed"] == 13
    assert out["min_samples"] == 3
    assert out["persons_created"] == 3
    # And a malformed input is refused before anything runs
    with pytest.raises(InvalidInputError):
        invoke("cluster", {"group_id": "", "eps": 5})


# --- place new faces ----------------------------------------------------------------------
def test_new_faces_join_their_nearest_person_once_per_photo(stores: World, group_id: str) -> None:
    # Given a clustered group (identities 0, 1, 2)
    faces, _truth = three_identities(stores, group_id, seed=3)
    run(stores, group_id)
    persons = persons_of(stores, faces)
    person0 = persons[0]
    person1 = persons[5]
    assert person0 is not None
    assert person1 is not None
    before = stores.metadata.get_person(person0).face_count
    # And a new photo with: a face of identity 0, its near-duplicate (a mirror),
    # a face of identity 1, and a stranger
    rng = np.random.default_rng(30)
    stored = {v.face_id: v.vector for v in stores.vectors.get([f.face_id for f in faces])}
    c0 = np.mean([stored[f.face_id] for f in faces[:5]], axis=0)
    c1 = np.mean([stored[f.face_id] for f in faces[5:9]], axis=0)
    a = blob(rng, unit(c0), 1, 0.2)[0]
    mirror = unit(a + 0.1 * rng.standard_normal(D) / np.sqrt(D))
    b = blob(rng, unit(c1), 1, 0.2)[0]
    stranger = unit(rng.standard_normal(D))
    image_id = photo("new")
    new = stores.add_faces(group_id, np.vstack([a, mirror, b, stranger]), [image_id] * 4)
    vecs = [
        FaceVector(f.face_id, group_id, image_id, np.asarray(v, np.float32))
        for f, v in zip(new, [a, mirror, b, stranger], strict=True)
    ]
    # When digest places the new faces
    result = place_new_faces(
        group_id, vecs, metadata=stores.metadata, vectors=stores.vectors, settings=stores.settings
    )
    # Then identity 0's face and identity 1's face join their persons, only one of the
    # two identity-0 faces joins (never twice in a photo), the stranger stays unassigned
    got = [result[f.face_id] for f in new]
    assert got[2] == person1
    assert got[3] is None
    assert Counter(got[:2]) == Counter([person0, None])
    assert persons_of(stores, new) == got
    assert payload_persons(stores, new) == got
    assert stores.metadata.get_face(new[0].face_id).is_manual_placement is False
    assert stores.metadata.get_person(person0).face_count == before + 1


def test_a_person_already_in_the_photo_is_not_joined_again(stores: World, group_id: str) -> None:
    # Given a clustered group and a photo whose first face a curator already put in person 0
    faces, _ = three_identities(stores, group_id, seed=4)
    run(stores, group_id)
    person0 = persons_of(stores, faces)[0]
    rng = np.random.default_rng(40)
    stored = {v.face_id: v.vector for v in stores.vectors.get([f.face_id for f in faces])}
    c0 = unit(np.mean([stored[f.face_id] for f in faces[:5]], axis=0))
    image_id = photo("with-manual")
    x = blob(rng, c0, 2, 0.2)
    new = stores.add_faces(group_id, x, [image_id] * 2)
    stores.metadata.update_face_person(new[0].face_id, person0, manual=True)
    # When the photo's other face (also like person 0) is placed
    vec = FaceVector(new[1].face_id, group_id, image_id, np.asarray(x[1], np.float32))
    result = place_new_faces(
        group_id, [vec], metadata=stores.metadata, vectors=stores.vectors, threshold=0.4
    )
    # Then it stays without a person
    assert result == {new[1].face_id: None}


def test_a_rename_while_placing_new_faces_is_kept(
    stores: World, group_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a clustered group and a new photo with a face of identity 0
    faces, _ = three_identities(stores, group_id, seed=5)
    run(stores, group_id)
    person0 = persons_of(stores, faces)[0]
    assert person0 is not None
    before = stores.metadata.get_person(person0).face_count
    stored = {v.face_id: v.vector for v in stores.vectors.get([f.face_id for f in faces])}
    c0 = unit(np.mean([stored[f.face_id] for f in faces[:5]], axis=0))
    image_id = photo("renamed-meanwhile")
    x = blob(np.random.default_rng(50), c0, 1, 0.2)
    new = stores.add_faces(group_id, x, [image_id])
    vec = FaceVector(new[0].face_id, group_id, image_id, np.asarray(x[0], np.float32))
    # And a curator who renames person 0 right after each read of it by digest
    real_get = stores.metadata.get_person
    renames: list[str] = []

    def get_then_rename(person_id: str) -> Person:
        person = real_get(person_id)
        renames.append(f"Renamed {len(renames) + 1}")
        stores.metadata.update_person(person_id, name=renames[-1])
        return person

    monkeypatch.setattr(stores.metadata, "get_person", get_then_rename)
    # When digest places the new face
    result = place_new_faces(
        group_id, [vec], metadata=stores.metadata, vectors=stores.vectors, threshold=0.4
    )
    monkeypatch.undo()
    # Then the face joins person 0, its count grows, and the rename is not overwritten
    assert result == {new[0].face_id: person0}
    person = stores.metadata.get_person(person0)
    assert person.face_count == before + 1
    assert person.name == renames[-1]


def test_place_new_faces_needs_a_threshold(stores: World) -> None:
    with pytest.raises(InvalidInputError):
        place_new_faces("g", [], metadata=stores.metadata, vectors=stores.vectors)
