"""Synthetic faces: embeddings, face records, detected faces, tiny JPEGs and phone numbers.

A face or an embedding means the same in every test package (see :mod:`fakes`).
"""

from __future__ import annotations

import io
import itertools
import uuid
from dataclasses import dataclass, field

import numpy as np
from findme.domain.faces import BoundingBox, DetectedFace, Quality
from findme.domain.records import Face
from numpy.typing import NDArray
from PIL import Image as PILImage

#: Embedding size (SFace: 128-d).
DIM = 128


def unit(v: NDArray[np.floating]) -> NDArray[np.float32]:
    """``v`` L2-normalised, as float32 (what the engine gives and Qdrant stores)."""
    return (np.asarray(v, dtype=np.float64) / np.linalg.norm(v)).astype(np.float32)


def blob(
    rng: np.random.Generator, centre: NDArray[np.floating], k: int, spread: float = 0.3
) -> NDArray[np.float64]:
    """``k`` faces around ``centre``: pairwise cosine similarity about ``1 / (1 + spread²)``.

    Returns:
        ``(k, DIM)`` float64, rows L2-normalised.
    """
    x = centre + spread * rng.standard_normal((k, DIM)) / np.sqrt(DIM)
    out: NDArray[np.float64] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def photo(name: str) -> str:
    """A stable UUID image id for a readable photo name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@dataclass
class Embeddings:
    """Synthetic faces: a random direction per person, and noisy copies of it."""

    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))

    def identity(self) -> NDArray[np.float32]:
        """A random direction standing for one person's face, ``(DIM,)`` float32, unit."""
        return unit(self.rng.normal(size=DIM))

    def near(self, center: NDArray[np.float32], noise: float = 0.15) -> NDArray[np.float32]:
        """Another photo of the same person: cosine similarity to ``center`` about 0.75-0.9."""
        return unit(center + noise * self.rng.normal(size=DIM) / np.sqrt(DIM) * 4)


def fake_face(
    face_id: str,
    image_id: str,
    group_id: str,
    face_index: int = 0,
    *,
    bbox: dict[str, int] | None = None,
    confidence: float = 0.95,
    blur_score: float = 0.9,
    brightness_score: float = 0.6,
    overall_quality: float = 0.8,
    person_id: str | None = None,
    thumbnail_key: str | None = None,
) -> Face:
    """A detected face record with plausible quality (grade B) and no landmarks."""
    return Face(
        face_id=face_id,
        image_id=image_id,
        group_id=group_id,
        face_index=face_index,
        bbox=bbox or {"x": 0, "y": 0, "w": 80, "h": 80},
        landmarks={},
        confidence=confidence,
        blur_score=blur_score,
        brightness_score=brightness_score,
        overall_quality=overall_quality,
        quality_grade="B",
        person_id=person_id,
        thumbnail_key=thumbnail_key,
    )


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


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real, tiny JPEG (distinct per ``seed``)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


_phones = itertools.count(1_000_000)


def new_phone() -> str:
    """A phone number no other test of this process uses."""
    return f"+1415{next(_phones):07d}"
