"""Digest, cluster and ZIP on faces-dev through the local stack (see conftest.py's ``digested``).

Tests that change persons (manual moves, renames) run last in this file and never touch the
session snapshot the others read.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from findme import wiring
from findme.domain.faces import face_id_for
from findme.domain.keys import KeyScheme
from findme.domain.metrics import bcubed
from findme.domain.records import ImageStatus, Job, JobStatus, JobType
from findme.local.orchestrator import InProcessOrchestrator, invoke
from PIL import Image as PilImage

if TYPE_CHECKING:
    from conftest import Digested

pytestmark = [pytest.mark.integration, pytest.mark.models]


def primary_face_person(state: Digested, image_id: str) -> str | None:
    """The person of a labelled photo's largest face (snapshot after the first clustering)."""
    faces = state.faces_by_image.get(image_id, [])
    if not faces:
        return None
    largest = max(faces, key=lambda f: f.bbox["w"] * f.bbox["h"])
    return state.person_of_face[largest.face_id]


def s3_message(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
                }
            ]
        }
    )


# --- digest -------------------------------------------------------------------------------
def test_every_photo_ends_processed_fed_by_s3_notifications(
    digested: Digested, labels: dict[str, str], group_photos: dict[str, int]
) -> None:
    # Given every faces-dev photo uploaded and digested by the SQS poller
    metadata = wiring.metadata_store()
    images = {name: digested.image(name) for name in digested.image_id_of}
    # Then all 64 are processed, with sizes and at least one face each
    assert len(images) == len(labels) + len(group_photos) == 64
    not_processed = {
        n: (i.status, i.failure_reason)
        for n, i in images.items()
        if i.status is not ImageStatus.PROCESSED
    }
    assert not_processed == {}
    assert all(i.width and i.height and i.processed_at for i in images.values())
    assert all(i.face_count >= 1 for i in images.values())
    # And every message came from moto's S3 -> SQS notification (the test sent none)
    stats = digested.workers.poller.stats
    assert stats.received >= 65
    # And face items, thumbnails and vectors exist for the faces
    face = digested.faces_by_image[images["img1.jpg"].image_id][0]
    assert face.thumbnail_key == KeyScheme().face_thumbnail(digested.group_id, face.face_id)
    assert wiring.object_store().head(face.thumbnail_key) is not None
    assert wiring.vector_index().get([face.face_id])[0].group_id == digested.group_id
    assert metadata.get_face(face.face_id).quality_grade in "ABCDF"


def test_exif_capture_time_is_kept(digested: Digested, faces_dev: Path) -> None:
    # Given photos whose EXIF carries DateTimeOriginal (0x9003), img1.jpg with its UTC
    # offset too (OffsetTimeOriginal 0x9011: -07:00), the others without
    offsets: dict[str, int | None] = {}
    for name in ("img1.jpg", "img3.jpg", "img13.jpg"):
        exif = PilImage.open(faces_dev / "images" / name).getexif().get_ifd(0x8769)
        expected = datetime.strptime(exif[0x9003], "%Y:%m:%d %H:%M:%S")
        image = digested.image(name)
        captured, minutes = image.captured_at, image.captured_utc_offset_min
        assert captured is not None
        offsets[name] = minutes
        # Then the item keeps the instant with the offset: the camera's wall time in it
        # (issue 12: -07:00 was reported as Z); without an offset, the wall time as before
        local = (
            captured
            if minutes is None
            else captured.astimezone(timezone(timedelta(minutes=minutes)))
        )
        assert local.replace(tzinfo=None) == expected, name
    assert offsets == {"img1.jpg": -420, "img3.jpg": None, "img13.jpg": None}


def test_group_photos_yield_their_faces(digested: Digested, group_photos: dict[str, int]) -> None:
    # Given the two group photos (7 faces in the selfie, one half cut off: 6 is what counts)
    for name, expected in group_photos.items():
        image = digested.image(name)
        at_least = expected - 1 if name.startswith("selfie") else expected
        # Then their faces were found and stored one item per face, ids uuid5(image, index)
        faces = digested.faces_by_image[image.image_id]
        assert image.face_count == len(faces) >= at_least, name
        assert sorted(f.face_id for f in faces) == sorted(
            face_id_for(image.image_id, i) for i in range(len(faces))
        )


