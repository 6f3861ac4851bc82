"""The curation unit tests' world: the real adapters on in-process fakes, and seed helpers.

DynamoDB and S3 are moto (``mock_aws``), Qdrant is its local ``:memory:`` mode; the tables
come from :mod:`findme.tables`. One set per test module; tests isolate by fresh ids.
:class:`World` seeds groups, users, photos, faces (synthetic unit embeddings) and persons;
:class:`RouteClient` is the real FastAPI app over the world (routes tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from fakes import Embeddings, fake_face
from fastapi.testclient import TestClient
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.domain.records import (
    Face,
    Group,
    GroupRole,
    Image,
    ImageStatus,
    Membership,
    Person,
    Role,
    User,
)
from findme.ports import FaceVector
from findme.services.auth import Principal, TokenService
from findme.services.policy import Policy
from findme.web import deps
from findme.web.app import create_app
from numpy.typing import NDArray

SECRET = "curation-route-tests-secret-0123456789"


@dataclass(kw_only=True)
class World(Embeddings):
    """The stores plus helpers that write consistent records to all three."""

    settings: Settings
    metadata: DynamoMetadataStore
    vectors: QdrantVectorIndex
    store: S3ObjectStore

    def user(self, role: Role = Role.MEMBER) -> User:
        user = User(
            user_id=str(uuid.uuid4()),
            phone_number=f"+1555{self.rng.integers(10**6, 10**7)}",
            name="Test User",
            role=role,
        )
        self.metadata.put_user(user)
        return user

    def group(
        self, owner: User, *, photographer: User | None = None, member: User | None = None
    ) -> Group:
        group = Group(group_id=str(uuid.uuid4()), name="Event", owner_id=owner.user_id)
        self.metadata.put_group(group)
        self.metadata.put_membership(Membership(group.group_id, owner.user_id, GroupRole.OWNER))
        if photographer:
            self.metadata.put_membership(
                Membership(group.group_id, photographer.user_id, GroupRole.PHOTOGRAPHER)
            )
        if member:
            self.metadata.put_membership(
                Membership(group.group_id, member.user_id, GroupRole.MEMBER)
            )
        return group

    def scope(self, user: User) -> Policy:
        """The user's rights (the one access policy), as a route would build them."""
        return Policy(self.metadata, Principal.from_user(user))

    def photo(
        self,
        group: Group,
        embeddings: Sequence[NDArray[np.float32]],
        *,
        quality: Sequence[tuple[float, float, float]] | None = None,
        thumbnails: bool = True,
    ) -> list[Face]:
        """One processed photo with a face per embedding (boxes side by side)."""
        image_id = str(uuid.uuid4())
        key = f"originals/{group.group_id}/{image_id}.jpg"
        self.metadata.put_image(
            Image(
                image_id=image_id,
                group_id=group.group_id,
                s3_key=key,
                status=ImageStatus.PROCESSED,
                face_count=len(embeddings),
            )
        )
        faces: list[Face] = []
        for index, _vector in enumerate(embeddings):
            blur, bright, conf = quality[index] if quality else (0.9, 0.6, 0.95)
            face_id = str(uuid.uuid5(uuid.UUID(image_id), str(index)))
            thumb = f"faces/{group.group_id}/{face_id}.jpg" if thumbnails else None
            if thumb:
                self.store.put(thumb, b"\xff\xd8jpeg" + face_id.encode(), "image/jpeg")
            overall = round(0.4 * blur + 0.4 * bright + 0.2 * conf, 4)
            faces.append(
                fake_face(
                    face_id,
                    image_id,
                    group.group_id,
                    index,
                    bbox={"x": 100 * index, "y": 10, "w": 80, "h": 80},
                    confidence=conf,
                    blur_score=blur,
                    brightness_score=bright,
                    overall_quality=overall,
                    thumbnail_key=thumb,
                )
            )
        self.metadata.put_faces(faces)
        self.vectors.upsert(
            [
                FaceVector(f.face_id, group.group_id, image_id, v)
                for f, v in zip(faces, embeddings, strict=True)
            ]
        )
        return faces

    def person(self, group: Group, faces: Sequence[Face], name: str | None = None) -> Person:
        """A person holding ``faces`` (as clustering would leave it)."""
        person = Person(
            person_id=str(uuid.uuid4()),
            group_id=group.group_id,
            name=name,
            face_count=len(faces),
            image_count=len({f.image_id for f in faces}),
            cover_face_id=faces[0].face_id if faces else None,
        )
        self.metadata.put_person(person)
        ids = [f.face_id for f in faces]
        self.vectors.set_person(ids, person.person_id)
        for face in faces:
            self.metadata.update_face_person(face.face_id, person.person_id, manual=False)
            face.person_id = person.person_id
        return person


class RecordingOrchestrator:
    """An orchestrator that records workflow starts instead of running them."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        self.started.append((workflow, payload))
        return f"exec-{len(self.started)}"


class RouteClient:
    """The real app (auth, error shape, limits) over the world's stores; jobs are recorded."""

    def __init__(self, world: World) -> None:
        self.settings = Settings(
            stage="test",
            jwt_secret=SECRET,
            bucket=world.settings.bucket,
            rate_limit_per_minute=1000,
        )
        app = create_app(self.settings)
        self.jobs = RecordingOrchestrator()
        app.dependency_overrides[deps.metadata_store] = lambda: world.metadata
        app.dependency_overrides[deps.object_store] = lambda: world.store
        app.dependency_overrides[deps.vector_index] = lambda: world.vectors
        app.dependency_overrides[deps.orchestrator] = lambda: self.jobs
        self.http = TestClient(app)
        self.tokens = TokenService(self.settings, SECRET)

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(user).access_token}"}
