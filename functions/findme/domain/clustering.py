"""Faces into persons: DBSCAN on a sparse cosine neighbour graph, plus the rules users ask for.

Plain DBSCAN (Ester, Kriegel, Sander & Xu, "A density-based algorithm for discovering
clusters in large spatial databases with noise", KDD 1996) groups a group's face embeddings;
on top of it, as users of photo apps ask (Immich's complaints, ARCHITECTURE.md §6):

1. **Faces of one photo are never one person.** A DBSCAN cluster holding two faces of the
   same photo (or manual faces of two different persons) is split by *constrained single
   linkage*: its strongest edges are joined first (Kruskal order, as single-linkage
   clustering, Gower & Ross 1969), and an edge is skipped when joining its two parts would
   put two faces of one photo, or two different manual persons, together. Parts of one
   identity cut apart only because it shows twice in a photo (a mirror, a poster) are then
   re-joined by average linkage, leaving the weaker duplicate out. Parts smaller than
   ``min_samples`` become noise.
2. **Person ids and names are stable.** New clusters are matched to the persons their faces
   belonged to before by maximum total overlap (Hungarian assignment, Kuhn 1955, via
   :func:`scipy.optimize.linear_sum_assignment`, per connected block of the overlap graph);
   an unmatched cluster gets a new id.
3. **Manual placements are kept** (``is_manual_placement``): a manual face never changes
   person, manual faces of two persons never share a cluster (rule 1), and a cluster left
   unmatched that holds manual faces of person P joins P (the curator said so).
4. **Noise stays unassigned; persons left with no face are removed.**

The pieces: the neighbour graphs and DBSCAN (:mod:`findme.domain.neighbour_graph`, which
says how memory stays bounded), the constrained split of rule 1
(:mod:`findme.domain.constrained_split`), average linkage with cannot-links
(:mod:`findme.domain.linkage`); this module runs them in order and keeps rules 2-4.

The incremental rule digest applies between clusterings lives in
:mod:`findme.domain.incremental` and uses this module's notion of "same person".

scipy, scikit-learn and faiss are imported inside the functions that use them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from findme.domain.constrained_split import split_constrained
from findme.domain.neighbour_graph import (
    cosine_knn_graph,
    cosine_radius_graph,
    dbscan_labels,
    normalize_rows,
)
from findme.domain.person_ids import (
    Constraints,
    OldPersons,
    PersonPlan,
    plan_persons,
    stable_person_ids,
)
from findme.errors import InvalidInputError

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

#: Clustering methods: DBSCAN (chains look-alikes in big groups) or average linkage.
CLUSTER_METHODS = ("dbscan", "average")

#: Average linkage: smallest mean cosine similarity between two clusters that merge (distance
#: 0.55). On ../shared/data/event-dev (1,000 one-photo guests) 0.42 / 0.45 / 0.48 gave BCubed
#: P 0.971 / 0.988 / 0.997 and R 0.982 / 0.976 / 0.966 (README "Matching").
LINKAGE_THRESHOLD = 0.45

#: Neighbour graph for average linkage (which clusters are compared; the linkage itself is
#: exact): each face's strongest neighbours at cosine similarity >= the floor (SFace impostor
#: pairs average 0.09, sd 0.09), at most N x LINKAGE_NEIGHBOURS pairs at any group size.
LINKAGE_GRAPH_FLOOR = 0.30
LINKAGE_NEIGHBOURS = 30


def _new_uuid() -> str:
    return str(uuid.uuid4())


# --- results --------------------------------------------------------------------------------
@dataclass(slots=True)
class ClusteringOutcome:
    """What :func:`cluster_faces` decided, per face and per person.

    Attributes:
        person_ids: final person per input face (``None``: unassigned).
        manual: final ``is_manual_placement`` per input face.
        persons: every person that has at least one face afterwards.
        removed_person_ids: persons known before that are left without faces.
        faces_processed: faces given.
        persons_created: persons with a new id.
        persons_merged: removed persons whose faces (most of them) went to another person.
        manual_placements_preserved: manual faces whose person is unchanged.
        clusters_found: DBSCAN clusters before constraints.
        clusters_split: DBSCAN clusters split because of same-photo or manual constraints.
        noise_faces: faces left unassigned.
        processing_time: seconds spent in :func:`cluster_faces`.
        neighbour_pairs: stored entries of the sparse radius graph (self pairs included),
            the figure memory grows with.
        timings_s: seconds per phase (``graph``, ``dbscan``, ``split``, ``match``).
    """

    person_ids: list[str | None]
    manual: list[bool]
    persons: list[PersonPlan]
    removed_person_ids: list[str]
    faces_processed: int
    persons_created: int
    persons_merged: int
    manual_placements_preserved: int
    clusters_found: int
    clusters_split: int
    noise_faces: int
    processing_time: float
    neighbour_pairs: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)


def _conflicted_clusters(
    labels: NDArray[np.intp], image_codes: NDArray[np.intp], manual_codes: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Cluster labels holding two faces of one photo or manual faces of two persons."""
    clustered = labels >= 0
    lab, img, man = labels[clustered], image_codes[clustered], manual_codes[clustered]
    pairs, counts = np.unique(np.stack([lab, img]), axis=1, return_counts=True)
    same_photo = pairs[0][counts > 1]
    pinned = man >= 0
    lab_man = np.unique(np.stack([lab[pinned], man[pinned]]), axis=1)
    lab_ids, per_lab = np.unique(lab_man[0], return_counts=True)
    two_manual = lab_ids[per_lab > 1]
    return np.union1d(same_photo, two_manual).astype(np.intp)


