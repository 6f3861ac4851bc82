"""Face quality review."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from findme.services import quality_review as svc

QUALITY_EXAMPLE: dict[str, Any] = {
    "face_id": "0b9c6f0e-6a52-5b8e-9d1f-3c2a8e4b7d10",
    "image_id": "5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
    "group_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "person_id": None,
    "blur_score": 0.85,
    "brightness_score": 0.75,
    "confidence": 0.92,
    "overall_quality": 0.824,
    "quality_grade": "B",
    "issues": [],
    "thumbnail_url": "https://findme-media.s3.amazonaws.com/faces/...",
}


class FaceQualityOut(BaseModel):
    """``overall_quality = 0.4·blur + 0.4·brightness + 0.2·confidence``; grades A ≥ .85,
    B ≥ .70, C ≥ .55, D ≥ .40, else F; issues "Image is blurry" (blur < .5), "Poor
    lighting/exposure" (< .4), "Overexposed" (> .9), "Low detection confidence" (< .7)."""

    model_config = ConfigDict(json_schema_extra={"examples": [QUALITY_EXAMPLE]})

    face_id: str
    image_id: str
    group_id: str
    person_id: str | None
    blur_score: float
    brightness_score: float
    confidence: float
    overall_quality: float
    quality_grade: str
    issues: list[str]
    thumbnail_url: str | None


class QualityCheckRequest(BaseModel):
    face_ids: list[str] = Field(min_length=1, max_length=svc.MAX_BATCH_QUALITY)
    strict_mode: bool = Field(
        default=False,
        description="Strict thresholds: blur .6, brightness .5-.85, confidence .8.",
    )


class QualityCheckOut(BaseModel):
    faces: list[FaceQualityOut]
    skipped_face_ids: list[str] = Field(
        description="Unknown ids and faces of groups where the caller may not review faces."
    )
    strict_mode: bool


class LowQualityOut(BaseModel):
    group_id: str
    min_overall_quality: float
    faces: list[FaceQualityOut]


class SelfieQualityOut(BaseModel):
    """Thresholds a registration selfie must meet (settings ``FINDME_SELFIE_*``)."""

    min_face_size: int = Field(description="Shorter side of the face box, pixels.")
    min_confidence: float = Field(description="Detector score, 0-1.")
    blur_threshold: float = Field(description="Minimum blur_score, 0-1.")


def face_quality_out(report: svc.FaceQualityReport) -> FaceQualityOut:
    return FaceQualityOut.model_validate(report, from_attributes=True)
