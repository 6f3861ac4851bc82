"""Faces: a detected face as curators see it, and ``/search-face`` matches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from findme.domain.records import Face
from findme.web.schemas.common import FacialArea, example, facial_area

_FACE = "8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d"
_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"
_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class SearchMatch(BaseModel):
    image_s3_path: str
    face_id: str
    similarity_score: float
    person_id: str | None = None
    image_id: str
    group_id: str


class SearchOut(BaseModel):
    model_config = example(
        matches=[
            {
                "image_s3_path": f"s3://findme-media/originals/{_UUID}/{_UUID}.jpg",
                "face_id": _UUID,
                "similarity_score": 0.78,
                "person_id": _UUID,
                "image_id": _UUID,
                "group_id": _UUID,
            }
        ]
    )
    matches: list[SearchMatch]


FACE_EXAMPLE: dict[str, Any] = {
    "face_id": _FACE,
    "image_id": "5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
    "group_id": _GROUP,
    "person_id": _PERSON,
    "is_manual_assignment": False,
    "facial_area": {"x": 412, "y": 188, "w": 126, "h": 158},
    "confidence": 0.93,
    "blur_score": 0.82,
    "brightness_score": 0.74,
    "overall_quality": 0.81,
    "quality_grade": "B",
    "issues": [],
    "attributes": {
        "age": 34,
        "gender": "female",
        "emotion": "happy",
        "emotion_scores": {"happy": 0.91, "neutral": 0.07, "surprise": 0.02},
    },
    "thumbnail_url": "https://findme-media.s3.amazonaws.com/faces/...",
    "created_at": "2026-05-01T12:00:00Z",
}


def attributes_out(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A face's stored attributes in the API's names, those of ``/get-features``:
    ``emotion`` the dominant emotion (a label) and ``emotion_scores`` the probabilities.

    Digest stores the engine's names (``emotion`` the scores, ``dominant_emotion`` the
    label); this is the one place they are renamed.
    """
    out = {k: v for k, v in stored.items() if k not in ("emotion", "dominant_emotion")}
    scores = stored.get("emotion")
    if isinstance(scores, dict):
        out["emotion"] = stored.get("dominant_emotion") or (
            max(scores, key=lambda k: scores[k]) if scores else None
        )
        out["emotion_scores"] = scores
    elif "emotion" in stored or "dominant_emotion" in stored:
        out["emotion"] = stored.get("dominant_emotion") or scores
        out["emotion_scores"] = stored.get("emotion_scores")
    return out


class FaceOut(BaseModel):
    """A detected face as curators see it."""

    model_config = example(**FACE_EXAMPLE)

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    # the API's name for Face.is_manual_placement (a curator placed the face), kept for clients
    is_manual_assignment: bool
    facial_area: FacialArea
    confidence: float
    blur_score: float
    brightness_score: float
    overall_quality: float
    quality_grade: str
    issues: list[str]
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Appearance estimates, named as in `/get-features`: `age`, `gender`, "
        "`emotion` (the dominant label) and `emotion_scores`.",
    )
    thumbnail_url: str | None = None
    created_at: datetime


def face_out(face: Face, thumb: Callable[[Face], str | None] | None = None) -> FaceOut:
    return FaceOut(
        face_id=face.face_id,
        image_id=face.image_id,
        group_id=face.group_id,
        person_id=face.person_id,
        is_manual_assignment=face.is_manual_placement,
        facial_area=facial_area(face.bbox),
        confidence=face.confidence,
        blur_score=face.blur_score,
        brightness_score=face.brightness_score,
        overall_quality=face.overall_quality,
        quality_grade=face.quality_grade,
        issues=list(face.issues),
        attributes=attributes_out(face.attributes),
        thumbnail_url=thumb(face) if thumb else None,
        created_at=face.created_at,
    )