# --- the whole run ---------------------------------------------------------------------------
def _dbscan_step(
    unit: NDArray[np.float32],
    *,
    idx: NDArray[np.intp],
    n: int,
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp],
    min_samples: int,
    eps: float,
    timings: dict[str, float],
) -> tuple[NDArray[np.intp], csr_matrix | None, int, int]:
    """DBSCAN on the sparse radius graph, then the constrained split of conflicted clusters.

    Returns:
        ``(n,)`` component labels (``-1`` noise), the graph, clusters found, clusters split.
    """
    t = time.perf_counter()
    labels = np.full(n, -1, dtype=np.intp)
    graph = None
    if idx.size:
        graph = cosine_radius_graph(unit[idx], eps)
        timings["graph"] = time.perf_counter() - t
        t = time.perf_counter()
        labels[idx] = dbscan_labels(graph, min_samples)
    timings["dbscan"] = time.perf_counter() - t
    clusters_found = int(labels.max()) + 1 if n else 0

    # 2. split clusters that break a constraint
    t = time.perf_counter()
    comp = labels.copy()
    conflicted = _conflicted_clusters(labels, image_codes, manual_codes)
    next_label = clusters_found
    if conflicted.size and graph is not None:
        pos_in_sub = np.full(n, -1, dtype=np.intp)
        pos_in_sub[idx] = np.arange(idx.size)
        for label in conflicted.tolist():
            members = np.flatnonzero(labels == label)
            sub_pos = pos_in_sub[members]
            sub = graph[sub_pos][:, sub_pos]
            parts = split_constrained(
                sub, unit[members], image_codes[members], manual_codes[members], eps=eps
            )
            comp[members] = parts + next_label
            next_label += int(parts.max()) + 1
        comp = _small_to_noise(comp, manual_codes, min_samples)
    timings["split"] = time.perf_counter() - t

    return comp, graph, clusters_found, int(conflicted.size)


