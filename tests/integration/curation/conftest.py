"""Curation on the local stack: a small faces-dev event digested once per session.

``curated`` (session scope) creates users (owner, photographer, member, outsider, admin) and
one group, puts 12 photos into it and runs the **real** digest service on each
(:func:`findme.services.digest.digest_object`, real models) and then the real cluster
service, as the pipelines would:

- three photos each of person01, person02 and person03 (faces-dev ``labels.csv``);
- ``couple.jpg`` (two faces);
- ``img12.jpg`` uploaded a second time (a duplicate photo: identical embeddings);
- ``twins.jpg``: ``img12.jpg`` twice side by side in ONE photo (two identical faces that
  duplicate review must never pair).

Tests talk to the real app (``create_app`` with the stack's settings, no overrides) through
``CuratedEvent.http`` with a bearer token per user.

``curated`` is shared by the session, so tests that use it only read it. A test that changes
the event (moves, merges, deletes, reprocesses) takes ``own_event``: the same event built
afresh for it alone (its own users, group and photos, digested and clustered again), so no
test sees another's changes, in any order. Face analysis is the slow part and depends on the
photo only: :class:`AnalysisCache` runs the models once per photo and session.
"""

from __future__ import annotations

import copy
import hashlib
import io
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from findme import wiring
from findme.config import Settings
from findme.domain.faces import BoundingBox, DecodedImage, ImageAnalysis
from findme.domain.keys import KeyScheme
from findme.domain.records import (
    Face,
    Group,
    GroupRole,
    ImageStatus,
    Job,
    JobStatus,
    Membership,
    Role,
    User,
)
from findme.local.orchestrator import InProcessOrchestrator
from findme.local.stack import StackHandle
from findme.ports import FaceEngine
from findme.services.auth import TokenService, resolve_jwt_secret
from findme.services.cluster import ClusterTask, run_cluster_job
from findme.services.digest import DigestDeps, digest_object
from findme.web import deps as deps_module
from findme.web.app import create_app
from PIL import Image as PilImage

PHOTOS: dict[str, str] = {
    "p1a": "img2.jpg",
    "p1b": "img4.jpg",
    "p1c": "img5.jpg",
    "p2a": "img3.jpg",
    "p2b": "img12.jpg",
    "p2c": "img53.jpg",
    "p3a": "img8.jpg",
    "p3b": "img9.jpg",
    "p3c": "img47.jpg",
    "couple": "couple.jpg",
    "p2b_copy": "img12.jpg",
}
TWINS = "twins"


def side_by_side(data: bytes) -> bytes:
    """One JPEG holding the photo twice, left and right (two identical faces in one photo)."""
    src = PilImage.open(io.BytesIO(data)).convert("RGB")
    out = PilImage.new("RGB", (src.width * 2, src.height))
    out.paste(src, (0, 0))
    out.paste(src, (src.width, 0))
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


