"""Helpers for the API unit tests: the real app over the real adapters on in-process fakes.

DynamoDB and S3 are moto (``mock_aws``), Qdrant is local ``:memory:`` mode; the face engine,
the orchestrator and the SMS notifier are fakes (no models, no threads, no network). The
fake engine returns the faces a test registered for given image bytes, so routes run
exactly as in production minus the ONNX inference. Each test gets a fresh app (fresh rate
limiter) over module-wide stores; tests isolate by fresh ids (phones, groups).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from fakes import Embeddings, fake_face
from fastapi import FastAPI
from fastapi.testclient import TestClient
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.domain.faces import BoundingBox, DecodedImage, DetectedFace, ImageAnalysis, Quality
from findme.domain.records import (
    Image,
    ImageStatus,
    OtpChallenge,
    Person,
    ReferenceFace,
    User,
)
from findme.errors import ConflictError, InvalidImageError, NotFoundError
from findme.local.provision import create_bucket, create_tables
from findme.ports import FaceVector
from findme.services.auth import code_in_message
from findme.web import deps
from findme.web.app import create_app
from moto import mock_aws
from numpy.typing import NDArray
from PIL import Image as PILImage

if TYPE_CHECKING:
    from findme.ports import RateLimiter

SECRET = "unit-test-secret-0123456789abcdef-0123456789"
_phones = itertools.count(1_000_000)


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real, tiny JPEG (distinct per ``seed``)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


def new_phone() -> str:
    return f"+1415{next(_phones):07d}"


def detected(
    embedding: NDArray[np.float32] | None,
    *,
    size: int = 120,
    confidence: float = 0.95,
    blur: float = 0.9,
    index: int = 0,
) -> DetectedFace:
    """A detected face as the engine would return it (box ``size`` px square)."""
    return DetectedFace(
        index=index,
        bbox=BoundingBox(10 + 150 * index, 10, size, size),
        landmarks=np.zeros((5, 2), dtype=np.float32),
        confidence=confidence,
        embedding=embedding,
        quality=Quality(
            blur_score=blur,
            brightness_score=0.6,
            confidence=confidence,
            overall_quality=0.8,
            quality_grade="B",
        ),
    )


class FakeEngine:
    """FaceEngine returning registered faces per image bytes (none for unknown images)."""

    def __init__(self) -> None:
        self.faces: dict[bytes, list[DetectedFace]] = {}
        self.calls = 0

    def register(self, data: bytes, faces: list[DetectedFace]) -> bytes:
        self.faces[data] = faces
        return data

    def decode(self, data: bytes) -> DecodedImage:
        raise NotImplementedError

    def analyze(self, data: Any, **_: Any) -> ImageAnalysis:
        self.calls += 1
        if not isinstance(data, bytes) or data[:3] != b"\xff\xd8\xff":
            raise InvalidImageError("not an image")
        return ImageAnalysis(width=640, height=480, faces=list(self.faces.get(data, [])))

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        return b""

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        return [b"jpeg-%d" % side for side in long_sides]


@dataclass
class FakeOrchestrator:
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        self.started.append((workflow, dict(payload)))
        return f"fake:{workflow}:{len(self.started)}"


@dataclass
class FakeNotifier:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send_sms(self, phone_number: str, message: str) -> None:
        self.sent.append((phone_number, message))

    def last_code(self, phone: str) -> str:
        for number, message in reversed(self.sent):
            if number == phone:
                code = code_in_message(message)
                assert code is not None
                return code
        raise AssertionError(f"no SMS to {phone}")


class MemorySignUp:
    """In memory, the parts of MetadataStore, ObjectStore and VectorIndex that ``/auth/otp``
    and ``/register`` use: OTP challenges, users, reference faces, selfies, their vectors.

    For crowd-sized tests (hundreds of sign-ups in a few seconds, where moto costs ~2.5 ms a
    call); the contract suites check the real adapters' semantics mirrored here.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.otps: dict[str, OtpChallenge] = {}
        self.users: dict[str, User] = {}
        self.references: dict[str, list[ReferenceFace]] = {}
        self.objects: dict[str, bytes] = {}
        self.vectors: dict[str, FaceVector] = {}

    # MetadataStore
    def get_otp(self, phone_number: str) -> OtpChallenge | None:
        otp = self.otps.get(phone_number)
        return dataclasses.replace(otp) if otp is not None else None

    def put_otp(self, otp: OtpChallenge) -> None:
        self.otps[otp.phone_number] = dataclasses.replace(otp)

    def take_otp_attempt(self, phone_number: str, code_hash: str, max_attempts: int) -> bool:
        with self.lock:
            otp = self.otps.get(phone_number)
            if otp is None or otp.code_hash != code_hash or otp.attempts >= max_attempts:
                return False
            otp.attempts += 1
            return True

    def find_user_by_phone(self, phone_number: str) -> User | None:
        return next((u for u in self.users.values() if u.phone_number == phone_number), None)

    def put_user(self, user: User) -> None:
        with self.lock:
            if self.find_user_by_phone(user.phone_number) is not None:
                raise ConflictError("phone taken", code="phone_registered")
            self.users[user.user_id] = user

    def get_user(self, user_id: str) -> User:
        if user_id not in self.users:
            raise NotFoundError(f"user {user_id}")
        return self.users[user_id]

    def delete_user(self, user_id: str) -> None:
        self.users.pop(user_id, None)

    def put_reference_face(self, ref: ReferenceFace) -> None:
        self.references.setdefault(ref.user_id, []).append(ref)

    def list_reference_faces(self, user_id: str) -> list[ReferenceFace]:
        return list(self.references.get(user_id, []))

    # ObjectStore
    def put(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[key] = data

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    # VectorIndex
    def upsert(self, vectors: Sequence[FaceVector]) -> None:
        self.vectors.update({v.face_id: v for v in vectors})

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        for face_id in face_ids:
            self.vectors.pop(face_id, None)


@dataclass(kw_only=True)
class Stores(Embeddings):
    settings: Settings
    metadata: DynamoMetadataStore
    objects: S3ObjectStore
    vectors: QdrantVectorIndex
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(11))

    def photo(
        self,
        group_id: str,
        embeddings: list[NDArray[np.float32]],
        person_ids: list[str | None] | None = None,
    ) -> Image:
        """A processed photo with one face per embedding, in all three stores."""
        image_id = str(uuid.uuid4())
        key = f"originals/{group_id}/{image_id}.jpg"
        self.objects.put(key, jpeg(seed=len(embeddings)), "image/jpeg")
        image = Image(
            image_id=image_id,
            group_id=group_id,
            s3_key=key,
            status=ImageStatus.PROCESSED,
            face_count=len(embeddings),
            file_name=f"{image_id[:8]}.jpg",
        )
        self.metadata.put_image(image)
        persons = person_ids or [None] * len(embeddings)
        faces = [
            fake_face(
                str(uuid.uuid5(uuid.UUID(image_id), str(i))),
                image_id,
                group_id,
                i,
                person_id=persons[i],
            )
            for i in range(len(embeddings))
        ]
        self.metadata.put_faces(faces)
        self.vectors.upsert(
            [
                FaceVector(f.face_id, group_id, image_id, v, person_id=f.person_id)
                for f, v in zip(faces, embeddings, strict=True)
            ]
        )
        return image

    def person(self, group_id: str) -> str:
        person = Person(person_id=str(uuid.uuid4()), group_id=group_id)
        self.metadata.put_person(person)
        return person.person_id


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stage": "test",
        "bucket": "api-unit",
        "aws_region": "us-east-1",
        "table_prefix": "api-",
        "qdrant_path": ":memory:",
        "jwt_secret": SECRET,
        "rate_limit_per_minute": 10_000,
        "admin_phones": ["+14150000001"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def stores() -> Iterator[Stores]:
    with mock_aws():
        settings = make_settings()
        create_tables(settings)
        create_bucket(settings, digest_queue_arn=None)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        yield Stores(
            settings=settings,
            metadata=DynamoMetadataStore(settings),
            objects=S3ObjectStore(settings),
            vectors=vectors,
        )
        vectors.close()


@dataclass
class Api:
    """A test client over a fresh app, plus the fakes and stores behind it."""

    client: TestClient
    stores: Stores
    engine: FakeEngine
    orchestrator: FakeOrchestrator
    sms: FakeNotifier
    settings: Settings

    def register(
        self,
        name: str = "Ada",
        phone: str | None = None,
        embedding: NDArray[np.float32] | None = None,
    ) -> tuple[str, str, NDArray[np.float32]]:
        """Register a user with a one-face selfie -> ``(user_id, token, reference embedding)``."""
        phone = phone or new_phone()
        vector = embedding if embedding is not None else self.stores.identity()
        selfie = self.engine.register(jpeg(seed=int(phone[-6:])), [detected(vector)])
        assert self.client.post("/auth/otp", json={"phone_number": phone}).status_code == 200
        response = self.client.post(
            "/register",
            data={"name": name, "phone_number": phone, "otp": self.sms.last_code(phone)},
            files={"selfie": ("me.jpg", selfie, "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["user_id"], body["access_token"], vector

    @property
    def app(self) -> FastAPI:
        """The app under test (its ``dependency_overrides``, ``state``)."""
        app = self.client.app
        assert isinstance(app, FastAPI)
        return app

    def client_at(self, address: str) -> TestClient:
        """A client of the same app whose requests come from ``address`` (the TCP peer)."""
        return TestClient(self.app, raise_server_exceptions=False, client=(address, 50000))

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def group(self, token: str, name: str = "Gala") -> dict[str, Any]:
        response = self.client.post(
            "/create-group", json={"group_name": name, "description": ""}, headers=self.auth(token)
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def join(self, token: str, group: dict[str, Any]) -> None:
        response = self.client.post(
            f"/groups/{group['group_id']}/join",
            json={"invite_code": group["invite_code"]},
            headers=self.auth(token),
        )
        assert response.status_code == 200, response.text


def build_api(stores: Stores, *, rate_limiter: RateLimiter | None = None, **overrides: Any) -> Api:
    """A fresh app over ``stores``; ``rate_limiter`` replaces its in-memory counters (a fake
    clock, or the DynamoDB counters of another "Lambda instance"); ``overrides`` are settings."""
    settings = make_settings(**overrides)
    engine, orchestrator, sms = FakeEngine(), FakeOrchestrator(), FakeNotifier()
    app = create_app(settings, rate_limiter=rate_limiter)
    app.dependency_overrides[deps.metadata_store] = lambda: stores.metadata
    app.dependency_overrides[deps.object_store] = lambda: stores.objects
    app.dependency_overrides[deps.vector_index] = lambda: stores.vectors
    app.dependency_overrides[deps.face_engine] = lambda: engine
    app.dependency_overrides[deps.orchestrator] = lambda: orchestrator
    app.dependency_overrides[deps.notifier] = lambda: sms
    client = TestClient(app, raise_server_exceptions=False)
    return Api(client, stores, engine, orchestrator, sms, settings)


@pytest.fixture
def api(stores: Stores) -> Api:
    return build_api(stores)
