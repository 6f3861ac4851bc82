"""Small builders for records with fresh ids (tests isolate by ids on shared tables)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from findme.domain.faces import face_id_for
from findme.domain.records import Face, Image, Person
from findme.ports import FaceVector
from numpy.typing import NDArray

_phones = itertools.count(1_000_000)
_T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
#: Originals prefix of test images (no S3 notification on it, unlike ``originals/``).
TEST_ORIGINALS = "test-originals/"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def new_phone() -> str:
    """A fresh E.164 number (unique per process and run)."""
    return f"+1{uuid.uuid4().int % 10**6:06d}{next(_phones) % 10**4:04d}"


def image(group_id: str, minutes: int = 0, image_id: str | None = None) -> Image:
    image_id = image_id or str(uuid.uuid4())
    return Image(
        image_id=image_id,
        group_id=group_id,
        # not originals/: the stack's digest workers must not pick these objects up
        s3_key=f"{TEST_ORIGINALS}{group_id}/{image_id}.jpg",
        created_at=_T0 + timedelta(minutes=minutes),
    )


def face(img: Image, index: int, person_id: str | None = None, quality: float = 0.8) -> Face:
    face_id = face_id_for(img.image_id, index)
    return Face(
        face_id=face_id,
        image_id=img.image_id,
        group_id=img.group_id,
        face_index=index,
        bbox={"x": 10 * index, "y": 5, "w": 40, "h": 48},
        landmarks={"left_eye": [1.5, 2.25], "right_eye": [3.0, 2.0]},
        confidence=0.97,
        blur_score=0.8,
        brightness_score=0.7,
        overall_quality=quality,
        quality_grade="B",
        issues=["slight_blur"],
        person_id=person_id,
        thumbnail_key=f"faces/{img.group_id}/{face_id}.jpg",
        attributes={"age": 31, "gender": "female", "emotion": {"happy": 0.9}},
    )


def person(group_id: str, person_id: str | None = None, **kwargs: object) -> Person:
    return Person(person_id=person_id or str(uuid.uuid4()), group_id=group_id, **kwargs)  # type: ignore[arg-type]


def unit_vector(seed: int) -> NDArray[np.float32]:
    """A random ``(128,) float32`` L2-normalised vector, reproducible per ``seed``."""
    v = np.random.default_rng(seed).normal(size=128)
    return (v / np.linalg.norm(v)).astype(np.float32)


def vector_of(f: Face, vector: NDArray[np.float32]) -> FaceVector:
    return FaceVector(
        face_id=f.face_id,
        group_id=f.group_id,
        image_id=f.image_id,
        vector=vector,
        person_id=f.person_id,
    )
