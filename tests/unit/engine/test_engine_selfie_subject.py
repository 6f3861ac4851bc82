"""The subject of a selfie: the dominant face by size and centrality, with a margin (issue 12:
a selfie with bystanders was refused as "several faces"). Synthetic boxes put the margins
to the test; ``tests/integration/engine/test_engine_selfie_subject_real.py`` runs the rule
on the faces-dev photos."""

from __future__ import annotations

import numpy as np
import pytest
from findme.config import Settings
from findme.domain.faces import (
    CENTRE_WEIGHT,
    DOMINANCE_MARGIN,
    BoundingBox,
    DetectedFace,
    Quality,
    dominant_face,
    prominence,
)
from findme.errors import FaceRequirementError
from findme.services.users import check_selfie

W, H = 1000, 800


def face(
    x: int, y: int, w: int, h: int, *, confidence: float = 0.95, blur: float = 0.9
) -> DetectedFace:
    embedding = np.ones(128, np.float32) / np.sqrt(128)
    return DetectedFace(
        index=0,
        bbox=BoundingBox(x, y, w, h),
        landmarks=np.zeros((5, 2), np.float32),
        confidence=confidence,
        embedding=embedding,
        quality=Quality(blur, 0.6, confidence, 0.8, "B"),
    )


def centred(w: int, h: int, dx: int = 0, *, blur: float = 0.9) -> DetectedFace:
    """A box of ``w`` x ``h`` centred ``dx`` pixels right of the image centre."""
    return face(W // 2 + dx - w // 2, H // 2 - h // 2, w, h, blur=blur)


def test_prominence_is_area_weighted_by_centrality() -> None:
    # Given the same box at the centre and with its centre in a corner
    at_centre = prominence(BoundingBox(W // 2 - 50, H // 2 - 50, 100, 100), W, H)
    in_corner = prominence(BoundingBox(-50, -50, 100, 100), W, H)
    # Then the centre counts its area, the corner (1 - CENTRE_WEIGHT) of it
    assert at_centre == pytest.approx(10_000)
    assert in_corner == pytest.approx(10_000 * (1 - CENTRE_WEIGHT))


def test_no_face_or_one_face() -> None:
    assert dominant_face([], W, H) is None
    only = centred(100, 100)
    assert dominant_face([only], W, H) is only


@pytest.mark.parametrize(
    ("area_ratio", "dominant"),
    [
        (DOMINANCE_MARGIN, True),
        (DOMINANCE_MARGIN * 1.05, True),
        (DOMINANCE_MARGIN * 0.95, False),
        (1.0, False),
    ],
)
def test_the_margin_on_size(area_ratio: float, dominant: bool) -> None:
    # Given two faces at the same distance from the centre, the first area_ratio times larger
    side = 200
    small = round(float(side / np.sqrt(area_ratio)))
    big, other = centred(side, side, dx=-150), centred(small, small, dx=150)
    ratio = prominence(big.bbox, W, H) / prominence(other.bbox, W, H)
    # When choosing the subject, Then only a ratio at or past the margin makes one
    assert (ratio >= DOMINANCE_MARGIN) is dominant
    assert (dominant_face([other, big], W, H) is big) is dominant


def test_centrality_decides_between_equal_faces() -> None:
    # Given two faces of one size: one at the centre, one with its centre in the corner
    middle = centred(120, 120)
    corner = face(-60, -60, 120, 120)
    # Then the centre wins by exactly the margin (the corner counts half)
    assert CENTRE_WEIGHT == 0.5
    assert DOMINANCE_MARGIN == 2.0
    assert dominant_face([corner, middle], W, H) is middle
    # And a face only halfway to the corner is a rival: no subject
    halfway = face(W // 4 - 60, H // 4 - 60, 120, 120)
    assert dominant_face([halfway, middle], W, H) is None


SETTINGS = Settings()


def test_a_bystander_behind_the_selfie_taker_is_left_out() -> None:
    # Given a selfie with a sharp bystander a third the subject's area, off to the side
    subject = centred(300, 360)
    bystander = face(820, 100, 170, 200)
    # When checked, Then the subject is taken
    assert check_selfie([bystander, subject], SETTINGS, width=W, height=H) is subject


@pytest.mark.parametrize(
    "rival",
    [
        face(700, 200, 300, 360, blur=0.05),  # as large, but out of focus (behind)
        face(700, 200, 300, 360, confidence=0.7),  # as large, but the detector is unsure
    ],
    ids=["out-of-focus", "unsure"],
)
def test_an_unclear_face_is_no_rival(rival: DetectedFace) -> None:
    subject = centred(300, 360, dx=-200)
    assert check_selfie([rival, subject], SETTINGS, width=W, height=H) is subject


def test_two_clear_faces_of_similar_prominence_are_refused() -> None:
    # Given a couple: two sharp faces of similar size either side of the centre
    left, right = centred(300, 360, dx=-220), centred(280, 350, dx=220)
    # Then the selfie is ambiguous: 422 several_faces, naming how many compete
    with pytest.raises(FaceRequirementError) as refused:
        check_selfie([left, right], SETTINGS, width=W, height=H)
    assert refused.value.details == {"reason": "several_faces", "face_count": 2}


def test_a_blurred_subject_is_refused_for_its_blur_not_for_its_bystander() -> None:
    # Given a blurred subject and a small, blurred bystander: nothing is clear
    subject = centred(300, 360, blur=0.1)
    bystander = face(850, 50, 100, 120, blur=0.1)
    with pytest.raises(FaceRequirementError) as refused:
        check_selfie([bystander, subject], SETTINGS, width=W, height=H)
    assert refused.value.details["reason"] == "too_blurry"