def _average_linkage_step(
    unit: NDArray[np.float32],
    *,
    idx: NDArray[np.intp],
    n: int,
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp],
    min_samples: int,
    threshold: float,
    timings: dict[str, float],
) -> tuple[NDArray[np.intp], csr_matrix | None, int, int]:
    """Average linkage with cannot-links on the top-``LINKAGE_NEIGHBOURS`` neighbour graph
    (pairs at cosine similarity ``>= LINKAGE_GRAPH_FLOOR``); small clusters become noise.

    Returns:
        ``(n,)`` component labels (``-1`` noise), the graph, clusters found, 0 (no split:
        the constraints hold at every merge).
    """
    from findme.domain.linkage import average_linkage_labels

    comp = np.full(n, -1, dtype=np.intp)
    graph = None
    t = time.perf_counter()
    if idx.size:
        sub = unit[idx]
        graph = cosine_knn_graph(sub, LINKAGE_GRAPH_FLOOR, LINKAGE_NEIGHBOURS)
        timings["graph"] = time.perf_counter() - t
        t = time.perf_counter()
        coo = graph.tocoo()
        labels = average_linkage_labels(
            sub,
            coo.row.astype(np.intp),
            coo.col.astype(np.intp),
            threshold=threshold,
            image_codes=image_codes[idx],
            manual_codes=manual_codes[idx],
        )
        comp[idx] = _small_to_noise(labels, manual_codes[idx], min_samples)
    timings["linkage"] = time.perf_counter() - t
    return comp, graph, int(np.unique(comp[comp >= 0]).size), 0


def _small_to_noise(
    labels: NDArray[np.intp], manual_codes: NDArray[np.intp], min_samples: int
) -> NDArray[np.intp]:
    """Clusters smaller than ``min_samples`` become noise (``-1``), unless a manual face
    anchors them (the curator said it is a person)."""
    out = labels.copy()
    clustered = out >= 0
    if not clustered.any():
        return out
    sizes = np.bincount(out[clustered])
    anchored = np.zeros(sizes.size, dtype=bool)
    anchored[out[clustered & (manual_codes >= 0)]] = True
    small = (sizes < min_samples) & ~anchored
    out[clustered & small[np.maximum(out, 0)]] = -1
    return out


