"""Quality: the peer formula, grade boundaries, issue strings, strict mode, blur and pose."""

from __future__ import annotations

import numpy as np
import pytest
from findme.domain import quality as q


@pytest.mark.parametrize(
    ("overall", "grade"),
    [
        (1.0, "A"),
        (0.85, "A"),
        (0.8499, "B"),
        (0.70, "B"),
        (0.6999, "C"),
        (0.55, "C"),
        (0.5499, "D"),
        (0.40, "D"),
        (0.3999, "F"),
        (0.0, "F"),
    ],
)
def test_grade_at_boundaries(overall: float, grade: str) -> None:
    # Given an overall quality on either side of a boundary / When graded / Then the peer grade
    assert q.quality_grade(overall) == grade


def test_overall_is_weighted_sum_and_grades_exact_boundary() -> None:
    # Given components whose weighted sum is exactly .85 in decimal but not in binary floats
    overall = q.overall_quality(0.875, 0.875, 0.75)
    # Then the overall is .85 and grades A (rounding keeps the boundary)
    assert overall == pytest.approx(0.85)
    assert q.quality_grade(overall) == "A"
    assert q.overall_quality(1.0, 0.5, 0.25) == pytest.approx(0.4 + 0.2 + 0.05)


@pytest.mark.parametrize(
    ("blur", "brightness", "confidence", "issues"),
    [
        (0.5, 0.4, 0.7, []),
        (0.4999, 0.5, 0.9, [q.ISSUE_BLURRY]),
        (0.9, 0.3999, 0.9, [q.ISSUE_POOR_LIGHTING]),
        (0.9, 0.9, 0.9, []),
        (0.9, 0.9001, 0.9, [q.ISSUE_OVEREXPOSED]),
        (0.9, 0.6, 0.6999, [q.ISSUE_LOW_CONFIDENCE]),
        (0.1, 0.1, 0.1, [q.ISSUE_BLURRY, q.ISSUE_POOR_LIGHTING, q.ISSUE_LOW_CONFIDENCE]),
    ],
)
def test_issue_strings_at_thresholds(
    blur: float, brightness: float, confidence: float, issues: list[str]
) -> None:
    assert q.quality_issues(blur, brightness, confidence) == issues


def test_strict_mode_thresholds() -> None:
    # Given a face that passes the default check but sits below the strict thresholds
    blur, brightness, confidence = 0.55, 0.45, 0.75
    assert q.quality_issues(blur, brightness, confidence) == []
    # When checked strictly / Then every strict issue is reported
    assert q.quality_issues(blur, brightness, confidence, strict=True) == [
        q.ISSUE_BLURRY,
        q.ISSUE_POOR_LIGHTING,
        q.ISSUE_LOW_CONFIDENCE,
    ]
    assert q.quality_issues(0.6, 0.86, 0.8, strict=True) == [q.ISSUE_OVEREXPOSED]
    assert q.passes_strict_mode(0.6, 0.5, 0.8)
    assert q.passes_strict_mode(0.6, 0.85, 0.8)
    assert not q.passes_strict_mode(0.6, 0.85, 0.7999)


def _box_blur(image: np.ndarray, k: int = 5) -> np.ndarray:
    padded = np.pad(image.astype(np.float32), k // 2, mode="edge")
    n, m = image.shape
    return sum(padded[dy : dy + n, dx : dx + m] for dy in range(k) for dx in range(k)) / (k * k)


def test_blurred_texture_scores_lower_blur() -> None:
    # Given a sharp checkerboard (8 px squares) and a copy box-blurred three times
    yy, xx = np.mgrid[0:112, 0:112]
    sharp = np.where(((yy // 8) + (xx // 8)) % 2 == 0, 80, 180).astype(np.uint8)
    blurred = sharp.astype(np.float32)
    for _ in range(3):
        blurred = _box_blur(blurred)
    # When scored / Then the sharp one saturates at 1 and the blurred one is "blurry"
    assert q.blur_score(sharp) == 1.0
    assert q.blur_score(blurred.astype(np.uint8)) < 0.5
    assert q.laplacian_variance(np.full((10, 10), 7, np.uint8)) == 0.0


def test_brightness_is_mean_level() -> None:
    assert q.brightness_score(np.full((4, 4), 255, np.uint8)) == 1.0
    assert q.brightness_score(np.full((4, 4), 51, np.uint8)) == pytest.approx(0.2)


def _face(yaw_shift: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    pts = np.array([[40, 50], [80, 50], [60 + yaw_shift, 70], [45, 90], [75, 90]], np.float64)
    theta = np.radians(roll_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = np.array([60.0, 70.0])
    return ((pts - centre) @ rot.T + centre).astype(np.float32)


def test_pose_from_landmarks() -> None:
    # Given a frontal face, the same rolled 35 degrees, and one whose nose sits at an eye
    yaw, roll = q.pose_from_landmarks(_face())
    assert abs(yaw) < 1
    assert abs(roll) < 1
    yaw, roll = q.pose_from_landmarks(_face(roll_deg=35))
    assert roll == pytest.approx(35, abs=0.5)
    assert abs(yaw) < 1
    yaw, _ = q.pose_from_landmarks(_face(yaw_shift=20))
    assert yaw == pytest.approx(90, abs=0.5)


def test_assess_adds_size_and_pose_reasons() -> None:
    # Given a small face rolled 35 degrees with good components
    result = q.assess(
        blur=1.0, brightness=0.6, confidence=0.95, face_size_px=20, landmarks=_face(roll_deg=35)
    )
    # Then the grade follows the formula and the reasons are listed after the peer issues
    assert result.overall_quality == pytest.approx(0.4 + 0.24 + 0.19)
    assert result.quality_grade == "B"
    assert result.issues == (q.ISSUE_SMALL_FACE, q.ISSUE_EXTREME_ROLL)
    frontal = q.assess(
        blur=1.0, brightness=0.6, confidence=0.95, face_size_px=200, landmarks=_face()
    )
    assert frontal.issues == ()
