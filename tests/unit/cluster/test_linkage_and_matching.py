"""Average linkage with cannot-links, the gallery-sized matching bars, and the digest rule."""

from __future__ import annotations

import numpy as np
import pytest
from findme.domain.clustering import cluster_faces
from findme.domain.incremental import Neighbour, place_incremental
from findme.domain.linkage import average_linkage_labels
from findme.domain.matching import ImpostorModel, MatchBars, decide, person_evidence
from findme.domain.metrics import bcubed
from findme.domain.neighbour_graph import cosine_knn_graph
from findme.errors import InvalidInputError
from findme.local.synthetic import synthetic_faces


def _vectors(sims: np.ndarray) -> np.ndarray:
    """Unit vectors whose Gram matrix is ``sims`` (positive definite)."""
    return np.linalg.cholesky(sims).astype(np.float64)


def _all_edges(n: int) -> tuple[np.ndarray, np.ndarray]:
    r, c = np.triu_indices(n, 1)
    return r.astype(np.intp), c.astype(np.intp)


def test_one_strong_pair_does_not_chain_two_people() -> None:
    """Given two tight pairs {0,1} and {2,3} linked only by one look-alike pair 1-2 (0.55),
    when clustered at average linkage 0.45, then they stay two clusters (the mean over the
    four cross pairs is about 0.36), where single linkage (DBSCAN at 0.55) would join them."""
    g = np.array([[1, 0.8, 0.3, 0.3], [0.8, 1, 0.55, 0.3], [0.3, 0.55, 1, 0.8], [0.3, 0.3, 0.8, 1]])
    rows, cols = _all_edges(4)
    labels = average_linkage_labels(
        _vectors(g), rows, cols, threshold=0.45, image_codes=np.arange(4, dtype=np.intp)
    )
    assert labels[0] == labels[1]
    assert labels[2] == labels[3]
    assert labels[0] != labels[2]


def test_faces_of_one_photo_never_merge() -> None:
    """Given two faces of one photo that look alike (0.9), then they stay apart."""
    g = np.array([[1, 0.9, 0.8], [0.9, 1, 0.8], [0.8, 0.8, 1]])
    rows, cols = _all_edges(3)
    labels = average_linkage_labels(
        _vectors(g), rows, cols, threshold=0.45, image_codes=np.array([0, 0, 1], dtype=np.intp)
    )
    assert labels[0] != labels[1]
    assert len(set(labels.tolist())) == 2


def test_manual_faces_of_two_persons_never_merge() -> None:
    g = np.array([[1, 0.9], [0.9, 1]])
    rows, cols = _all_edges(2)
    labels = average_linkage_labels(
        _vectors(g),
        rows,
        cols,
        threshold=0.45,
        image_codes=np.arange(2, dtype=np.intp),
        manual_codes=np.array([0, 1], dtype=np.intp),
    )
    assert labels[0] != labels[1]


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        average_linkage_labels(
            np.ones((1, 2)) / np.sqrt(2),
            np.zeros(0, np.intp),
            np.zeros(0, np.intp),
            threshold=0.0,
            image_codes=np.zeros(1, np.intp),
        )


def test_average_linkage_matches_dbscan_on_synthetic_faces() -> None:
    """Given 6,000 synthetic faces (SFace statistics, Zipf identity sizes up to hundreds of
    faces, 10 % one-off strangers), then average linkage keeps big identities whole (BCubed
    recall 0.99+) with precision 0.99+, within 0.005 of DBSCAN's F."""
    faces = synthetic_faces(6000, seed=3)
    n = len(faces.image_ids)
    scores = {}
    for method in ("dbscan", "average"):
        out = cluster_faces(
            faces.embeddings,
            faces.image_ids,
            [None] * n,
            [False] * n,
            eps=0.475,
            min_samples=2,
            method=method,
        )
        scores[method] = bcubed(faces.identities.tolist(), out.person_ids)
    assert scores["average"].precision >= 0.99
    assert scores["average"].recall >= 0.99
    assert scores["average"].f >= scores["dbscan"].f - 0.005


def test_knn_graph_keeps_at_most_k_per_face_above_the_floor() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    g = cosine_knn_graph(x, 0.2, 5)
    assert (g != g.T).nnz == 0
    assert g.diagonal().sum() == 0
    assert g.data.min() >= 0.2
    full = x @ x.T
    r, c = g.nonzero()
    np.testing.assert_allclose(g[r, c].A1, full[r, c], atol=1e-5)


def test_bars_rise_with_the_gallery_and_hold_expected_false_matches() -> None:
    """Given the impostor model, then each bar gives the target expected false matches for
    its gallery size, bars rise with the gallery, lone faces need more than persons and
    candidates less."""
    model = ImpostorModel()
    small = MatchBars.for_gallery(
        persons=300,
        unclustered_faces=1000,
        references=1,
        expected_false_matches=0.02,
        face_expected_false_matches=0.002,
        candidate_false_matches=1.0,
        floor=0.0,
        candidate_floor=0.0,
    )
    big = MatchBars.for_gallery(
        persons=30_000,
        unclustered_faces=100_000,
        references=1,
        expected_false_matches=0.02,
        face_expected_false_matches=0.002,
        candidate_false_matches=1.0,
        floor=0.0,
        candidate_floor=0.0,
    )
    assert 300 * model.false_match_rate(small.person) == pytest.approx(0.02, rel=1e-6)
    assert 1000 * model.false_match_rate(small.face) == pytest.approx(0.002, rel=1e-6)
    assert big.person > small.person
    assert big.face > small.face
    assert small.candidate < small.person < small.face
    floored = MatchBars.for_gallery(
        persons=2,
        unclustered_faces=2,
        references=1,
        expected_false_matches=0.02,
        candidate_false_matches=1.0,
        floor=0.4,
        candidate_floor=0.3,
    )
    assert floored.person == 0.4
    assert floored.candidate == 0.3


def test_decide_applies_bars_and_rivals() -> None:
    bars = MatchBars(person=0.5, face=0.6, candidate=0.3)
    persons = {
        "mine": np.array([0.8, 0.7, 0.75, 0.1]),
        "maybe": np.array([0.4, 0.35]),
        "twin": np.array([0.7, 0.7]),
        "stranger": np.array([0.55, 0.0, 0.0, 0.0]),  # one look-alike face
    }
    out = decide(persons, {"lone-a": 0.65, "lone-b": 0.55}, bars, rival_evidence={"twin": 0.9})
    assert set(out.persons) == {"mine"}
    assert set(out.candidates) == {"maybe"}
    assert set(out.faces) == {"lone-a"}
    assert person_evidence(np.array([0.9, 0.1, 0.5, 0.7]), 3) == pytest.approx(0.7)


def test_incremental_linkage_rule_needs_the_persons_mean() -> None:
    """Given a new face near one face (0.6) of a 10-face person and near all three faces of a
    3-face person (0.5 each), then the linkage rule picks the 3-face person (mean 0.5 vs
    0.06); the nearest-face rule would pick the big one."""
    hits = [
        [Neighbour("f1", "img-1", "big", 0.6)]
        + [Neighbour(f"g{i}", f"img-g{i}", "small", 0.5) for i in range(3)]
    ]
    linkage = place_incremental(
        hits,
        image_id="new",
        threshold=0.4,
        person_sizes={"big": 10, "small": 3},
        linkage_threshold=0.45,
    )
    nearest = place_incremental(hits, image_id="new", threshold=0.4)
    assert linkage == ["small"]
    assert nearest == ["big"]