def test_corrupt_upload_fails_without_blocking_the_batch(digested: Digested) -> None:
    # Given a corrupt file uploaded with no image item (like a presigned POST)
    image = wiring.metadata_store().get_image(digested.corrupt_image_id)
    # Then its item was created from the object's metadata and ended failed with a reason
    assert image.status is ImageStatus.FAILED
    assert image.failure_reason is not None
    assert image.failure_reason.startswith("invalid_image")
    assert (image.file_name, image.uploaded_by, image.group_id) == (
        "corrupt.jpg",
        "test",
        digested.group_id,
    )
    # And it wrote nothing else, and its message succeeded (no retry storm): no batch item failed
    assert wiring.metadata_store().list_faces_of_image(image.image_id) == []
    assert digested.workers.poller.stats.failed == 0


def test_same_notification_twice_creates_no_duplicates(digested: Digested) -> None:
    # Given a processed photo with its faces, vectors and persons
    image = digested.image("couple.jpg")
    metadata, vectors = wiring.metadata_store(), wiring.vector_index()
    before = sorted((f.face_id, f.person_id) for f in metadata.list_faces_of_image(image.image_id))
    count_before = vectors.count(digested.group_id)
    # When the same S3 notification arrives twice (in one batch, then once more)
    body = s3_message(digested.settings.bucket, image.s3_key)
    records = [
        {
            "messageId": f"dup-{i}",
            "receiptHandle": f"rh-{i}",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:findme-digest",
            "awsRegion": "us-east-1",
        }
        for i in range(2)
    ]
    assert invoke("digest", {"Records": records}) == {"batchItemFailures": []}
    assert invoke("digest", {"Records": records[:1]}) == {"batchItemFailures": []}
    # Then the same faces (same ids, same persons), the same number of vectors
    after = sorted((f.face_id, f.person_id) for f in metadata.list_faces_of_image(image.image_id))
    assert after == before
    assert vectors.count(digested.group_id) == count_before
    assert metadata.get_image(image.image_id).status is ImageStatus.PROCESSED


# --- cluster ------------------------------------------------------------------------------
def test_each_identity_is_one_person_bcubed(digested: Digested, labels: dict[str, str]) -> None:
    # Given the labelled photos' main faces after clustering
    names = sorted(labels)
    truth = [labels[n] for n in names]
    predicted = [primary_face_person(digested, digested.image_id_of[n]) for n in names]
    # When scored with BCubed against the identities
    score = bcubed(truth, predicted)
    print(f"\nBCubed on faces-dev (62 labelled photos, 13 identities): {score.as_dict()}")
    # Then identities are not split and persons do not mix them
    assert score.f >= 0.95, score.as_dict()
    assert digested.cluster_result["faces_processed"] >= 62


def test_digest_prefix_workflow_counts_progress_on_the_job(
    digested: Digested, local_stack: Any, faces_dev: Path
) -> None:
    with digested.workers.paused():  # the workflow alone digests this group
        digest_prefix_workflow(local_stack, faces_dev)


