"""BCubed precision/recall/F (Bagga & Baldwin 1998; Amigó et al. 2009) against hand counts."""

from __future__ import annotations

import pytest
from findme.domain.metrics import bcubed
from findme.errors import InvalidInputError


def test_a_perfect_clustering_scores_one_whatever_the_labels() -> None:
    score = bcubed(["a", "a", "b"], ["x", "x", "y"])
    assert (score.precision, score.recall, score.f) == (1.0, 1.0, 1.0)


def test_everything_in_one_cluster_matches_the_hand_computed_precision() -> None:
    # Given identities a, a, b in one cluster: precision per item 2/3, 2/3, 1/3
    score = bcubed(["a", "a", "b"], ["x", "x", "x"])
    assert score.precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert score.recall == 1.0
    assert score.f == pytest.approx(2 * score.precision / (score.precision + 1))


def test_unassigned_faces_cost_recall_not_precision() -> None:
    # Given identity a with 4 faces, two of them left unassigned (None)
    score = bcubed(["a"] * 4, ["x", "x", None, None])
    # Then precision stays 1 and recall per item is 2/4, 2/4, 1/4, 1/4
    assert score.precision == 1.0
    assert score.recall == pytest.approx((0.5 + 0.5 + 0.25 + 0.25) / 4)


def test_strangers_are_their_own_identity() -> None:
    # Given two strangers (-1) put together in one cluster
    score = bcubed([-1, -1], ["x", "x"])
    assert score.precision == 0.5
    assert score.recall == 1.0


def test_lengths_must_match() -> None:
    with pytest.raises(InvalidInputError):
        bcubed(["a"], [])
