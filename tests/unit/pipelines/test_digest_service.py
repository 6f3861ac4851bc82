"""The digest service on the real adapters (moto S3 + DynamoDB, Qdrant :memory:) and a fake engine.

The fake engine reads a tiny "photo" format: ``b"IMG" + <face count> + <identity seed>``;
``b"BAD..."`` is undecodable, ``b"FLAKY..."`` fails with a transient error. Embeddings are unit
vectors seeded by the identity byte, so two photos with the same seed are the same person.
Uploads wrap the payload in a JPEG's markers (:func:`photo`), so they pass digest's upload
checks (type, whole file) as real photos do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from contracts.bad_images import BadFile, corpus
from fakes import moto_world
from findme.config import Settings
from findme.domain.faces import (
    BoundingBox,
    DecodedImage,
    DetectedFace,
    ImageAnalysis,
    Quality,
    face_id_for,
)
from findme.domain.keys import KeyScheme
from findme.domain.records import Group, ImageStatus, Person
from findme.errors import DependencyError, InvalidImageError
from findme.services.digest import DigestDeps, DigestStatus, digest_object

CAPTURED = datetime(2019, 7, 20, 17, 45, 22)
#: Files the API refuses by their bytes (the digest settings' 25 MB limit: no over-size file).
REFUSED = [f for f in corpus() if f.outcome == "refused"]
#: SOI + SOS ... EOI: the smallest bytes that pass ``check_image`` as a whole JPEG.
_JPEG_HEAD, _JPEG_TAIL = b"\xff\xd8\xff\xda", b"\xff\xd9"


def photo(payload: bytes) -> bytes:
    """The test format's ``payload`` in a JPEG's start, scan and end markers."""
    return _JPEG_HEAD + payload + _JPEG_TAIL


class TinyFormatEngine:
    """A FaceEngine for the tiny test format (see the module docstring); not thread-safe."""

    def __init__(self) -> None:
        self._last = b""

    def decode(self, data: bytes) -> DecodedImage:
        if data.startswith(_JPEG_HEAD) and data.endswith(_JPEG_TAIL):
            data = data[len(_JPEG_HEAD) : -len(_JPEG_TAIL)]
        if data.startswith(b"BAD"):
            raise InvalidImageError("not a recognised image format")
        if data.startswith(b"FLAKY"):
            raise DependencyError("model session crashed")
        self._last = data  # analyze() reads face count and identity seed from it
        return DecodedImage(
            pixels=np.zeros((4, 4, 3), np.uint8), width=640, height=480, captured_at=CAPTURED
        )

    def analyze(self, data: Any, **_: Any) -> ImageAnalysis:
        count, seed = self._last[3], self._last[4]
        faces = []
        for i in range(count):
            v = np.random.default_rng(seed * 100 + i).normal(size=128)
            faces.append(
                DetectedFace(
                    index=i,
                    bbox=BoundingBox(10 + 50 * i, 10, 40, 40),
                    landmarks=np.zeros((5, 2), np.float32),
                    confidence=0.9,
                    embedding=(v / np.linalg.norm(v)).astype(np.float32),
                    quality=Quality(0.9, 0.8, 0.9, 0.86, "A"),
                    crop_jpeg=b"\xff\xd8 face",
                )
            )
        return ImageAnalysis(width=640, height=480, faces=faces, captured_at=CAPTURED)

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        return b"jpeg"

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        return [b"jpeg-%d" % side for side in long_sides]


@pytest.fixture(scope="module")
def deps() -> Iterator[DigestDeps]:
    settings = Settings(
        bucket="digest-test", aws_region="us-east-1", table_prefix="dg-", qdrant_path=":memory:"
    )
    with moto_world(settings) as world:
        yield DigestDeps(
            store=world.objects,
            metadata=world.metadata,
            vectors=world.vectors,
            engine=TinyFormatEngine(),
            settings=settings,
        )


@pytest.fixture
def group_id(deps: DigestDeps) -> str:
    group = Group(group_id=f"g-{uuid.uuid4()}", name="t", owner_id="u")
    deps.metadata.put_group(group)
    return group.group_id


def upload(deps: DigestDeps, group_id: str, data: bytes) -> tuple[str, str]:
    image_id = str(uuid.uuid4())
    key = KeyScheme().original(group_id, image_id, ".jpg")
    deps.store.put(
        key, photo(data), "image/jpeg", metadata={"file-name": "a.jpg", "uploaded-by": "u1"}
    )
    return key, image_id


def test_new_upload_is_created_from_object_metadata_and_processed(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a photo with two faces uploaded without an image item (a presigned POST)
    key, image_id = upload(deps, group_id, b"IMG\x02\x01")
    # When it is digested
    outcome = digest_object(key, deps)
    # Then the image item exists, processed, with the object's metadata and EXIF time
    image = deps.metadata.get_image(image_id)
    assert outcome.status == DigestStatus.PROCESSED
    assert (image.status, image.face_count, image.width) == (ImageStatus.PROCESSED, 2, 640)
    assert (image.file_name, image.uploaded_by, image.group_id) == ("a.jpg", "u1", group_id)
    assert image.captured_at == CAPTURED.replace(tzinfo=UTC)
    # And two faces with deterministic ids, thumbnails and vectors
    faces = sorted(deps.metadata.list_faces_of_image(image_id), key=lambda f: f.face_index)
    assert [f.face_id for f in faces] == [face_id_for(image_id, 0), face_id_for(image_id, 1)]
    assert all(deps.store.head(f.thumbnail_key or "") is not None for f in faces)
    assert len(deps.vectors.get([f.face_id for f in faces])) == 2


def test_undecodable_photo_fails_with_a_reason_and_writes_nothing(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a corrupt upload
    key, image_id = upload(deps, group_id, b"BAD bytes")
    # When digested, Then the outcome is failed (no exception: no retry) and nothing else exists
    outcome = digest_object(key, deps)
    image = deps.metadata.get_image(image_id)
    assert outcome.status == DigestStatus.FAILED
    assert image.status is ImageStatus.FAILED
    assert image.failure_reason == "invalid_image: not a recognised image format"
    assert deps.metadata.list_faces_of_image(image_id) == []
    assert deps.vectors.count(group_id) == 0


@pytest.mark.parametrize("bad", REFUSED, ids=[f.kind for f in REFUSED])
def test_a_presigned_upload_the_api_would_refuse_fails_with_the_api_code(
    deps: DigestDeps, group_id: str, bad: BadFile
) -> None:
    # Given bad bytes that reached S3 through a presigned POST (the API never saw them)
    image_id = str(uuid.uuid4())
    key = KeyScheme().original(group_id, image_id, ".jpg")
    deps.store.put(key, bad.data, "image/jpeg", metadata={"file-name": bad.file_name})
    # When digested
    outcome = digest_object(key, deps)
    # Then the image is failed with the code the API answers for such a file, nothing written
    image = deps.metadata.get_image(image_id)
    assert (outcome.status, image.status) == (DigestStatus.FAILED, ImageStatus.FAILED)
    assert (image.failure_reason or "").split(":")[0] == bad.code
    assert deps.metadata.list_faces_of_image(image_id) == []


def test_transient_error_is_raised_for_retry_and_a_retry_succeeds(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a photo whose first attempt hits a transient error
    key, image_id = upload(deps, group_id, b"FLAKY")
    # When digested, Then the error propagates (the message is retried), the image says so
    with pytest.raises(DependencyError):
        digest_object(key, deps)
    image = deps.metadata.get_image(image_id)
    assert image.status is ImageStatus.FAILED
    assert (image.failure_reason or "").startswith("retrying: dependency_unavailable")
    # When the object is fine on the retry, Then it ends processed with no reason left
    deps.store.put(key, photo(b"IMG\x01\x02"), "image/jpeg")
    assert digest_object(key, deps).status == DigestStatus.PROCESSED
    image = deps.metadata.get_image(image_id)
    assert (image.status, image.failure_reason) == (ImageStatus.PROCESSED, None)


def test_redelivery_rewrites_the_same_faces_and_keeps_persons(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a processed photo whose face was moved to a person by hand
    key, image_id = upload(deps, group_id, b"IMG\x01\x03")
    digest_object(key, deps)
    face_id = face_id_for(image_id, 0)
    person = Person(person_id=str(uuid.uuid4()), group_id=group_id, name="Ann", face_count=1)
    deps.metadata.put_person(person)
    deps.metadata.update_face_person(face_id, person.person_id, manual=True)
    deps.vectors.set_person([face_id], person.person_id)
    # When the same notification is handled twice more
    digest_object(key, deps)
    digest_object(key, deps)
    # Then one face, one vector, the same person and manual flag
    faces = deps.metadata.list_faces_of_image(image_id)
    assert [(f.face_id, f.person_id, f.is_manual_placement) for f in faces] == [
        (face_id, person.person_id, True)
    ]
    assert deps.vectors.count(group_id) == 1
    assert deps.vectors.get([face_id])[0].person_id == person.person_id


def test_backfill_skips_processed_images_and_foreign_keys(deps: DigestDeps, group_id: str) -> None:
    # Given a processed photo
    key, _ = upload(deps, group_id, b"IMG\x01\x04")
    digest_object(key, deps)
    # When a prefix back-fill (force=False) meets it, a thumbnail key and a vanished object
    skipped = digest_object(key, deps, force=False)
    foreign = digest_object(f"faces/{group_id}/x.jpg", deps, force=False)
    gone = digest_object(KeyScheme().original(group_id, "nothing-here"), deps)
    # Then all three are skipped with a reason
    assert [o.status for o in (skipped, foreign, gone)] == [DigestStatus.SKIPPED] * 3
    assert skipped.face_count == 1
    assert gone.reason is not None
    assert gone.reason.startswith("not_found")


def test_new_face_joins_the_person_of_its_nearest_placed_face(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a person holding the face of a first photo of identity 5
    key1, image1 = upload(deps, group_id, b"IMG\x01\x05")
    digest_object(key1, deps)
    first = face_id_for(image1, 0)
    person = Person(person_id=str(uuid.uuid4()), group_id=group_id, face_count=1, image_count=1)
    deps.metadata.put_person(person)
    deps.metadata.update_face_person(first, person.person_id, manual=False)
    deps.vectors.set_person([first], person.person_id)
    # When a second photo of identity 5 (same embedding) and one of identity 6 arrive
    key2, image2 = upload(deps, group_id, b"IMG\x01\x05")
    key3, image3 = upload(deps, group_id, b"IMG\x01\x06")
    same, other = digest_object(key2, deps), digest_object(key3, deps)
    # Then the same identity joins the person; the stranger stays unassigned
    assert (same.placed, other.placed) == (1, 0)
    assert deps.metadata.get_face(face_id_for(image2, 0)).person_id == person.person_id
    assert deps.metadata.get_face(face_id_for(image3, 0)).person_id is None


def test_deleted_face_stays_deleted_after_redelivery_until_a_curator_reprocesses(
    deps: DigestDeps, group_id: str
) -> None:
    """Given a processed photo of two faces and a curator's batch delete of one, when the same
    S3 notification is delivered again (at least once delivery) and a back-fill re-digests,
    then the face stays deleted (no item, no vector, count 1); when a curator reprocesses the
    photo, then it comes back (issue 11, defect 2)."""
    from findme.domain.records import Role
    from findme.services.auth import Principal
    from findme.services.face_deletion import batch_delete_faces
    from findme.services.policy import Policy
    from findme.services.reprocess import reprocess_image

    key, image_id = upload(deps, group_id, b"IMG\x02\x05")
    digest_object(key, deps)
    gone = face_id_for(image_id, 1)
    admin = Policy(deps.metadata, Principal("admin", Role.ADMIN, "+14150000001", "Admin"))
    batch_delete_faces(deps.metadata, deps.vectors, deps.store, admin, [gone])

    digest_object(key, deps)  # redelivery
    digest_object(key, deps, force=False)  # a back-fill skips it anyway
    faces = deps.metadata.list_faces_of_image(image_id)
    assert [f.face_id for f in faces] == [face_id_for(image_id, 0)]
    assert deps.vectors.get([gone]) == []
    assert deps.metadata.get_image(image_id).face_count == 1

    reprocess_image(image_id, deps)
    assert {f.face_id for f in deps.metadata.list_faces_of_image(image_id)} == {
        face_id_for(image_id, 0),
        gone,
    }
    assert deps.metadata.get_image(image_id).deleted_face_ids == []


def test_deleted_image_is_not_recreated_by_a_late_notification(
    deps: DigestDeps, group_id: str
) -> None:
    """Given a processed photo that is then deleted, when its notification arrives again,
    then it is skipped: no image item, faces or vectors come back."""
    from findme.services import catalog

    key, image_id = upload(deps, group_id, b"IMG\x01\x06")
    digest_object(key, deps)
    catalog.delete_image(
        image_id,
        metadata=deps.metadata,
        vectors=deps.vectors,
        store=deps.store,
    )
    outcome = digest_object(key, deps)
    assert outcome.status == DigestStatus.SKIPPED
    assert deps.metadata.get_images([image_id]) == []
    assert deps.metadata.list_faces_of_image(image_id) == []
    assert deps.vectors.get([face_id_for(image_id, 0)]) == []


def test_digest_writes_thumbnail_and_preview_and_image_delete_removes_them(
    deps: DigestDeps, group_id: str
) -> None:
    # Given a digested photo
    key, image_id = upload(deps, group_id, b"IMG\x02\x05")
    outcome = digest_object(key, deps)
    # Then its thumbnail (320) and preview (1,280) sit under their own prefixes, named on the
    # image item, and the rendering time is measured
    image = deps.metadata.get_image(image_id)
    assert image.thumbnail_key == f"thumbnails/{group_id}/{image_id}.jpg"
    assert image.preview_key == f"previews/{group_id}/{image_id}.jpg"
    assert deps.store.get(image.thumbnail_key) == b"jpeg-320"
    assert deps.store.get(image.preview_key) == b"jpeg-1280"
    assert outcome.timings_ms["render"] >= 0
    # When a rendition is lost and the photo is reprocessed (digest again, forced)
    deps.store.delete([image.preview_key])
    digest_object(key, deps, force=True)
    # Then it is rebuilt
    assert deps.store.get(image.preview_key) == b"jpeg-1280"
    # When the image is deleted, Then the renditions go with the original
    from findme.services.catalog import delete_image

    result = delete_image(image_id, metadata=deps.metadata, vectors=deps.vectors, store=deps.store)
    assert result.objects == 1 + 2 + 2  # original, renditions, two face thumbnails
    assert deps.store.head(image.thumbnail_key) is None
    assert deps.store.head(image.preview_key) is None
    assert deps.store.head(key) is None


def test_group_delete_sweeps_renditions_even_without_items(deps: DigestDeps, group_id: str) -> None:
    # Given a digested photo and a stray rendition no item names (an interrupted digest)
    key, _ = upload(deps, group_id, b"IMG\x01\x06")
    digest_object(key, deps)
    stray = KeyScheme().photo_preview(group_id, "stray")
    deps.store.put(stray, b"x", "image/jpeg")
    # When the group is deleted
    from findme.services.catalog import delete_group

    delete_group(group_id, metadata=deps.metadata, vectors=deps.vectors, store=deps.store)
    # Then nothing is left under any of the group's prefixes
    keys = KeyScheme()
    for prefix in (keys.group_thumbnails(group_id), keys.group_previews(group_id)):
        assert list(deps.store.list(prefix)) == []