def digest_prefix_workflow(local_stack: Any, faces_dev: Path) -> None:
    # Given a small group: three photos and one corrupt file under its originals prefix
    metadata, store = wiring.metadata_store(), wiring.object_store()
    keys = KeyScheme.from_settings(local_stack.settings())
    group_id = f"g-{uuid.uuid4()}"
    for name in ("img1.jpg", "img2.jpg", "img4.jpg"):
        store.put(
            keys.original(group_id, str(uuid.uuid4()), ".jpg"),
            (faces_dev / "images" / name).read_bytes(),
            "image/jpeg",
        )
    store.put(keys.original(group_id, str(uuid.uuid4()), ".jpg"), b"broken", "image/jpeg")
    job = Job(job_id=str(uuid.uuid4()), job_type=JobType.DIGEST, group_id=group_id)
    metadata.put_job(job)
    orchestrator = InProcessOrchestrator()
    try:
        # When the digest_prefix workflow runs (map in batches of 2, then cluster)
        output = orchestrator.run(
            "digest_prefix", {"job_id": job.job_id, "group_id": group_id, "batch_size": 2}
        )
    finally:
        orchestrator.shutdown()
    # Then the job shows total/done/failed and succeeded (the corrupt photo does not fail the
    # workflow: digest marked it failed), with the cluster result
    done = metadata.get_job(job.job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert (done.total, done.done, done.failed) == (4, 3, 1)
    assert (output["processed"], output["failed"], output["failed_batches"]) == (3, 1, 0)
    assert output["cluster"]["faces_processed"] >= 3
    persons = {f.person_id for f in metadata.list_faces_of_group(group_id) if f.person_id}
    assert len(persons) == 1  # img1, img2, img4 are all person01


# --- zip ------------------------------------------------------------------------------------
def test_zip_of_20_photos_is_byte_identical(digested: Digested, faces_dev: Path) -> None:
    # Given a download job for 20 photos of the group
    metadata = wiring.metadata_store()
    names = sorted(digested.image_id_of)[:20]
    job = Job(
        job_id=str(uuid.uuid4()),
        job_type=JobType.DOWNLOAD,
        group_id=digested.group_id,
        params={"image_ids": [digested.image_id_of[n] for n in names]},
    )
    metadata.put_job(job)
    # When the zip workflow runs
    orchestrator = InProcessOrchestrator()
    try:
        orchestrator.run("zip", {"job_id": job.job_id})
    finally:
        orchestrator.shutdown()
    # Then the job is ready with a presigned URL that serves exactly those files, byte-identical
    ready = metadata.get_job(job.job_id)
    assert ready.status is JobStatus.READY
    assert (ready.total, ready.done, ready.failed) == (20, 20, 0)
    with urllib.request.urlopen(ready.result["url"], timeout=30) as response:  # noqa: S310
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == names
        for name in names:
            assert zf.read(name) == (faces_dev / "images" / name).read_bytes(), name


# --- re-clustering keeps curators' work (mutates persons: keep last) ------------------------
def test_reclustering_keeps_person_ids_names_and_manual_moves(digested: Digested) -> None:
    # Given the clustered group, a person renamed and one face moved by hand to another person
    metadata, vectors = wiring.metadata_store(), wiring.vector_index()
    persons = {p.person_id: p for p in metadata.list_persons(digested.group_id)}
    assert len(persons) >= 2
    big = sorted(persons.values(), key=lambda p: -p.face_count)
    named, target = big[0], big[1]
    named.name = "Renamed Person"
    metadata.put_person(named)
    moved = metadata.list_faces_of_person(named.person_id)[0]
    metadata.update_face_person(moved.face_id, target.person_id, manual=True)
    vectors.set_person([moved.face_id], target.person_id)
    before = {f.face_id: f.person_id for f in metadata.list_faces_of_group(digested.group_id)}
    # When the group is clustered again
    orchestrator = InProcessOrchestrator()
    try:
        result = orchestrator.run("cluster", {"group_id": digested.group_id})
    finally:
        orchestrator.shutdown()
    # Then person ids, the name and the manual move survive, and no face changed person
    after = {f.face_id: f for f in metadata.list_faces_of_group(digested.group_id)}
    assert {pid for pid in before.values() if pid} <= {
        p.person_id for p in metadata.list_persons(digested.group_id)
    }
    assert metadata.get_person(named.person_id).name == "Renamed Person"
    assert after[moved.face_id].person_id == target.person_id
    assert after[moved.face_id].is_manual_placement
    changed = [fid for fid, f in after.items() if f.person_id != before[fid]]
    assert changed == []
    assert result["manual_assignments_preserved"] >= 1
    assert np.isfinite(result["processing_time"])