def cluster_faces(
    embeddings: NDArray[np.floating],
    image_ids: Sequence[str],
    person_ids: Sequence[str | None],
    manual: Sequence[bool],
    *,
    eps: float,
    min_samples: int,
    preserve_manual: bool = True,
    known_person_ids: Iterable[str] = (),
    named_person_ids: Collection[str] = frozenset(),
    new_person_id: Callable[[], str] = _new_uuid,
    method: str = "dbscan",
    linkage_threshold: float = LINKAGE_THRESHOLD,
) -> ClusteringOutcome:
    """Cluster a group's faces into persons (see the module docstring for the rules).

    ``method="average"`` replaces step 1 (DBSCAN, then the constrained split) by average
    linkage on a sparse neighbour graph with the same-photo and manual rules as cannot-links
    (:mod:`findme.domain.linkage`): clusters smaller than ``min_samples`` are noise.

    Args:
        embeddings: ``(N, D) float`` face embeddings (L2-normalised here; a row of zeros or
            NaN means "no embedding": such a face never links to another).
        image_ids: ``N`` photo ids; two faces of one photo never share an automatic person.
        person_ids: ``N`` current persons (``None``: unassigned), used for stable ids.
        manual: ``N`` current ``is_manual_placement`` flags.
        eps: DBSCAN radius in cosine distance ``1 - cos``, in ``(0, 2)``; default setting
            0.475 (BCubed F 0.977 on a 40-identity LFW subset, ARCHITECTURE.md §4).
        min_samples: DBSCAN core-point count (self included), ``>= 1``.
        preserve_manual: keep manual faces where they are and let them constrain the result;
            ``False`` re-clusters them like any face and clears their manual flag.
        known_person_ids: persons of the group before the run (even empty ones), so the
            outcome lists those to remove.
        named_person_ids: persons with a curator-given name or linked user: preferred on
            equal overlap.
        new_person_id: id factory for new persons (uuid4 strings by default).
        method: ``"dbscan"`` or ``"average"`` (``Settings.cluster_method``).
        linkage_threshold: ``average`` only: smallest mean cosine similarity between two
            clusters that merge, in ``(0, 1]`` (``Settings.cluster_linkage_threshold``).

    Returns:
        A :class:`ClusteringOutcome`.

    Raises:
        InvalidInputError: inconsistent lengths, ``eps`` outside ``(0, 2)``,
            ``min_samples < 1`` or an unknown ``method``.
    """
    t_start = time.perf_counter()
    x = np.asarray(embeddings)
    n = len(image_ids)
    _check_inputs(x, n, person_ids, manual, eps=eps, min_samples=min_samples, method=method)
    timings: dict[str, float] = {}
    unit, valid = normalize_rows(x) if n else (np.zeros((0, 1), np.float32), np.zeros(0, bool))
    rules = Constraints.build(image_ids, person_ids, manual, preserve_manual)
    # A face a curator left unassigned on purpose takes no part in clustering.
    clusterable = valid & ~(rules.pinned & (rules.manual_codes < 0))

    # 1-2. clusters (DBSCAN + constrained split, or constrained average linkage)
    common: dict[str, Any] = {
        "idx": np.flatnonzero(clusterable),
        "n": n,
        "image_codes": rules.image_codes,
        "manual_codes": rules.manual_codes,
        "min_samples": min_samples,
        "timings": timings,
    }
    if method == "average":
        comp, graph, clusters_found, n_split = _average_linkage_step(
            unit, threshold=linkage_threshold, **common
        )
    else:
        comp, graph, clusters_found, n_split = _dbscan_step(unit, eps=eps, **common)

    # 3. stable ids: clusters -> old persons by overlap, then the manual rule, then new ids
    t = time.perf_counter()
    old = OldPersons.build(person_ids)
    final = stable_person_ids(comp, old, rules, named_person_ids, new_person_id)
    timings["match"] = time.perf_counter() - t

    # 4. persons, removals, merges
    persons, removed, merged_into = plan_persons(final, old, known_person_ids)
    pinned = rules.pinned
    preserved = sum(1 for i in np.flatnonzero(pinned).tolist() if final[i] == person_ids[i])
    return ClusteringOutcome(
        person_ids=final,
        manual=pinned.tolist(),
        persons=persons,
        removed_person_ids=removed,
        faces_processed=n,
        persons_created=sum(1 for p in persons if p.is_new),
        persons_merged=sum(len(v) for v in merged_into.values()),
        manual_placements_preserved=preserved,
        clusters_found=clusters_found,
        clusters_split=n_split,
        noise_faces=sum(1 for p in final if p is None),
        processing_time=time.perf_counter() - t_start,
        neighbour_pairs=int(graph.nnz) if graph is not None else 0,
        timings_s={k: round(v, 4) for k, v in timings.items()},
    )


def _check_inputs(
    x: NDArray[Any],
    n: int,
    person_ids: Sequence[str | None],
    manual: Sequence[bool],
    *,
    eps: float,
    min_samples: int,
    method: str,
) -> None:
    """Raises InvalidInputError as :func:`cluster_faces` documents."""
    if x.ndim != 2 or x.shape[0] != n or len(person_ids) != n or len(manual) != n:
        raise InvalidInputError(
            "embeddings (N, D), image_ids, person_ids and manual must have N rows",
            field="embeddings",
        )
    if not 0.0 < eps < 2.0:
        raise InvalidInputError("eps must be in (0, 2) (cosine distance)", field="eps")
    if min_samples < 1:
        raise InvalidInputError("min_samples must be >= 1", field="min_samples")
    if method not in CLUSTER_METHODS:
        raise InvalidInputError("method must be 'dbscan' or 'average'", field="method")