@dataclass
class CuratedEvent:
    """The session's digested and clustered event."""

    settings: Settings
    group_id: str
    users: dict[str, User]
    image_id_of: dict[str, str]  # label -> image id
    http: TestClient
    tokens: TokenService
    deps: DigestDeps
    digest_seconds: float
    cluster_result: dict[str, Any]
    orchestrator: InProcessOrchestrator

    def wait_job(self, job_id: str, timeout_s: float = 300.0) -> Job:
        """Poll a job until it ends (``succeeded``/``failed``/``ready``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = wiring.metadata_store().get_job(job_id)
            if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.READY):
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} still {job.status} after {timeout_s:.0f} s")
            time.sleep(0.2)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(self.users[who]).access_token}"}

    def faces(self, label: str) -> list[Face]:
        """The faces of one labelled photo, largest first (current state)."""
        faces = wiring.metadata_store().list_faces_of_image(self.image_id_of[label])
        return sorted(faces, key=lambda f: -f.bbox["w"] * f.bbox["h"])

    def face(self, label: str) -> Face:
        return self.faces(label)[0]

    def recluster(self) -> dict[str, Any]:
        return run_cluster_job(
            ClusterTask(group_id=self.group_id),
            metadata=self.deps.metadata,
            vectors=self.deps.vectors,
            settings=self.settings,
        )


class AnalysisCache:
    """The process's face engine, with each analysis kept for the session: an image's faces
    depend only on its pixels and the options, so an event built again reuses them (a copy
    each time, as the engine would return a new one). Decoding, crops and renditions run."""

    def __init__(self, engine: FaceEngine) -> None:
        self._engine = engine
        self._analyses: dict[tuple[str, tuple[tuple[str, bool], ...]], ImageAnalysis] = {}

    def decode(self, data: bytes) -> DecodedImage:
        return self._engine.decode(data)

    def analyze(
        self,
        data: bytes | DecodedImage,
        *,
        embed: bool = True,
        quality: bool = True,
        attributes: bool = False,
        crops: bool = False,
    ) -> ImageAnalysis:
        raw = data if isinstance(data, bytes) else data.pixels.tobytes()
        options = {"embed": embed, "quality": quality, "attributes": attributes, "crops": crops}
        key = (hashlib.sha256(raw).hexdigest(), tuple(sorted(options.items())))
        if key not in self._analyses:
            self._analyses[key] = self._engine.analyze(data, **options)
        return copy.deepcopy(self._analyses[key])

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        return self._engine.crop(image, bbox)

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        return self._engine.render(image, long_sides)


@pytest.fixture(scope="session")
def analysis_cache(local_stack: StackHandle) -> AnalysisCache:
    # the process's one engine (the curation worker reuses it)
    return AnalysisCache(wiring.face_engine())


@contextmanager
def build_event(
    local_stack: StackHandle, faces_dev: Path, engine: AnalysisCache
) -> Iterator[CuratedEvent]:
    """A new event (see the module docstring): users, group, photos digested and clustered."""
    settings = local_stack.settings()
    metadata = wiring.metadata_store()
    store = wiring.object_store()
    keys = KeyScheme.from_settings(settings)
    users: dict[str, User] = {}
    for who, role in (
        ("owner", Role.PHOTOGRAPHER),
        ("photographer", Role.PHOTOGRAPHER),
        ("member", Role.MEMBER),
        ("outsider", Role.MEMBER),
        ("admin", Role.ADMIN),
    ):
        user = User(
            user_id=str(uuid.uuid4()),
            phone_number=f"+1555{uuid.uuid4().int % 10**7:07d}",
            name=who,
            role=role,
        )
        metadata.put_user(user)
        users[who] = user
    group = Group(
        group_id=str(uuid.uuid4()), name="Curation event", owner_id=users["owner"].user_id
    )
    metadata.put_group(group)
    for who, role in (
        ("owner", GroupRole.OWNER),
        ("photographer", GroupRole.PHOTOGRAPHER),
        ("member", GroupRole.MEMBER),
    ):
        metadata.put_membership(Membership(group.group_id, users[who].user_id, role))
    uploads = {label: (faces_dev / "images" / name).read_bytes() for label, name in PHOTOS.items()}
    uploads[TWINS] = side_by_side(uploads["p2b"])
    deps = DigestDeps(
        store=store,
        metadata=metadata,
        vectors=wiring.vector_index(),
        engine=engine,
        settings=settings,
    )
    image_id_of: dict[str, str] = {}
    started = time.monotonic()
    for label, data in uploads.items():
        image_id = str(uuid.uuid4())
        key = keys.original(group.group_id, image_id, ".jpg")
        store.put(key, data, "image/jpeg", metadata={"file-name": f"{label}.jpg"})
        outcome = digest_object(key, deps, size_bytes=len(data), force=True)
        assert outcome.status == "processed", (label, outcome.reason)
        image_id_of[label] = image_id
    digest_seconds = time.monotonic() - started
    cluster_result = run_cluster_job(
        ClusterTask(group_id=group.group_id),
        metadata=metadata,
        vectors=deps.vectors,
        settings=settings,
    )
    assert all(metadata.get_image(i).status is ImageStatus.PROCESSED for i in image_id_of.values())
    app = create_app(settings)
    # Jobs run in this process, through the same handlers (functions/*/handler.py).
    orchestrator = InProcessOrchestrator(settings)
    app.dependency_overrides[deps_module.orchestrator] = lambda: orchestrator
    tokens = TokenService(settings, resolve_jwt_secret(settings, wiring.secret_store))
    print(
        f"\ncuration event: {len(uploads)} photos digested in {digest_seconds:.1f} s; "
        f"cluster: {cluster_result}"
    )
    try:
        with TestClient(app) as http:
            yield CuratedEvent(
                settings=settings,
                group_id=group.group_id,
                users=users,
                image_id_of=image_id_of,
                http=http,
                tokens=tokens,
                deps=deps,
                digest_seconds=digest_seconds,
                cluster_result=cluster_result,
                orchestrator=orchestrator,
            )
    finally:
        orchestrator.shutdown()


@pytest.fixture(scope="session")
def curated(
    local_stack: StackHandle, faces_dev: Path, analysis_cache: AnalysisCache
) -> Iterator[CuratedEvent]:
    """The session's event: tests that use it only read it."""
    with build_event(local_stack, faces_dev, analysis_cache) as event:
        yield event


@pytest.fixture
def own_event(
    local_stack: StackHandle, faces_dev: Path, analysis_cache: AnalysisCache
) -> Iterator[CuratedEvent]:
    """The same event built afresh for one test, which may change it."""
    with build_event(local_stack, faces_dev, analysis_cache) as event:
        yield event
