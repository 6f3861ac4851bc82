"""What the face engine produces for one photo: boxes, landmarks, embeddings, quality, attributes.

Coordinates are in pixels of the decoded, EXIF-oriented original image (not the detector's
resized input). Embeddings are ``(128,) float32``, L2-normalised, so cosine similarity is a
dot product.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

#: Order of YuNet's five landmarks and of the ArcFace alignment template.
LANDMARK_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

#: The seven expression classes of the OpenCV-zoo MobileFaceNet model, in output order.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

EMBEDDING_DIM = 128


def stack_embeddings(rows: Sequence[NDArray[np.floating]]) -> NDArray[np.float32]:
    """``(len(rows), 128) float32`` from ``(128,)`` embeddings (``(0, 128)`` for no rows)."""
    if not rows:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.vstack([np.asarray(r, dtype=np.float32) for r in rows])


#: Namespace for deterministic ids (``face_id = uuid5(image_id, face_index)``).
FINDME_NAMESPACE = uuid.UUID("6f1c2a9e-3b7d-5e41-9a0c-2d8f4b6e1a37")


def face_id_for(image_id: str, face_index: int) -> str:
    """Deterministic face id, so a re-delivered S3 notification writes the same faces.

    Args:
        image_id: the image's id (a UUID string).
        face_index: 0-based index of the face in detection order (highest confidence first).

    Returns:
        ``str(uuid5(UUID(image_id) or uuid5(namespace, image_id), str(face_index)))``.
    """
    try:
        base = uuid.UUID(image_id)
    except ValueError:
        base = uuid.uuid5(FINDME_NAMESPACE, image_id)
    return str(uuid.uuid5(base, str(face_index)))


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Axis-aligned face box in image pixels: top-left ``(x, y)``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    def as_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}

    def iou(self, other: BoundingBox) -> float:
        """Intersection over union with ``other``, in ``[0, 1]``."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Quality:
    """Face quality per the peer API (docs/compatibility.md), plus size and pose reasons.

    ``overall_quality = 0.4·blur_score + 0.4·brightness_score + 0.2·confidence``; grades
    A ≥ .85, B ≥ .70, C ≥ .55, D ≥ .40, else F (see :mod:`findme.domain.quality`).
    """

    blur_score: float
    brightness_score: float
    confidence: float
    overall_quality: float
    quality_grade: str
    issues: tuple[str, ...] = ()
    face_size_px: int = 0
    yaw_deg: float = 0.0
    roll_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class Attributes:
    """Estimated attributes; a field is ``None`` when its model is missing or switched off.

    ``unavailable`` maps a field name to the reason it is ``None`` (never guessed).
    """

    age: int | None = None
    #: (low, high) years; the age model reads about 5 years young with MAE 5.6-8 years.
    age_range: tuple[int, int] | None = None
    gender: str | None = None  # "female" | "male"
    gender_confidence: float | None = None
    emotion: dict[str, float] | None = None  # the seven EMOTIONS -> probability, sums to 1
    dominant_emotion: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class DetectedFace:
    """One face found in a photo.

    Attributes:
        index: 0-based position in the photo's faces (sorted by confidence, highest first).
        bbox: bounding box in original-image pixels.
        landmarks: ``(5, 2) float32`` pixel coordinates in LANDMARK_NAMES order.
        confidence: detector score in ``[0, 1]``.
        aligned: ``(112, 112, 3) uint8`` BGR crop aligned to the ArcFace template.
        embedding: ``(128,) float32`` L2-normalised SFace embedding, or ``None`` if not asked.
        quality: quality scores, or ``None`` if not asked.
        attributes: age/gender/emotion, or ``None`` if not asked.
        crop_jpeg: JPEG bytes of the face crop with margin, or ``None`` if not asked.
    """

    index: int
    bbox: BoundingBox
    landmarks: NDArray[np.float32]
    confidence: float
    aligned: NDArray[np.uint8] | None = None
    embedding: NDArray[np.float32] | None = None
    quality: Quality | None = None
    attributes: Attributes | None = None
    crop_jpeg: bytes | None = None

    def named_landmarks(self) -> dict[str, list[float]]:
        """Landmarks as ``{"left_eye": [x, y], ...}`` in pixels."""
        return {
            name: [round(float(p[0]), 1), round(float(p[1]), 1)]
            for name, p in zip(LANDMARK_NAMES, self.landmarks, strict=True)
        }


@dataclass(slots=True)
class DecodedImage:
    """A decoded, EXIF-oriented photo.

    Attributes:
        pixels: ``(H, W, 3) uint8`` BGR (possibly a reduced-resolution decode).
        width: original width in pixels (after EXIF orientation).
        height: original height in pixels (after EXIF orientation).
        scale: original pixels per ``pixels`` pixel (1.0 unless decoded reduced).
        captured_at: EXIF DateTimeOriginal, if present (naive, camera local time).
        format: decoder's format name, e.g. ``"JPEG"``.
    """

    pixels: NDArray[np.uint8]
    width: int
    height: int
    scale: float = 1.0
    captured_at: datetime | None = None
    format: str | None = None


@dataclass(slots=True)
class ImageAnalysis:
    """The face engine's result for one photo."""

    width: int
    height: int
    faces: list[DetectedFace]
    captured_at: datetime | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


# --- the subject of a selfie ----------------------------------------------------------------------
#: How much a face's distance from the image centre lowers its prominence: a face in a corner
#: counts for half a face of the same size at the centre. People taking a selfie frame
#: themselves near the centre; bystanders are wherever they happen to stand.
CENTRE_WEIGHT = 0.5
#: The subject's prominence must be at least this many times the next face's. Two people
#: posing side by side at one distance differ by ±30 % in box area (faces-dev: couple.jpg
#: 1.13, a false detection in the crowd of img41.jpg 1.22, the cut-off face of
#: selfie-many-people.jpg 1.7), while a bystander behind a selfie-taker is a third or less
#: (img54.jpg 25x, img62.jpg 3.2x, img59.jpg 2.7x): 2 leaves a margin on both sides.
DOMINANCE_MARGIN = 2.0


def prominence(box: BoundingBox, width: int, height: int) -> float:
    """How much a face stands out in its photo: box area (pixels²) times a centrality weight
    ``1 - CENTRE_WEIGHT · d``, ``d`` the distance of the box centre from the image centre
    over the half-diagonal (0 at the centre, 1 in a corner)."""
    half_diag = 0.5 * float(np.hypot(width, height)) or 1.0
    dx = box.x + box.w / 2 - width / 2
    dy = box.y + box.h / 2 - height / 2
    distance = min(1.0, float(np.hypot(dx, dy)) / half_diag)
    return box.w * box.h * (1.0 - CENTRE_WEIGHT * distance)


def dominant_face(
    faces: Sequence[DetectedFace], width: int, height: int, *, margin: float = DOMINANCE_MARGIN
) -> DetectedFace | None:
    """The face a photo is of, when one clearly is: the most prominent face, if its
    :func:`prominence` is at least ``margin`` times every other's; ``None`` when two or more
    compete (a couple, a group) or there is no face.

    Args:
        faces: the candidate faces (callers drop those that cannot be the subject first).
        width, height: the photo's size in pixels (the boxes' frame).
        margin: :data:`DOMINANCE_MARGIN`.
    """
    if not faces:
        return None
    ranked = sorted(faces, key=lambda f: prominence(f.bbox, width, height), reverse=True)
    if len(ranked) == 1:
        return ranked[0]
    top, second = (prominence(f.bbox, width, height) for f in ranked[:2])
    return ranked[0] if top >= margin * second else None
