"""Clustering rules on synthetic embeddings: DBSCAN on the sparse graph, one photo never twice
in a person, stable ids, manual placements kept and constraining, noise, empty persons."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import count

import numpy as np
import pytest
from fakes import DIM as D
from fakes import blob, unit
from findme.domain.clustering import (
    ClusteringOutcome,
    cluster_faces,
    cosine_radius_graph,
    dbscan_labels,
    normalize_rows,
)
from findme.domain.incremental import Neighbour, neighbours_from_vectors, place_incremental
from findme.domain.metrics import bcubed
from findme.errors import InvalidInputError
from findme.local.synthetic import synthetic_faces
from numpy.typing import NDArray

EPS = 0.475
MIN_SAMPLES = 2


def ids() -> object:
    counter = count(1)
    return lambda: f"new-{next(counter)}"


def run(
    x: NDArray[np.float64],
    images: Sequence[str],
    persons: Sequence[str | None] | None = None,
    manual: Sequence[bool] | None = None,
    **kwargs: object,
) -> ClusteringOutcome:
    n = len(images)
    return cluster_faces(
        x,
        images,
        list(persons) if persons is not None else [None] * n,
        list(manual) if manual is not None else [False] * n,
        eps=EPS,
        min_samples=MIN_SAMPLES,
        new_person_id=ids(),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def max_faces_of_one_photo_in_a_person(out: ClusteringOutcome, images: Sequence[str]) -> int:
    pairs = Counter((p, img) for p, img in zip(out.person_ids, images, strict=True) if p)
    return max(pairs.values(), default=0)


def bridged(
    rng: np.random.Generator, k: int = 8
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Two tight identities A and B (orthogonal centres) and one face halfway between them:
    cosine ≈ 0.7 to both, so DBSCAN chains A and B into one cluster through it."""
    a_c, b_c = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    b_c = unit(b_c - (b_c @ a_c) * a_c)
    bridge = unit(a_c + b_c)[None, :]
    return blob(rng, a_c, k, 0.2), blob(rng, b_c, k, 0.2), bridge


# --- DBSCAN on the sparse graph ------------------------------------------------------------
def test_synthetic_identities_are_found_with_high_bcubed_f() -> None:
    # Given 3,000 synthetic faces of ~135 identities plus 10 % strangers, 1-4 per photo
    faces = synthetic_faces(3000, seed=3)
    # When they are clustered from scratch
    out = run(faces.embeddings, faces.image_ids)
    # Then identities and persons agree (BCubed F), strangers stay unassigned,
    # and no person holds two faces of one photo
    score = bcubed(faces.identities.tolist(), out.person_ids)
    print(f"synthetic BCubed {score.as_dict()}")
    assert score.f >= 0.97
    strangers = faces.identities < 0
    assigned_strangers = sum(out.person_ids[i] is not None for i in np.flatnonzero(strangers))
    assert assigned_strangers <= 0.02 * strangers.sum()
    assert max_faces_of_one_photo_in_a_person(out, faces.image_ids) == 1
    assert out.persons_created == len(out.persons) == out.clusters_found


def test_radius_graph_holds_exactly_the_pairs_within_eps() -> None:
    # Given random unit vectors
    rng = np.random.default_rng(0)
    x, _ = normalize_rows(rng.standard_normal((300, 8)))
    # When the sparse radius graph is built for eps
    g = cosine_radius_graph(x, 0.3).tocoo()
    # Then its pairs are exactly those with cosine distance <= eps (self included)
    dense = 1 - x @ x.T
    expected = set(zip(*np.nonzero(dense <= 0.3 + 1e-6), strict=True))
    found = set(zip(g.row.tolist(), g.col.tolist(), strict=True))
    assert found == {(int(i), int(j)) for i, j in expected}
    assert np.allclose(g.data**2 / 2, dense[g.row, g.col], atol=1e-5)


