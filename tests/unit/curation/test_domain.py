"""Pure curation logic: duplicate pairs, outliers, manual carry-over, drift, stats arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from findme.domain import quality as q
from findme.domain.curation import (
    BoxedFace,
    add_stats,
    carry_manual_placements,
    compare_faces_to_vectors,
    compute_stats,
    duplicate_pairs,
    mean_similarity_to_rest,
    person_outliers,
)
from findme.domain.faces import BoundingBox


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_duplicates_never_pair_faces_of_one_photo_and_sort_by_similarity() -> None:
    # Given three identical vectors, two of them in the same photo, and one unrelated vector
    rng = np.random.default_rng(0)
    base = rng.normal(size=128)
    vecs = _unit(np.stack([base, base, base + 0.01 * rng.normal(size=128), rng.normal(size=128)]))
    # When pairs at 0.95 are asked
    pairs = duplicate_pairs(
        ["a", "b", "c", "d"], ["p1", "p1", "p2", "p3"], vecs, threshold=0.95, limit=10
    )
    # Then a-b (same photo) is absent, a-c and b-c are present, most similar first
    assert {(p.face_id_1, p.face_id_2) for p in pairs} == {("a", "c"), ("b", "c")}
    assert all(p.image_id_1 != p.image_id_2 for p in pairs)
    assert pairs[0].similarity >= pairs[-1].similarity >= 0.95


def test_duplicates_respect_the_limit_across_blocks() -> None:
    # Given 1,100 copies of one vector in distinct photos (more than one similarity block)
    vecs = _unit(np.ones((1100, 128)))
    ids = [f"f{i}" for i in range(1100)]
    # When 7 pairs are asked, Then exactly 7 come back
    assert len(duplicate_pairs(ids, ids, vecs, threshold=0.99, limit=7)) == 7


def test_mean_similarity_to_rest_matches_the_pairwise_definition() -> None:
    # Given five random unit vectors
    vecs = _unit(np.random.default_rng(1).normal(size=(5, 128)))
    # When the O(n) formula is used, Then it equals the mean of the explicit pairwise sims
    sims = vecs @ vecs.T
    expected = [(sims[i].sum() - sims[i, i]) / 4 for i in range(5)]
    np.testing.assert_allclose(mean_similarity_to_rest(vecs), expected, atol=1e-6)
    with pytest.raises(ValueError, match="two faces"):
        mean_similarity_to_rest(vecs[:1])


def test_outliers_surface_the_foreign_face_lowest_first_and_skip_single_face_persons() -> None:
    # Given a person of four near-identical faces plus one foreign face, and a one-face person
    rng = np.random.default_rng(2)
    center = rng.normal(size=128)
    members = _unit(np.stack([center + 0.2 * rng.normal(size=128) for _ in range(4)]))
    foreign = _unit(rng.normal(size=(1, 128)))[0]
    persons = {
        "p": [(f"f{i}", v) for i, v in enumerate(members)] + [("x", foreign)],
        "solo": [("s", foreign)],
    }
    # When outliers below 0.6 are listed
    found = person_outliers(persons, threshold=0.6, limit=10)
    # Then only the foreign face is reported
    assert [o.face_id for o in found] == ["x"]
    assert found[0].person_id == "p"
    assert found[0].mean_similarity < 0.3


def test_manual_placements_follow_overlapping_boxes_only() -> None:
    # Given two old faces (one manual) and new detections in another order
    old = [
        BoxedFace("old0", BoundingBox(0, 0, 100, 100), "alice", True),
        BoxedFace("old1", BoundingBox(300, 0, 100, 100), "bob", False),
    ]
    new = [
        BoxedFace("new0", BoundingBox(305, 5, 100, 100)),
        BoxedFace("new1", BoundingBox(10, 10, 100, 100)),  # IoU with old0 = 0.68
    ]
    # When manual placements are carried, Then only the manual one moves, to the overlapping box
    assert carry_manual_placements(old, new) == {"new1": "alice"}
    # And a shifted box (IoU 0.33 <= 0.5) does not inherit it
    far = [BoxedFace("new2", BoundingBox(50, 0, 100, 100))]
    assert carry_manual_placements(old, far) == {}


def test_drift_lists_missing_orphan_and_mismatched_faces() -> None:
    items = {"a": ("i1", "p1"), "b": ("i1", None), "c": ("i2", "p2")}
    vectors = {"a": ("i1", "p1"), "c": ("i9", "p3"), "z": ("i3", None)}
    drift = compare_faces_to_vectors(items, vectors)
    assert drift.missing_vectors == ["b"]
    assert drift.orphan_vectors == ["z"]
    assert drift.person_mismatches == {"c": ("p2", "p3")}
    assert drift.image_mismatches == ["c"]
    assert not drift.consistent
    assert compare_faces_to_vectors(items, items).consistent


def test_stats_ratios_and_totals() -> None:
    a = compute_stats(
        persons=2, images=4, faces=6, images_with_faces=3, manual_assignments=1, assigned_faces=3
    )
    assert (a.images_without_faces, a.face_coverage_pct) == (1, 50.0)
    assert (a.avg_faces_per_image, a.avg_faces_per_person) == (1.5, 1.5)
    empty = compute_stats(
        persons=0, images=0, faces=0, images_with_faces=0, manual_assignments=0, assigned_faces=0
    )
    assert empty.face_coverage_pct == empty.avg_faces_per_image == empty.avg_faces_per_person == 0.0
    total = add_stats([a, a])
    assert (total.faces, total.face_coverage_pct, total.avg_faces_per_person) == (12, 50.0, 1.5)


@pytest.mark.parametrize(
    ("blur", "bright", "conf", "overall", "grade", "issues", "strict_issues"),
    [
        (1.0, 0.8, 1.0, 0.92, "A", [], []),
        (
            0.55,
            0.88,
            0.75,
            0.722,
            "B",
            [],
            ["Image is blurry", "Overexposed", "Low detection confidence"],
        ),
        (
            0.4,
            0.3,
            0.65,
            0.41,
            "D",
            ["Image is blurry", "Poor lighting/exposure", "Low detection confidence"],
            ["Image is blurry", "Poor lighting/exposure", "Low detection confidence"],
        ),
        (
            0.2,
            0.95,
            0.5,
            0.56,
            "C",
            ["Image is blurry", "Overexposed", "Low detection confidence"],
            ["Image is blurry", "Overexposed", "Low detection confidence"],
        ),
        (
            0.1,
            0.1,
            0.5,
            0.18,
            "F",
            ["Image is blurry", "Poor lighting/exposure", "Low detection confidence"],
            ["Image is blurry", "Poor lighting/exposure", "Low detection confidence"],
        ),
    ],
)
def test_quality_formula_grades_and_issue_strings_are_the_peer_apis(
    blur: float,
    bright: float,
    conf: float,
    overall: float,
    grade: str,
    issues: list[str],
    strict_issues: list[str],
) -> None:
    # The curation API grades with findme.domain.quality: exact formula, grades and strings
    assert q.overall_quality(blur, bright, conf) == pytest.approx(overall, abs=1e-4)
    assert q.quality_grade(q.overall_quality(blur, bright, conf)) == grade
    assert q.quality_issues(blur, bright, conf) == issues
    assert q.quality_issues(blur, bright, conf, strict=True) == strict_issues
