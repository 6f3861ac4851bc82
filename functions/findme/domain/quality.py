"""Face quality: the peer API's formula, grades and issue strings (docs/compatibility.md),
plus size and pose.

Pure numpy. Component scores are in ``[0, 1]``:

- ``blur_score``: variance of the 4-neighbour Laplacian of the 112x112 aligned grey face,
  divided by :data:`BLUR_VARIANCE_SCALE` and clipped to 1 (Pech-Pacheco et al. 2000, "Diatom
  autofocusing in brightfield microscopy"; 1.0 = sharp);
- ``brightness_score``: mean grey level of the face box / 255 (so > .9 is overexposed);
- ``confidence``: the detector score.

``overall_quality = 0.4·blur + 0.4·brightness + 0.2·confidence``; grades A ≥ .85, B ≥ .70,
C ≥ .55, D ≥ .40, else F; issues "Image is blurry" (blur < .5), "Poor lighting/exposure"
(brightness < .4), "Overexposed" (brightness > .9), "Low detection confidence" (< .7). Strict
mode (the curation API's batch check) uses blur .6, brightness .5–.85 and confidence .8. Face
size and pose (yaw/roll from the five landmarks) add reasons like Rekognition's unindexed-face
reasons (SMALL_BOUNDING_BOX, EXCESSIVE_YAW/ROLL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from findme.domain.faces import Quality

#: Laplacian variance (grey levels², 112x112 aligned face) that maps to blur_score 1.0; faces
#: below half of it (blur_score < .5) are "blurry". Tuned on faces-dev: sharp portraits
#: measure 420-4800 (median 1160), a Gaussian-blurred (sigma 2) copy 8-24.
BLUR_VARIANCE_SCALE = 400.0

ISSUE_BLURRY = "Image is blurry"
ISSUE_POOR_LIGHTING = "Poor lighting/exposure"
ISSUE_OVEREXPOSED = "Overexposed"
ISSUE_LOW_CONFIDENCE = "Low detection confidence"
ISSUE_SMALL_FACE = "Face too small"
ISSUE_EXTREME_YAW = "Extreme pose (yaw)"
ISSUE_EXTREME_ROLL = "Extreme pose (roll)"

#: (grade, minimum overall_quality), best first.
GRADES: tuple[tuple[str, float], ...] = (("A", 0.85), ("B", 0.70), ("C", 0.55), ("D", 0.40))


@dataclass(frozen=True, slots=True)
class IssueThresholds:
    """Where each issue string starts."""

    blur_min: float
    brightness_min: float
    brightness_max: float
    confidence_min: float


#: The peer API's default thresholds.
DEFAULT_THRESHOLDS = IssueThresholds(
    blur_min=0.5, brightness_min=0.4, brightness_max=0.9, confidence_min=0.7
)
#: ``strict_mode``: blur .6, brightness .5–.85, confidence .8.
STRICT_THRESHOLDS = IssueThresholds(
    blur_min=0.6, brightness_min=0.5, brightness_max=0.85, confidence_min=0.8
)

#: Faces whose shorter box side is below this (pixels) get ISSUE_SMALL_FACE.
MIN_GOOD_FACE_PX = 40
#: Absolute yaw / roll (degrees) above which a pose reason is added.
MAX_YAW_DEG = 45.0
MAX_ROLL_DEG = 30.0


def overall_quality(blur: float, brightness: float, confidence: float) -> float:
    """``0.4·blur + 0.4·brightness + 0.2·confidence``, rounded to 4 decimals, in ``[0, 1]``."""
    return round(0.4 * blur + 0.4 * brightness + 0.2 * confidence, 4)


def quality_grade(overall: float) -> str:
    """Grade of an overall quality: A ≥ .85, B ≥ .70, C ≥ .55, D ≥ .40, else F."""
    for grade, minimum in GRADES:
        if overall >= minimum:
            return grade
    return "F"


def quality_issues(
    blur: float, brightness: float, confidence: float, *, strict: bool = False
) -> list[str]:
    """The peer API's issue strings, in its order (``strict``: the strict-mode thresholds)."""
    t = STRICT_THRESHOLDS if strict else DEFAULT_THRESHOLDS
    issues: list[str] = []
    if blur < t.blur_min:
        issues.append(ISSUE_BLURRY)
    if brightness < t.brightness_min:
        issues.append(ISSUE_POOR_LIGHTING)
    if brightness > t.brightness_max:
        issues.append(ISSUE_OVEREXPOSED)
    if confidence < t.confidence_min:
        issues.append(ISSUE_LOW_CONFIDENCE)
    return issues


