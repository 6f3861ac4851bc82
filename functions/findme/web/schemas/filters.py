"""Face filters, near duplicates and outliers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.services import face_filters
from findme.web.schemas.common import example
from findme.web.schemas.faces import FACE_EXAMPLE, FaceOut


class FaceSearchRequest(BaseModel):
    """Every criterion is optional; all given ones must hold."""

    model_config = example(
        group_ids=["9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"],
        min_confidence=0.8,
        unlabeled_only=True,
        created_after="2026-05-01T00:00:00Z",
        limit=50,
    )

    group_ids: list[str] = Field(default_factory=list, max_length=100)
    person_ids: list[str] = Field(default_factory=list, max_length=100)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    max_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    min_blur_score: float | None = Field(default=None, ge=0.0, le=1.0)
    min_brightness_score: float | None = Field(default=None, ge=0.0, le=1.0)
    unlabeled_only: bool = False
    has_thumbnail: bool | None = None
    created_after: str | None = Field(
        default=None,
        description="ISO 8601 (400 when malformed).",
        examples=["2026-05-01T00:00:00Z"],
    )
    created_before: str | None = Field(default=None, description="ISO 8601 (400 when malformed).")
    limit: int = Field(default=100, ge=1, le=face_filters.MAX_FILTER_RESULTS)


class FaceSearchOut(BaseModel):
    model_config = example(faces=[FACE_EXAMPLE], count=1)

    faces: list[FaceOut]
    count: int


class DuplicatePairOut(BaseModel):
    model_config = example(
        face_id_1="8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d",
        face_id_2="1c2d3e4f-5a6b-5c7d-8e9f-0a1b2c3d4e5f",
        image_id_1="5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
        image_id_2="7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
        similarity_score=0.9921,
        thumbnail_url_1="https://findme-media.s3.amazonaws.com/faces/...",
        thumbnail_url_2="https://findme-media.s3.amazonaws.com/faces/...",
    )

    face_id_1: str
    face_id_2: str
    image_id_1: str
    image_id_2: str
    similarity_score: float = Field(description="Cosine similarity of the two embeddings.")
    thumbnail_url_1: str | None
    thumbnail_url_2: str | None


class DuplicatesOut(BaseModel):
    pairs: list[DuplicatePairOut]
    threshold: float
    group_ids: list[str]
    computed_at: datetime
    cached: bool = Field(description="True when served from the 10-minute cache.")


class OutlierOut(BaseModel):
    model_config = example(
        face_id="8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d",
        image_id="5f0c1c1e-2d7b-4a8e-8b3f-1c2d3e4f5a6b",
        person_id="2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b",
        person_name="Alice",
        person_face_count=12,
        confidence=0.93,
        avg_similarity_to_cluster=0.21,
        thumbnail_url="https://findme-media.s3.amazonaws.com/faces/...",
    )

    face_id: str
    image_id: str
    person_id: str
    person_name: str | None
    person_face_count: int
    confidence: float
    avg_similarity_to_cluster: float = Field(
        description="Mean cosine similarity to the person's other faces."
    )
    thumbnail_url: str | None


class OutliersOut(BaseModel):
    outliers: list[OutlierOut]
    threshold: float
