"""Pipelines on the local stack: faces-dev uploaded once per session, digested by the real poller.

``digested`` (session scope) uploads every faces-dev photo, plus one corrupt file, into one
fresh group with ``findme upload``'s code (image item, then the object). The local bucket's
``s3:ObjectCreated`` notification (moto's S3 -> SQS) puts one message per object on the
digest queue; the real SQS poller (:func:`findme.local.worker.start_workers`) feeds them to the
digest handler until every image is ``processed`` or ``failed``; when the queue runs empty the
worker re-clusters the group by itself (``auto_cluster``), as ``make run`` does. The person of
every face is then snapshotted, so tests that later change persons (manual moves) do not
disturb the others.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from findme import wiring
from findme.commands.jobs import ensure_group, upload_directory
from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.domain.records import Face, Image, ImageStatus
from findme.local.stack import StackHandle
from findme.local.worker import Workers, start_workers

#: Upper bound for digesting the 64 photos on a busy 2-core machine, seconds.
DIGEST_TIMEOUT_S = 900.0


@dataclass
class Digested:
    """The session's digested faces-dev group."""

    group_id: str
    settings: Settings
    image_id_of: dict[str, str]  # file name -> image id
    corrupt_image_id: str
    workers: Workers
    digest_seconds: float
    cluster_result: dict[str, Any]
    faces_by_image: dict[str, list[Face]] = field(default_factory=dict)
    person_of_face: dict[str, str | None] = field(default_factory=dict)

    def image(self, file_name: str) -> Image:
        return wiring.metadata_store().get_image(self.image_id_of[file_name])


def wait_until_done(image_ids: list[str], timeout_s: float) -> dict[str, Image]:
    """Poll until no image is ``uploaded``/``processing`` (or fail the test at the timeout)."""
    metadata = wiring.metadata_store()
    deadline = time.monotonic() + timeout_s
    while True:
        images = {i: metadata.get_image(i) for i in image_ids}
        pending = [
            i
            for i, im in images.items()
            if im.status in (ImageStatus.UPLOADED, ImageStatus.PROCESSING)
        ]
        if not pending:
            return images
        if time.monotonic() > deadline:
            pytest.fail(f"{len(pending)} images still pending after {timeout_s:.0f} s")
        time.sleep(1.0)


# Module scope: its SQS poller stops before the next module, so no two pollers share the queue.
@pytest.fixture(scope="module")
def digested(local_stack: StackHandle, faces_dev: Path) -> Iterator[Digested]:
    settings = local_stack.settings()
    metadata = wiring.metadata_store()
    store = wiring.object_store()
    keys = KeyScheme.from_settings(settings)
    group_id = f"g-{uuid.uuid4()}"
    ensure_group(metadata, group_id)
    uploaded = upload_directory(
        group_id, faces_dev / "images", store=store, metadata=metadata, keys=keys
    )
    image_id_of = {
        Path(name).name: keys.parse_original(key).image_id for name, key in uploaded["keys"].items()
    }
    # A corrupt "photo" uploaded without an image item (as a presigned POST would).
    corrupt_id = str(uuid.uuid4())
    store.put(
        keys.original(group_id, corrupt_id, ".jpg"),
        b"\xff\xd8\xff\xe0 truncated, not a JPEG",
        "image/jpeg",
        metadata={"file-name": "corrupt.jpg", "uploaded-by": "test"},
    )
    started = time.monotonic()
    workers = start_workers(settings, wait_s=1)
    try:
        all_ids = [*image_id_of.values(), corrupt_id]
        # the corrupt image's item is created by digest: wait for it to exist
        deadline = time.monotonic() + DIGEST_TIMEOUT_S
        while True:
            try:
                metadata.get_image(corrupt_id)
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail("the corrupt upload never reached digest")
                time.sleep(1.0)
        wait_until_done(all_ids, DIGEST_TIMEOUT_S)
        digest_seconds = time.monotonic() - started
        # The poller re-clusters the group once the queue runs empty (auto_cluster).
        while group_id not in workers.poller.stats.clustered:
            if time.monotonic() > deadline:
                pytest.fail("the worker never clustered the group after the uploads")
            time.sleep(0.5)
        cluster_result = workers.poller.stats.clustered[group_id]
        state = Digested(
            group_id=group_id,
            settings=settings,
            image_id_of=image_id_of,
            corrupt_image_id=corrupt_id,
            workers=workers,
            digest_seconds=digest_seconds,
            cluster_result=cluster_result,
        )
        for face in metadata.list_faces_of_group(group_id):
            state.faces_by_image.setdefault(face.image_id, []).append(face)
            state.person_of_face[face.face_id] = face.person_id
        print(
            f"\ndigested {len(all_ids)} uploads in {digest_seconds:.1f} s "
            f"(poller: {workers.poller.stats}); cluster: {cluster_result}"
        )
        yield state
    finally:
        workers()