def passes_strict_mode(blur: float, brightness: float, confidence: float) -> bool:
    """True when the strict-mode check finds no issue."""
    return not quality_issues(blur, brightness, confidence, strict=True)


def laplacian_variance(gray: NDArray[np.uint8]) -> float:
    """Variance of the 4-neighbour Laplacian ``[[0,1,0],[1,-4,1],[0,1,0]]`` (valid region).

    Args:
        gray: ``(H, W) uint8`` grey image, H and W ≥ 3.

    Returns:
        Variance in grey levels²; higher is sharper.
    """
    g = gray.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def blur_score(gray_aligned: NDArray[np.uint8]) -> float:
    """Sharpness in ``[0, 1]`` of a ``(112, 112) uint8`` aligned grey face (1.0 = sharp)."""
    return float(min(1.0, laplacian_variance(gray_aligned) / BLUR_VARIANCE_SCALE))


def brightness_score(gray_face: NDArray[np.uint8]) -> float:
    """Mean grey level / 255 of the face box, in ``[0, 1]``."""
    return float(gray_face.mean() / 255.0) if gray_face.size else 0.0


def pose_from_landmarks(landmarks: NDArray[np.float32]) -> tuple[float, float]:
    """Approximate yaw and roll (degrees) from the five landmarks.

    Roll is the angle of the eye line. Yaw comes from where the nose projects on the eye line:
    frontal faces put it half-way between the eyes; ``yaw = asin(2r - 1)`` with ``r`` the
    nose's fraction of the way from the left to the right eye (a weak-perspective estimate).

    Args:
        landmarks: ``(5, 2) float32`` pixels in LANDMARK_NAMES order.

    Returns:
        ``(yaw_deg, roll_deg)``; yaw in ``[-90, 90]``, roll in ``(-180, 180]``.
    """
    left_eye, right_eye, nose = (landmarks[i].astype(np.float64) for i in range(3))
    axis = right_eye - left_eye
    eye_distance = float(np.hypot(*axis))
    if eye_distance < 1e-6:
        return 0.0, 0.0
    roll = math.degrees(math.atan2(axis[1], axis[0]))
    r = float(np.dot(nose - left_eye, axis) / eye_distance**2)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2.0 * r - 1.0))))
    return yaw, roll


def assess(
    *,
    blur: float,
    brightness: float,
    confidence: float,
    face_size_px: int,
    landmarks: NDArray[np.float32],
) -> Quality:
    """The full :class:`Quality` of one face: peer formula and issues, then size/pose reasons.

    Args:
        blur: blur_score in ``[0, 1]``.
        brightness: brightness_score in ``[0, 1]``.
        confidence: detector score in ``[0, 1]``.
        face_size_px: the shorter side of the face box, original-image pixels.
        landmarks: ``(5, 2) float32`` pixels.
    """
    overall = overall_quality(blur, brightness, confidence)
    issues = quality_issues(blur, brightness, confidence)
    yaw, roll = pose_from_landmarks(landmarks)
    if face_size_px < MIN_GOOD_FACE_PX:
        issues.append(ISSUE_SMALL_FACE)
    if abs(yaw) > MAX_YAW_DEG:
        issues.append(ISSUE_EXTREME_YAW)
    if abs(roll) > MAX_ROLL_DEG:
        issues.append(ISSUE_EXTREME_ROLL)
    return Quality(
        blur_score=round(blur, 4),
        brightness_score=round(brightness, 4),
        confidence=round(confidence, 4),
        overall_quality=overall,
        quality_grade=quality_grade(overall),
        issues=tuple(issues),
        face_size_px=face_size_px,
        yaw_deg=round(yaw, 1),
        roll_deg=round(roll, 1),
    )