@pytest.mark.parametrize("min_samples", [1, 2, 4])
def test_sparse_dbscan_finds_the_same_clusters_as_scikit_learn(min_samples: int) -> None:
    # Given synthetic faces and their sparse radius graph
    from sklearn.cluster import DBSCAN

    faces = synthetic_faces(2000, seed=17)
    graph = cosine_radius_graph(faces.embeddings, EPS)
    # When labelled by our DBSCAN and by scikit-learn's on the same precomputed graph
    ours = dbscan_labels(graph, min_samples)
    radius = float(np.sqrt(2 * EPS))
    theirs = DBSCAN(eps=radius, min_samples=min_samples, metric="precomputed").fit(graph)
    # Then core points form the same clusters, noise is the same, and every border point
    # sits in the cluster of one of its core neighbours
    core = np.zeros(len(ours), dtype=bool)
    core[theirs.core_sample_indices_] = True
    pairs = set(zip(ours[core].tolist(), theirs.labels_[core].tolist(), strict=True))
    assert len(pairs) == len(set(ours[core].tolist())) == len(set(theirs.labels_[core].tolist()))
    assert np.array_equal(ours == -1, theirs.labels_ == -1)
    for i in np.flatnonzero(~core & (ours >= 0)).tolist():
        neighbours = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        assert ours[i] in set(ours[neighbours[core[neighbours]]].tolist())
    assert (ours >= 0).sum() > 1500


def test_exact_duplicate_embeddings_cluster_together() -> None:
    # Given the same embedding stored for faces of two photos (distance exactly 0)
    rng = np.random.default_rng(1)
    v = unit(rng.standard_normal(D))
    # When clustered
    out = run(np.stack([v, v]), ["p1", "p2"])
    # Then they form one person (zero distances are neighbours, not "no edge")
    assert out.person_ids[0] is not None
    assert out.person_ids[0] == out.person_ids[1]


# --- same photo --------------------------------------------------------------------------
def test_two_identities_chained_through_a_bridge_are_split_by_a_shared_photo() -> None:
    # Given identities A and B that DBSCAN chains through one bridge face,
    # and a photo showing one face of A and one face of B
    rng = np.random.default_rng(2)
    a, b, bridge = bridged(rng)
    x = np.vstack([a, b, bridge])
    images = [f"a{i}" for i in range(len(a))] + [f"b{i}" for i in range(len(b))] + ["bridge"]
    images[0] = images[len(a)] = "together"
    # When clustered
    out = run(x, images)
    # Then DBSCAN found one cluster, the constraint split it,
    # A and B are two persons and no person holds two faces of one photo
    assert out.clusters_found == 1
    assert out.clusters_split == 1
    a_persons = set(out.person_ids[: len(a)])
    b_persons = set(out.person_ids[len(a) : len(a) + len(b)])
    assert len(a_persons) == 1
    assert len(b_persons) == 1
    assert a_persons != b_persons
    assert None not in a_persons | b_persons
    assert max_faces_of_one_photo_in_a_person(out, images) == 1


def test_a_reflection_in_the_same_photo_does_not_join_the_person() -> None:
    # Given six photos of one identity, one of which also shows a mirror image of the face
    rng = np.random.default_rng(4)
    centre = unit(rng.standard_normal(D))
    faces = blob(rng, centre, 6, 0.3)
    mirror = unit(faces[0] + 0.05 * rng.standard_normal(D) / np.sqrt(D))
    x = np.vstack([faces, mirror])
    images = [f"p{i}" for i in range(6)] + ["p0"]
    # When clustered
    out = run(x, images)
    # Then one person holds one face of each photo; the other face of p0 stays unassigned
    person = Counter(p for p in out.person_ids if p).most_common(1)[0][0]
    assert out.person_ids[1:6] == [person] * 5
    assert sorted([out.person_ids[0] == person, out.person_ids[6] == person]) == [False, True]
    assert None in (out.person_ids[0], out.person_ids[6])
    assert out.noise_faces == 1


