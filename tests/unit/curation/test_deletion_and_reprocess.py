"""Batch delete, group deletion jobs and reprocessing (digest faked) on moto + Qdrant :memory:."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fakes import FakeOrchestrator, World
from findme.domain.faces import face_id_for
from findme.domain.keys import KeyScheme
from findme.domain.records import Face, JobStatus, Role
from findme.errors import DependencyError, InvalidInputError, NotFoundError, PermissionDeniedError
from findme.services import face_deletion, reprocess
from findme.services import persons as person_svc
from findme.services.curation_jobs import parse_curation_task, run_curation_task
from findme.services.digest import DigestDeps, DigestOutcome, DigestStatus
from findme.services.job_files import JobFiles


def _files(world: World) -> dict[str, Any]:
    return {"objects": world.objects, "keys": KeyScheme.from_settings(world.settings)}


def _deps(world: World) -> DigestDeps:
    return DigestDeps(
        store=world.objects,
        metadata=world.metadata,
        vectors=world.vectors,
        engine=None,  # type: ignore[arg-type]
        settings=world.settings,
    )


def _gone(world: World, face_ids: list[str], thumbs: list[str]) -> None:
    assert world.metadata.get_faces(face_ids) == []
    assert world.vectors.get(face_ids) == []
    assert all(world.objects.head(k) is None for k in thumbs)


def test_batch_delete_skips_faces_the_caller_may_not_touch(world: World) -> None:
    # Given my group with a person of three faces and someone else's group with one face
    me, stranger = world.user(), world.user()
    mine, theirs = world.group(me), world.group(stranger)
    alice = world.identity()
    faces = [world.photo(mine, [world.near(alice)])[0] for _ in range(3)]
    person = world.person(mine, faces)
    other = world.photo(theirs, [world.identity()])[0]
    ids = [faces[0].face_id, faces[1].face_id, other.face_id, "unknown"]
    # When I delete four ids
    result = face_deletion.batch_delete_faces(
        world.metadata, world.vectors, world.objects, world.scope(me), ids
    )
    # Then only my two faces go: no item, vector or thumbnail left; counts follow
    assert (result.deleted_count, result.deleted_thumbnails) == (2, 2)
    assert result.face_ids == ids[:2]
    assert result.skipped_face_ids == [other.face_id, "unknown"]
    _gone(world, ids[:2], [f.thumbnail_key for f in faces[:2] if f.thumbnail_key])
    assert world.metadata.get_person(person.person_id).face_count == 1
    assert world.metadata.get_face(other.face_id)
    assert world.metadata.get_image(faces[0].image_id).face_count == 0
    # And deleting the last face removes the empty person
    last = face_deletion.batch_delete_faces(
        world.metadata, world.vectors, world.objects, world.scope(me), [faces[2].face_id]
    )
    assert last.removed_person_ids == [person.person_id]
    # And bad input is refused
    with pytest.raises(InvalidInputError):
        face_deletion.batch_delete_faces(
            world.metadata, world.vectors, world.objects, world.scope(me), []
        )
    # And a batch of only foreign or unknown faces is an answer like a partly foreign one:
    # nothing deleted, everything skipped (issue 12: it was 403 / 404)
    for ids in ([other.face_id], ["nope"], [other.face_id, "nope"]):
        foreign = face_deletion.batch_delete_faces(
            world.metadata, world.vectors, world.objects, world.scope(me), ids
        )
        assert (foreign.deleted_count, foreign.face_ids, foreign.skipped_face_ids) == (0, [], ids)
    assert world.metadata.get_face(other.face_id)


class FailingDeletes:
    """An object store whose deletes fail (S3 outage), everything else passes through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def delete(self, keys: Any) -> None:
        raise DependencyError("S3 delete failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_s3_failures_are_logged_not_fatal_and_thumbnails_can_be_kept(world: World) -> None:
    me = world.user()
    group = world.group(me)
    f1, f2 = (world.photo(group, [world.identity()])[0] for _ in range(2))
    result = face_deletion.batch_delete_faces(
        world.metadata, world.vectors, FailingDeletes(world.objects), world.scope(me), [f1.face_id]
    )
    assert (result.deleted_count, result.deleted_thumbnails) == (1, 0)
    assert world.metadata.get_faces([f1.face_id]) == []
    assert world.vectors.get([f1.face_id]) == []
    kept = face_deletion.batch_delete_faces(
        world.metadata,
        world.vectors,
        world.objects,
        world.scope(me),
        [f2.face_id],
        delete_thumbnails=False,
    )
    assert kept.deleted_thumbnails == 0
    assert f2.thumbnail_key is not None
    assert world.objects.head(f2.thumbnail_key) is not None


def test_delete_group_is_a_job_for_owners_and_admins(world: World) -> None:
    owner, photographer = world.user(), world.user()
    group = world.group(owner, photographer=photographer)
    faces = world.photo(group, [world.identity(), world.identity()])
    world.person(group, faces[:1])
    jobs = FakeOrchestrator()
    with pytest.raises(PermissionDeniedError):
        face_deletion.start_delete_group(
            world.metadata, jobs, world.scope(photographer), group.group_id
        )
    job = face_deletion.start_delete_group(world.metadata, jobs, world.scope(owner), group.group_id)
    assert jobs.started == [("delete_group", {"group_id": group.group_id, "job_id": job.job_id})]
    summary = face_deletion.run_delete_group_job(
        job.job_id,
        group.group_id,
        metadata=world.metadata,
        vectors=world.vectors,
        store=world.objects,
    )
    assert summary["faces"] == 2
    assert world.metadata.get_job(job.job_id).status is JobStatus.SUCCEEDED
    with pytest.raises(NotFoundError):
        world.metadata.get_group(group.group_id)
    _gone(world, [f.face_id for f in faces], [f.thumbnail_key for f in faces if f.thumbnail_key])
    assert world.vectors.count(group.group_id) == 0


def _redetect(world: World, image_id: str, group_id: str, boxes: list[dict[str, int]]) -> None:
    """What digest writes for a re-detection: faces by index, keeping stored person by id."""
    previous = {f.face_id: f for f in world.metadata.list_faces_of_image(image_id)}
    new: list[Face] = []
    for index, box in enumerate(boxes):
        face_id = face_id_for(image_id, index)
        prev = previous.get(face_id)
        new.append(
            Face(
                face_id=face_id,
                image_id=image_id,
                group_id=group_id,
                face_index=index,
                bbox=box,
                landmarks={},
                confidence=0.9,
                blur_score=0.9,
                brightness_score=0.6,
                overall_quality=0.78,
                quality_grade="B",
                person_id=prev.person_id if prev else None,
                is_manual_placement=prev.is_manual_placement if prev else False,
            )
        )
    stale = [i for i in previous if i not in {f.face_id for f in new}]
    world.metadata.put_faces(new)
    world.metadata.delete_faces(stale)


def test_reprocess_keeps_manual_placements_where_boxes_overlap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a photo with two faces; face 0 manually moved to a new person "Ann"
    owner = world.user()
    group = world.group(owner)
    scope = world.scope(owner)
    faces = world.photo(group, [world.identity(), world.identity()])
    moved = person_svc.move_face(
        world.metadata, world.vectors, scope, faces[0].face_id, new_person_name="Ann"
    )
    ann = moved.person.person_id
    image_id = faces[0].image_id
    old0 = faces[0].bbox  # {"x": 0, ...}; face 1 at x=100
    # And a re-detection that finds the faces in the other order, face 0 shifted a little
    boxes = [{"x": 100, "y": 10, "w": 80, "h": 80}, {"x": old0["x"] + 8, "y": 12, "w": 80, "h": 80}]

    def fake_digest(
        key: str, deps: Any, *, force: bool = True, size_bytes: int | None = None
    ) -> DigestOutcome:
        _redetect(world, image_id, group.group_id, boxes)
        return DigestOutcome(
            key=key, status=DigestStatus.PROCESSED, image_id=image_id, face_count=2
        )

    monkeypatch.setattr(reprocess.digest_service, "digest_object", fake_digest)
    deps = DigestDeps(
        store=world.objects,
        metadata=world.metadata,
        vectors=world.vectors,
        engine=None,
        settings=world.settings,
    )  # type: ignore[arg-type]
    # When the photo is reprocessed
    outcome = reprocess.reprocess_image(image_id, deps)
    # Then Ann follows the overlapping box (now index 1), not the index
    new0, new1 = (world.metadata.get_face(face_id_for(image_id, i)) for i in range(2))
    assert (new1.person_id, new1.is_manual_placement) == (ann, True)
    assert new0.person_id is None
    assert world.vectors.get([new1.face_id])[0].person_id == ann
    assert (outcome.manual_kept, outcome.manual_lost) == (1, 0)
    assert world.metadata.get_person(ann).face_count == 1
    # And when a re-detection no longer overlaps (IoU <= 0.5), the manual placement is dropped
    boxes[:] = [{"x": 400, "y": 10, "w": 80, "h": 80}]
    lost = reprocess.reprocess_image(image_id, deps)
    assert (lost.manual_kept, lost.manual_lost, lost.faces_removed) == (0, 1, 1)
    assert world.metadata.get_face(face_id_for(image_id, 0)).person_id is None
    with pytest.raises(NotFoundError):
        world.metadata.get_person(ann)


def test_reprocess_jobs_select_photos_and_validate(world: World) -> None:
    owner, member = world.user(), world.user()
    group = world.group(owner, member=member)
    good = world.photo(group, [world.identity()])[0]
    bad = world.photo(group, [world.identity()], quality=[(0.1, 0.2, 0.5)])[0]
    jobs = FakeOrchestrator()
    scope = world.scope(owner)
    low = reprocess.select_for_group(world.metadata, scope, group.group_id, min_quality=0.5)
    assert low.image_ids == [bad.image_id]
    everything = reprocess.select_for_group(world.metadata, scope, group.group_id, force_all=True)
    assert set(everything.image_ids) == {good.image_id, bad.image_id}
    job = reprocess.start_reprocess(world.metadata, jobs, scope, low, **_files(world))
    items_key = f"jobs/{job.job_id}/items.json"
    assert jobs.started[0] == (
        "reprocess",
        {"group_id": group.group_id, "items_key": items_key, "job_id": job.job_id},
    )
    assert json.loads(world.objects.get(items_key)) == [bad.image_id]
    assert job.total == 1
    with pytest.raises(InvalidInputError):
        reprocess.select_for_group(world.metadata, scope, group.group_id)
    with pytest.raises(InvalidInputError):
        reprocess.select_for_group(world.metadata, scope, group.group_id, min_quality=2.0)
    empty = reprocess.select_for_group(world.metadata, scope, group.group_id, min_quality=0.0)
    with pytest.raises(InvalidInputError):
        reprocess.start_reprocess(world.metadata, jobs, scope, empty, **_files(world))
    with pytest.raises(PermissionDeniedError):
        reprocess.select_for_face(world.metadata, world.scope(member), good.face_id)
    admin = world.scope(world.user(Role.ADMIN))
    assert reprocess.select_for_face(world.metadata, admin, good.face_id).image_ids == [
        good.image_id
    ]


def test_reprocess_job_counts_and_finishes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = world.user()
    group = world.group(owner)
    face = world.photo(group, [world.identity()])[0]
    job = reprocess.start_reprocess(
        world.metadata,
        FakeOrchestrator(),
        world.scope(owner),
        reprocess.ReprocessSelection(group.group_id, [face.image_id, str(uuid.uuid4())]),
        **_files(world),
    )

    def fake_digest(
        key: str, deps: Any, *, force: bool = True, size_bytes: int | None = None
    ) -> DigestOutcome:
        return DigestOutcome(
            key=key, status=DigestStatus.PROCESSED, image_id=face.image_id, face_count=1
        )

    monkeypatch.setattr(reprocess.digest_service, "digest_object", fake_digest)
    deps = DigestDeps(
        store=world.objects,
        metadata=world.metadata,
        vectors=world.vectors,
        engine=None,
        settings=world.settings,
    )  # type: ignore[arg-type]
    totals = reprocess.run_reprocess_job(job.job_id, [face.image_id, str(uuid.uuid4())], deps)
    assert (totals["processed"], totals["skipped"]) == (1, 1)
    stored = world.metadata.get_job(job.job_id)
    assert stored.status is JobStatus.SUCCEEDED
    assert (stored.done, stored.failed) == (2, 0)


def test_a_whole_group_reprocess_starts_with_a_small_input(world: World) -> None:
    """Given a selection of 100,000 photos (a big event), when its reprocess job starts, then
    the execution input holds the key of the id list, not the ids (Step Functions refuses an
    input over 256 KiB: the ids alone are ~3.9 MB), and the list holds every id in order."""
    owner = world.user()
    group = world.group(owner)
    ids = [str(uuid.uuid4()) for _ in range(100_000)]
    jobs = FakeOrchestrator()
    job = reprocess.start_reprocess(
        world.metadata,
        jobs,
        world.scope(owner),
        reprocess.ReprocessSelection(group.group_id, ids),
        **_files(world),
    )
    ((workflow, payload),) = jobs.started
    assert workflow == "reprocess"
    assert len(json.dumps(payload)) < 1024 < 256 * 1024 < len(json.dumps(ids))
    assert json.loads(world.objects.get(payload["items_key"])) == ids
    assert world.metadata.get_job(job.job_id).total == 100_000


def test_reprocess_map_batches_sum_into_the_job_result(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a reprocess job over five photos: two processed, one unknown (skipped), one that
    # raises, and one in a batch that failed after its retries (no summary written)
    owner = world.user()
    group = world.group(owner)
    photos = [world.photo(group, [world.identity()])[0].image_id for _ in range(3)]
    ids = [photos[0], photos[1], "gone", photos[2], "lost"]
    job = reprocess.start_reprocess(
        world.metadata,
        FakeOrchestrator(),
        world.scope(owner),
        reprocess.ReprocessSelection(group.group_id, ids),
        **_files(world),
    )

    def fake_reprocess_image(image_id: str, deps: Any) -> reprocess.ReprocessOutcome:
        if image_id == "gone":
            raise NotFoundError("no image")
        if image_id == photos[2]:
            raise DependencyError("Qdrant timed out")
        return reprocess.ReprocessOutcome(image_id=image_id, status="processed", manual_kept=1)

    monkeypatch.setattr(reprocess, "reprocess_image", fake_reprocess_image)
    batch_input = {"workflow": "reprocess", "job_id": job.job_id, "group_id": group.group_id}
    # When the map runs two batches (a retried one twice) and the last step finishes
    for items in (ids[:2], ids[2:4], ids[2:4]):
        event = {"Items": items, "BatchInput": batch_input}
        run_curation_task(parse_curation_task(event), _deps(world))
    assert len(list(world.objects.list(f"jobs/{job.job_id}/batches/"))) == 2
    result = run_curation_task(parse_curation_task({**batch_input, "step": "finish"}), _deps(world))
    # Then the result sums each batch once; the lost photo counts as failed; the job succeeded
    # with the errors listed, and its work files are gone
    assert result == {
        "processed": 2,
        "failed": 2,
        "skipped": 1,
        "manual_kept": 2,
        "manual_lost": 0,
        "faces_removed": 0,
    }
    stored = world.metadata.get_job(job.job_id)
    assert stored.status is JobStatus.SUCCEEDED
    assert stored.result == result
    assert stored.error is not None
    assert "1 photos in batches that failed" in stored.error
    assert f"{photos[2]}: {DependencyError.code}" in stored.error
    assert list(world.objects.list(f"jobs/{job.job_id}/")) == []


def test_reprocess_job_fails_when_every_photo_failed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = world.user()
    group = world.group(owner)
    job = reprocess.start_reprocess(
        world.metadata,
        FakeOrchestrator(),
        world.scope(owner),
        reprocess.ReprocessSelection(group.group_id, ["a", "b"]),
        **_files(world),
    )

    def boom(image_id: str, deps: Any) -> reprocess.ReprocessOutcome:
        raise DependencyError("down")

    monkeypatch.setattr(reprocess, "reprocess_image", boom)
    event = {"Items": ["a"], "BatchInput": {"workflow": "reprocess", "job_id": job.job_id}}
    run_curation_task(parse_curation_task(event), _deps(world))  # "b": its batch was lost
    finish = {"workflow": "reprocess", "step": "finish", "job_id": job.job_id}
    assert run_curation_task(parse_curation_task(finish), _deps(world))["failed"] == 2
    assert world.metadata.get_job(job.job_id).status is JobStatus.FAILED


def test_delete_group_map_plans_deletes_in_batches_and_sweeps(world: World) -> None:
    # Given a group with five photos (faces, thumbnails, vectors), a person, and a job
    owner = world.user()
    group = world.group(owner)
    faces = [world.photo(group, [world.identity()])[0] for _ in range(5)]
    world.person(group, faces[:2])
    job = face_deletion.start_delete_group(
        world.metadata, FakeOrchestrator(), world.scope(owner), group.group_id
    )
    step = {"workflow": "delete_group", "job_id": job.job_id, "group_id": group.group_id}
    # When the plan step runs
    plan = run_curation_task(parse_curation_task({**step, "step": "plan"}), _deps(world))
    # Then the vectors are gone at once, the job runs over five photos listed in the id file
    assert world.vectors.count(group.group_id) == 0
    ids = json.loads(world.objects.get(plan["items_key"]))
    assert sorted(ids) == sorted(f.image_id for f in faces)
    assert plan == {"items_key": f"jobs/{job.job_id}/items.json", "images": 5}
    running = world.metadata.get_job(job.job_id)
    assert (running.status, running.total) == (JobStatus.RUNNING, 5)
    # When the map deletes them in batches of two, then the finish step runs
    for i in range(0, 5, 2):
        event = {"Items": ids[i : i + 2], "BatchInput": step}
        run_curation_task(parse_curation_task(event), _deps(world))
    assert world.metadata.get_faces([f.face_id for f in faces]) == []
    assert world.metadata.get_group(group.group_id)  # the group item goes last
    result = run_curation_task(parse_curation_task({**step, "step": "finish"}), _deps(world))
    # Then nothing of the group is left, the counts add up, and the job succeeded
    assert result["images"] == 5
    assert result["faces"] == 5
    assert result["persons_deleted"] == 1
    with pytest.raises(NotFoundError):
        world.metadata.get_group(group.group_id)
    _gone(world, [f.face_id for f in faces], [f.thumbnail_key for f in faces if f.thumbnail_key])
    done = world.metadata.get_job(job.job_id)
    assert (done.status, done.done, done.total) == (JobStatus.SUCCEEDED, 5, 5)
    assert list(world.objects.list(f"jobs/{job.job_id}/")) == []


def test_a_job_reads_only_its_own_id_list(world: World) -> None:
    """Given two jobs' id lists, then a job's files refuse a key of the other job (an
    ``items_key`` in a workflow input names the job's own list, never any object)."""
    keys = KeyScheme.from_settings(world.settings)
    mine, theirs = (JobFiles(world.objects, keys, str(uuid.uuid4())) for _ in range(2))
    assert mine.read_items(mine.write_items(["a", "b"])) == ["a", "b"]
    with pytest.raises(InvalidInputError):
        mine.read_items(theirs.write_items(["c"]))
    with pytest.raises(InvalidInputError):
        mine.read_items("originals/g/i.jpg")
