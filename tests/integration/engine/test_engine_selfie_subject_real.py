"""The selfie rule on real photos (faces-dev, real models): a portrait with bystanders in the
background is taken, a couple or a group selfie is refused (issue 12)."""

from __future__ import annotations

import pytest
from findme.config import Settings
from findme.domain.faces import ImageAnalysis
from findme.errors import FaceRequirementError
from findme.services.users import check_selfie

SETTINGS = Settings()


def subject(analysis: ImageAnalysis) -> tuple[int, int]:
    face = check_selfie(analysis.faces, SETTINGS, width=analysis.width, height=analysis.height)
    return face.bbox.x, face.bbox.y


@pytest.mark.parametrize(
    ("photo", "faces", "x_range"),
    [
        # four sharp-enough strangers in the crowd behind her, each < 1/20 of her face
        ("img54.jpg", 5, (600, 800)),
        # a second sharp face at the edge, a third of hers
        ("img62.jpg", 2, (200, 300)),
        # the interviewer at the left edge, in profile (the detector is unsure of it)
        ("img59.jpg", 2, (850, 950)),
        # a false "face" in the blurred crowd as large as his: out of focus, no rival
        ("img41.jpg", 2, (600, 750)),
    ],
)
def test_a_portrait_with_bystanders_is_taken(
    analyses: dict[str, ImageAnalysis], photo: str, faces: int, x_range: tuple[int, int]
) -> None:
    # Given a photo of one person with other faces detected behind or beside them
    analysis = analyses[photo]
    assert len(analysis.faces) == faces
    # When checked as a selfie, Then the person in front is its subject
    x, _ = subject(analysis)
    assert x_range[0] <= x <= x_range[1]


@pytest.mark.parametrize("photo", ["couple.jpg", "selfie-many-people.jpg"])
def test_a_couple_or_a_group_is_refused(analyses: dict[str, ImageAnalysis], photo: str) -> None:
    # Given two or more sharp faces of similar prominence, Then no face is the subject
    with pytest.raises(FaceRequirementError) as refused:
        subject(analyses[photo])
    assert refused.value.details["reason"] == "several_faces"


def test_single_portraits_still_pass(analyses: dict[str, ImageAnalysis]) -> None:
    # Given every one-face photo of faces-dev, Then the rule changes nothing for them
    singles = {name: a for name, a in analyses.items() if len(a.faces) == 1}
    assert len(singles) > 50
    reasons: dict[str, str] = {}
    for name, analysis in singles.items():
        try:
            subject(analysis)
        except FaceRequirementError as exc:
            reasons[name] = str(exc.details["reason"])
    assert "several_faces" not in reasons.values()