# --- stable ids ----------------------------------------------------------------------------
def test_re_clustering_keeps_ids_and_new_faces_join_their_person() -> None:
    # Given a first clustering of synthetic faces
    faces = synthetic_faces(1200, seed=5)
    n_old = 1000
    first = run(faces.embeddings[:n_old], faces.image_ids[:n_old])
    # When 200 more faces arrive and the group is clustered again
    second = run(
        faces.embeddings,
        faces.image_ids,
        first.person_ids + [None] * (len(faces.image_ids) - n_old),
        known_person_ids=[p.person_id for p in first.persons],
    )
    # Then every old face keeps its person, old persons keep their ids,
    # and new faces of known identities join the old person of that identity
    assert second.person_ids[:n_old] == first.person_ids
    assert second.removed_person_ids == []
    assert second.persons_merged == 0
    old_by_identity = {
        int(faces.identities[i]): first.person_ids[i]
        for i in range(n_old)
        if first.person_ids[i] is not None and faces.identities[i] >= 0
    }
    joined = [
        second.person_ids[i] == old_by_identity[int(faces.identities[i])]
        for i in range(n_old, len(faces.image_ids))
        if int(faces.identities[i]) in old_by_identity
    ]
    assert len(joined) > 100
    assert np.mean(joined) >= 0.97
    assert not any(p.is_new for p in second.persons if p.person_id in set(first.person_ids))


def test_a_split_person_keeps_its_id_for_the_larger_part() -> None:
    # Given old person "P" that holds two identities (10 and 4 faces), wrongly merged
    rng = np.random.default_rng(6)
    big, small = (
        blob(rng, unit(rng.standard_normal(D)), 10),
        blob(rng, unit(rng.standard_normal(D)), 4),
    )
    x = np.vstack([big, small])
    images = [f"p{i}" for i in range(14)]
    # When re-clustered
    out = run(x, images, ["P"] * 14, known_person_ids=["P"])
    # Then the larger part keeps "P" and the smaller gets a new id
    assert out.person_ids[:10] == ["P"] * 10
    assert len(set(out.person_ids[10:])) == 1
    assert out.person_ids[10] != "P"
    assert out.persons_created == 1
    assert out.removed_person_ids == []


def test_merged_persons_keep_the_larger_id_and_count_as_merged() -> None:
    # Given one identity split earlier into "P" (6 faces) and "Q" (3 faces), and an empty "E"
    rng = np.random.default_rng(7)
    x = blob(rng, unit(rng.standard_normal(D)), 9)
    images = [f"p{i}" for i in range(9)]
    # When re-clustered
    out = run(x, images, ["P"] * 6 + ["Q"] * 3, known_person_ids=["P", "Q", "E"])
    # Then all faces are "P", "Q" is merged into it, and "Q" and the empty "E" are removed
    assert out.person_ids == ["P"] * 9
    assert out.persons_merged == 1
    assert out.persons_created == 0
    assert [p.merged_from for p in out.persons] == [("Q",)]
    assert out.removed_person_ids == ["E", "Q"]


def test_on_equal_overlap_a_named_person_keeps_its_id() -> None:
    # Given one identity split evenly between unnamed "A" and named "Z"
    rng = np.random.default_rng(8)
    x = blob(rng, unit(rng.standard_normal(D)), 6)
    images = [f"p{i}" for i in range(6)]
    # When re-clustered with "Z" named
    out = run(x, images, ["A"] * 3 + ["Z"] * 3, named_person_ids={"Z"})
    # Then the merged person is "Z"
    assert out.person_ids == ["Z"] * 6


# --- manual placements -------------------------------------------------------------------------
def test_a_face_moved_by_hand_stays_and_does_not_drag_its_cluster() -> None:
    # Given person "alice" (8 faces) and "bob" (5 faces); a curator moved one face that
    # looks like alice into bob by hand
    rng = np.random.default_rng(9)
    alice = blob(rng, unit(rng.standard_normal(D)), 8)
    bob = blob(rng, unit(rng.standard_normal(D)), 5)
    x = np.vstack([alice, bob])
    images = [f"p{i}" for i in range(13)]
    persons = ["alice"] * 7 + ["bob"] + ["bob"] * 5
    manual = [False] * 7 + [True] + [False] * 5
    # When re-clustered (forced re-run)
    out = run(x, images, persons, manual)
    # Then the moved face is still bob's, manual, and nothing else changed
    assert out.person_ids == persons
    assert out.manual == manual
    assert out.manual_placements_preserved == 1


def test_manual_faces_of_two_persons_in_one_cluster_split_it() -> None:
    # Given identities A and B chained into one DBSCAN cluster by a bridge face,
    # with one face of each pinned by hand to "pa" and "pb"
    rng = np.random.default_rng(10)
    a, b, bridge = bridged(rng)
    x = np.vstack([a, b, bridge])
    n = len(x)
    images = [f"p{i}" for i in range(n)]
    persons: list[str | None] = [None] * n
    manual = [False] * n
    persons[0], manual[0] = "pa", True
    persons[len(a)], manual[len(a)] = "pb", True
    # When clustered
    out = run(x, images, persons, manual)
    # Then the cluster is split: A's faces are "pa", B's faces are "pb"
    assert out.clusters_found == 1
    assert out.clusters_split == 1
    assert set(out.person_ids[: len(a)]) == {"pa"}
    assert set(out.person_ids[len(a) : len(a) + len(b)]) == {"pb"}
    assert out.manual_placements_preserved == 2


def test_a_merge_by_hand_survives_and_pulls_new_faces() -> None:
    # Given two DBSCAN-separate clusters that a curator merged by hand into "m" (all manual),
    # and two new unassigned faces near the second cluster
    rng = np.random.default_rng(11)
    c1, c2 = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    x = np.vstack([blob(rng, c1, 5), blob(rng, c2, 4), blob(rng, c2, 2)])
    images = [f"p{i}" for i in range(11)]
    persons = ["m"] * 9 + [None, None]
    manual = [True] * 9 + [False, False]
    # When re-clustered
    out = run(x, images, persons, manual)
    # Then everything is "m": the merge holds and the new faces join it automatically
    assert out.person_ids == ["m"] * 11
    assert out.manual == manual
    assert out.persons_created == 0
    assert out.manual_placements_preserved == 9


def test_a_face_unassigned_by_hand_stays_unassigned() -> None:
    # Given a cluster where a curator removed one face from its person (manual, no person)
    rng = np.random.default_rng(12)
    x = blob(rng, unit(rng.standard_normal(D)), 5)
    persons: list[str | None] = ["p"] * 4 + [None]
    # When re-clustered
    out = run(x, [f"i{k}" for k in range(5)], persons, [False] * 4 + [True])
    # Then it stays unassigned and manual
    assert out.person_ids == persons
    assert out.manual[4] is True


def test_without_preserve_manual_manual_faces_are_reclustered() -> None:
    # Given the hand-moved face of the first manual test
    rng = np.random.default_rng(9)
    alice = blob(rng, unit(rng.standard_normal(D)), 8)
    bob = blob(rng, unit(rng.standard_normal(D)), 5)
    persons = ["alice"] * 7 + ["bob"] * 6
    manual = [False] * 7 + [True] + [False] * 5
    # When re-clustered with preserve_manual=False
    out = run(
        np.vstack([alice, bob]),
        [f"p{i}" for i in range(13)],
        persons,
        manual,
        preserve_manual=False,
    )
    # Then the face goes back with alice and no face is manual any more
    assert out.person_ids[7] == "alice"
    assert not any(out.manual)
    assert out.manual_placements_preserved == 0


# --- noise, missing embeddings, validation --------------------------------------------------------
def test_noise_and_missing_embeddings_stay_unassigned_and_empty_persons_go() -> None:
    # Given a cluster of 4, a stranger, a face with no embedding that was in person "old",
    # and a manual face with no embedding
    rng = np.random.default_rng(13)
    x = np.vstack(
        [
            blob(rng, unit(rng.standard_normal(D)), 4),
            unit(rng.standard_normal(D)),
            np.zeros(D),
            np.zeros(D),
        ]
    )
    images = [f"p{i}" for i in range(7)]
    persons: list[str | None] = [None] * 5 + ["old", "kept"]
    manual = [False] * 6 + [True]
    # When clustered
    out = run(x, images, persons, manual, known_person_ids=["old", "kept"])
    # Then the stranger and the face without embedding are unassigned, "old" is removed
    # and the manual face keeps "kept"
    assert out.person_ids[4] is None
    assert out.person_ids[5] is None
    assert out.person_ids[6] == "kept"
    assert out.removed_person_ids == ["old"]
    assert out.noise_faces == 2


def test_no_faces_removes_every_known_person() -> None:
    out = run(np.zeros((0, D)), [], known_person_ids=["p1"])
    assert out.person_ids == []
    assert out.removed_person_ids == ["p1"]
    assert out.persons == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"eps": 0.0}, "eps"), ({"eps": 2.0}, "eps"), ({"min_samples": 0}, "min_samples")],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], field: str) -> None:
    params = {"eps": EPS, "min_samples": MIN_SAMPLES, **kwargs}
    with pytest.raises(InvalidInputError) as err:
        cluster_faces(np.ones((1, D)), ["a"], [None], [False], **params)  # type: ignore[arg-type]
    assert err.value.details["field"] == field


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        cluster_faces(np.ones((2, D)), ["a"], [None], [False], eps=EPS, min_samples=2)


# --- incremental rule -------------------------------------------------------------------------
def n(face: str, image: str, person: str | None, sim: float) -> Neighbour:
    return Neighbour(face_id=face, image_id=image, person_id=person, similarity=sim)


def test_a_new_face_joins_the_person_of_its_nearest_placed_face() -> None:
    # Given a new face whose nearest face is unassigned, then faces of persons A and B
    hits = [[n("f1", "i1", None, 0.9), n("f2", "i2", "A", 0.7), n("f3", "i3", "B", 0.6)]]
    # When placed, Then it joins A (the nearest *placed* face)
    assert place_incremental(hits, image_id="new", threshold=0.4) == ["A"]


def test_a_new_face_below_the_threshold_stays_unassigned() -> None:
    hits = [[n("f2", "i2", "A", 0.39)]]
    assert place_incremental(hits, image_id="new", threshold=0.4) == [None]


def test_faces_of_the_same_photo_are_never_neighbours() -> None:
    # Given the only placed neighbour is a face of the same photo (re-delivery, reflection)
    hits = [[n("f1", "new", "A", 0.99)]]
    assert place_incremental(hits, image_id="new", threshold=0.4) == [None]


def test_two_new_faces_of_one_photo_never_join_one_person() -> None:
    # Given two new faces of one photo, both nearest to person A (0.8 and 0.9),
    # the first also near B
    hits = [
        [n("f1", "i1", "A", 0.8), n("f2", "i2", "B", 0.7)],
        [n("f1", "i1", "A", 0.9)],
    ]
    # When assigned, Then the more similar face gets A and the other stays unassigned
    # (no fallback to a weaker person)
    assert place_incremental(hits, image_id="new", threshold=0.4) == [None, "A"]


def test_a_person_present_in_the_photo_is_not_joined() -> None:
    hits = [[n("f1", "i1", "A", 0.9)]]
    got = place_incremental(hits, image_id="new", threshold=0.4, present_person_ids={"A"})
    assert got == [None]


def test_brute_force_neighbours_match_the_incremental_rule_on_synthetic_faces() -> None:
    # Given a clustered synthetic group and new faces of known identities (one per photo)
    faces = synthetic_faces(600, noise_fraction=0.0, seed=21)
    old = run(faces.embeddings[:500], faces.image_ids[:500])
    new = faces.embeddings[500:]
    # When each new face is placed from its brute-force neighbours
    hits = neighbours_from_vectors(
        new,
        faces.embeddings[:500],
        [f"f{i}" for i in range(500)],
        faces.image_ids[:500],
        old.person_ids,
    )
    got = [
        place_incremental([h], image_id=f"new-{k}", threshold=0.4)[0] for k, h in enumerate(hits)
    ]
    # Then nearly all join the person that holds their identity
    person_of = {
        int(faces.identities[i]): old.person_ids[i]
        for i in range(500)
        if old.person_ids[i] is not None
    }
    expected = [person_of.get(int(t)) for t in faces.identities[500:]]
    agree = np.mean([g == e for g, e in zip(got, expected, strict=True)])
    assert agree >= 0.97
