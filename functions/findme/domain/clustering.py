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
3. **Manual assignments are kept** (``is_manual_assignment``): a manual face never changes
   person, manual faces of two persons never share a cluster (rule 1), and a cluster left
   unmatched that holds manual faces of person P joins P (the curator said so).
4. **Noise stays unassigned; persons left with no face are removed.**

Scale: the neighbour graph is built with scikit-learn's radius neighbours on L2-normalised
vectors (euclidean radius ``sqrt(2·eps)`` is exactly cosine distance ``eps``, since
``|a - b|² = 2 - 2·cos(a, b)`` for unit vectors), in row chunks, into one compact sparse
matrix; DBSCAN runs on that precomputed graph (core points, connected components with
scipy, border points to their nearest core), giving the clusters of
``sklearn.cluster.DBSCAN(metric="precomputed")`` (a unit test checks it) with far less
memory. Memory grows with the number of neighbour pairs, never with N²;
``benchmarks/cluster.py`` measures 10k-100k faces.

The incremental rule digest applies between clusterings (:func:`assign_incremental`) lives
here too, so both paths share one notion of "same person".

scipy, scikit-learn and faiss are imported inside the functions that use them: the digest
image imports this module for :func:`assign_incremental` and ships none of them.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from findme.errors import InvalidInputError

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

#: Query rows per chunk of the radius search (bounds the transient per-row arrays).
GRAPH_CHUNK_ROWS = 4096

#: Neighbour search for average linkage (:func:`cosine_knn_graph`): exact up to this many
#: faces (faiss ``IndexFlatIP``: 10k faces in 0.3 s), HNSW above.
KNN_EXACT_MAX = 20_000
#: HNSW links per node (faiss ``M``): 32 found 91 % of the exact neighbours above the floor at
#: 100k synthetic faces, 16 only 84 % (``efConstruction`` 64, ``efSearch`` 48).
HNSW_M = 32
#: HNSW build and search breadth (faiss ``efConstruction`` / ``efSearch``), same measurement.
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64

#: Strongest edges per face kept for the constrained split (beside the maximum spanning tree).
SPLIT_TOP_K = 10

#: Most parts of one split cluster that are considered for re-merging (dense k x k linkage).
MAX_REPAIR_PARTS = 1000

#: Largest overlap block solved exactly (rows × columns); bigger blocks are matched greedily.
MAX_EXACT_BLOCK = 4_000_000

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

#: Tie-break weight for persons with a curator-given name: never outweighs one shared face.
NAMED_BONUS = 0.5


def _new_uuid() -> str:
    return str(uuid.uuid4())


# --- results --------------------------------------------------------------------------------
@dataclass(slots=True)
class PersonPlan:
    """One person after clustering.

    Attributes:
        person_id: kept id (matched by overlap or named by a manual face) or a new uuid4.
        face_indices: ``(k,) intp`` indices into the input faces, ascending.
        is_new: ``True`` when the id did not exist before this run.
        merged_from: removed persons most of whose faces now belong to this one.
    """

    person_id: str
    face_indices: NDArray[np.intp]
    is_new: bool
    merged_from: tuple[str, ...] = ()


@dataclass(slots=True)
class ClusteringOutcome:
    """What :func:`cluster_faces` decided, per face and per person.

    Attributes:
        person_ids: final person per input face (``None``: unassigned).
        manual: final ``is_manual_assignment`` per input face.
        persons: every person that has at least one face afterwards.
        removed_person_ids: persons known before that are left without faces.
        faces_processed: faces given.
        persons_created: persons with a new id.
        persons_merged: removed persons whose faces (most of them) went to another person.
        manual_assignments_preserved: manual faces whose person is unchanged.
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
    manual_assignments_preserved: int
    clusters_found: int
    clusters_split: int
    noise_faces: int
    processing_time: float
    neighbour_pairs: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)


# --- vectors and graph ----------------------------------------------------------------------
def normalize_rows(
    embeddings: NDArray[np.floating],
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """L2-normalise rows; rows that are not finite or have zero norm become zeros.

    Args:
        embeddings: ``(N, D)`` float array.

    Returns:
        ``(N, D) float32`` unit rows (zeros where invalid) and the ``(N,) bool`` valid mask.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    finite = np.asarray(np.isfinite(x).all(axis=1), dtype=bool)
    x = np.where(finite[:, None], x, np.float32(0.0))
    norms = np.linalg.norm(x, axis=1)
    valid: NDArray[np.bool_] = finite & (norms > 1e-12)
    out = np.zeros_like(x)
    out[valid] = x[valid] / norms[valid, None]
    return out, valid


def cosine_radius_graph(
    unit: NDArray[np.float32], eps: float, *, chunk_rows: int = GRAPH_CHUNK_ROWS
) -> csr_matrix:
    """Sparse graph of every pair within cosine distance ``eps`` (self included).

    Rows are searched in chunks (scikit-learn's brute-force radius search, itself chunked
    by ``working_memory``) and each chunk is stored compactly at once (``float32``
    distances, ``int32`` columns), so peak memory is about ``8 bytes x pairs`` plus one
    chunk, never ``N x N``.

    Args:
        unit: ``(N, D) float32`` L2-normalised rows (N < 2**31).
        eps: cosine distance ``1 - cos`` in ``(0, 2)``.
        chunk_rows: query rows per chunk.

    Returns:
        ``(N, N)`` CSR matrix of *euclidean* distances ``sqrt(2·(1 - cos))`` (``float32``)
        for the pairs with ``1 - cos <= eps``; absent entries are "not neighbours".
    """
    from scipy.sparse import csr_matrix
    from sklearn.neighbors import NearestNeighbors

    n = unit.shape[0]
    radius = float(np.sqrt(2.0 * eps))
    nn = NearestNeighbors(radius=radius, algorithm="brute", metric="euclidean").fit(unit)
    lengths: list[NDArray[np.int64]] = []
    columns: list[NDArray[np.int32]] = []
    distances: list[NDArray[np.float32]] = []
    for start in range(0, n, chunk_rows):
        dist, ind = nn.radius_neighbors(unit[start : start + chunk_rows], sort_results=False)
        lengths.append(np.fromiter((a.size for a in ind), dtype=np.int64, count=len(ind)))
        columns.append(np.concatenate(ind).astype(np.int32))
        distances.append(np.concatenate(dist).astype(np.float32))
        del dist, ind
    indptr = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.concatenate(lengths), out=indptr[1:])
    indices = np.concatenate(columns) if columns else np.zeros(0, np.int32)
    del columns
    data = np.concatenate(distances) if distances else np.zeros(0, np.float32)
    del distances
    return csr_matrix((data, indices, indptr), shape=(n, n))


def cosine_knn_graph(
    unit: NDArray[np.float32], floor: float, k: int, *, exact_max: int = KNN_EXACT_MAX
) -> csr_matrix:
    """Sparse symmetric graph of each face's ``k`` most similar faces at cosine ``>= floor``.

    Search by faiss (Johnson, Douze & Jégou 2019) on inner products of the unit rows:
    exact (``IndexFlatIP``) up to ``exact_max`` faces; above, approximate with an HNSW index
    (Malkov & Yashunin 2018; ``M`` = :data:`HNSW_M`, ``efConstruction`` =
    :data:`HNSW_EF_CONSTRUCTION`, ``efSearch`` = :data:`HNSW_EF_SEARCH`). At 100k synthetic
    faces HNSW finds about 91 % of the exact neighbours above the floor in a fifth of the
    time, and the average-linkage persons built on it score BCubed precision 0.982 / recall
    0.9996 against 0.980 / 1.0 on the exact graph (``benchmarks/cluster.py``); the linkage
    itself stays exact (cluster vector sums), the graph only says which clusters to compare.

    Args:
        unit: ``(N, D) float32`` L2-normalised rows.
        floor: smallest cosine similarity kept, in ``[-1, 1]``.
        k: neighbours kept per face (self excluded), ``>= 1``.
        exact_max: largest ``N`` searched exactly.

    Returns:
        ``(N, N)`` CSR matrix of cosine similarities (``float32``), symmetric (a pair kept by
        either face), no self pairs. Memory: the index (``N·D`` floats, plus ``2·M`` links
        per face for HNSW) and ``N·(k+1)`` search results.
    """
    import faiss
    from scipy.sparse import coo_matrix

    x = np.ascontiguousarray(unit, dtype=np.float32)
    n, dim = x.shape
    if n < 2:
        return coo_matrix((n, n), dtype=np.float32).tocsr()
    kk = min(k + 1, n)  # the face itself is (nearly always) its own first hit
    index: Any
    if n <= exact_max:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = max(HNSW_EF_SEARCH, kk)
    index.add(x)
    sims, nbrs = index.search(x, kk)
    del index
    rows = np.repeat(np.arange(n, dtype=np.int32), kk)
    cols = nbrs.ravel()
    vals = sims.ravel()
    keep = (cols >= 0) & (cols != rows) & (vals >= floor)
    g = coo_matrix((vals[keep], (rows[keep], cols[keep].astype(np.int32))), shape=(n, n)).tocsr()
    # a face missing from its own hit list (HNSW ties) cost it one neighbour, never a self pair
    return g.maximum(g.T).tocsr()


def dbscan_labels(graph: csr_matrix, min_samples: int) -> NDArray[np.intp]:
    """DBSCAN (Ester et al. 1996) on a precomputed sparse radius graph.

    Core points have at least ``min_samples`` stored neighbours (self included, as in
    scikit-learn); clusters are the connected components of the core points' graph
    (``scipy.sparse.csgraph.connected_components``); a border point joins the cluster of
    its *nearest* core neighbour (DBSCAN leaves that choice to visiting order); the rest
    is noise. Same clusters as ``sklearn.cluster.DBSCAN(metric="precomputed")`` on the
    same graph (tested), at a fraction of its memory (no per-row neighbourhood arrays).

    Args:
        graph: ``(N, N)`` CSR distances from :func:`cosine_radius_graph` (symmetric,
            entries only for pairs within eps, self included).
        min_samples: core-point neighbour count, self included.

    Returns:
        ``(N,) intp`` labels ``0..k-1`` numbered by first point, ``-1`` for noise.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = graph.shape[0]
    labels = np.full(n, -1, dtype=np.intp)
    if n == 0:
        return labels
    degree = np.diff(graph.indptr)
    core = degree >= min_samples
    # the core-core subgraph, as a CSR pattern (int8 ones) over the same rows
    keep = core[graph.indices]
    keep &= np.repeat(core, degree)
    kept_before = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    indptr = kept_before[graph.indptr]
    del kept_before
    core_graph = csr_matrix(
        (np.ones(int(indptr[-1]), dtype=np.int8), graph.indices[keep], indptr), shape=(n, n)
    )
    del keep
    _, component = connected_components(core_graph, directed=False)
    del core_graph
    core_idx = np.flatnonzero(core)
    _, first_core, cluster = np.unique(component[core_idx], return_index=True, return_inverse=True)
    # number clusters by their first core point, for a stable output
    rank = np.empty(first_core.size, dtype=np.intp)
    rank[np.argsort(first_core, kind="stable")] = np.arange(first_core.size)
    labels[core_idx] = rank[cluster.reshape(-1)]
    # border points: the label of the nearest core neighbour
    for i in np.flatnonzero(~core & (degree > 0)).tolist():
        lo, hi = graph.indptr[i], graph.indptr[i + 1]
        cols = graph.indices[lo:hi]
        is_core = core[cols]
        if is_core.any():
            dists = graph.data[lo:hi][is_core]
            labels[i] = labels[cols[is_core][int(np.argmin(dists))]]
    return labels


# --- constraints ---------------------------------------------------------------------------
class _Parts:
    """Union-find over faces whose parts remember their photos and their manual person."""

    def __init__(self, images: Sequence[int], manual: Sequence[int]) -> None:
        n = len(images)
        self.parent = list(range(n))
        self.images: list[set[int]] = [{i} for i in images]
        self.manual = list(manual)

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[a] != root:
            self.parent[a], a = root, self.parent[a]
        return root

    def join(self, a: int, b: int) -> bool:
        """Join the parts of ``a`` and ``b`` unless that breaks a constraint; ``True`` if joined."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ma, mb = self.manual[ra], self.manual[rb]
        if ma >= 0 and mb >= 0 and ma != mb:
            return False
        small, big = (ra, rb) if len(self.images[ra]) < len(self.images[rb]) else (rb, ra)
        if not self.images[small].isdisjoint(self.images[big]):
            return False
        self.parent[small] = big
        self.images[big] |= self.images[small]
        self.manual[big] = max(ma, mb)
        return True


def _candidate_edges(
    sub: csr_matrix, top_k: int
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Edges worth trying in a split: the maximum spanning forest plus each face's top-k.

    Args:
        sub: ``(n, n)`` CSR euclidean distances of one cluster.
        top_k: strongest neighbours kept per face.

    Returns:
        ``(i, j, cos)`` with ``i < j``, sorted by cosine similarity, strongest first.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    coo = sub.tocoo()
    rows, cols = coo.row.astype(np.intp), coo.col.astype(np.intp)
    cos = 1.0 - coo.data.astype(np.float64) ** 2 / 2.0
    off = rows != cols
    rows, cols, cos = rows[off], cols[off], cos[off]
    # top-k per row: sort by row, then by similarity descending, and rank inside the row
    order = np.lexsort((-cos, rows))
    rows_s = rows[order]
    starts = np.searchsorted(rows_s, rows_s, side="left")
    keep = order[(np.arange(order.size) - starts) < top_k]
    # maximum spanning forest: minimum spanning tree of (2 - cos) > 0 (zeros would be dropped)
    weights = coo_matrix((2.0 - cos, (rows, cols)), shape=sub.shape).tocsr()
    mst = minimum_spanning_tree(weights).tocoo()
    ei = np.concatenate([rows[keep], mst.row.astype(np.intp)])
    ej = np.concatenate([cols[keep], mst.col.astype(np.intp)])
    ec = np.concatenate([cos[keep], 2.0 - mst.data])
    lo, hi = np.minimum(ei, ej), np.maximum(ei, ej)
    key = lo.astype(np.int64) * sub.shape[0] + hi
    _, first = np.unique(key, return_index=True)
    lo, hi, ec = lo[first], hi[first], ec[first]
    strongest = np.argsort(-ec, kind="stable")
    return lo[strongest], hi[strongest], ec[strongest]


def split_constrained(
    sub: csr_matrix,
    unit: NDArray[np.float32],
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp],
    *,
    eps: float,
    top_k: int = SPLIT_TOP_K,
) -> NDArray[np.intp]:
    """Split one cluster so no part holds two faces of one photo or two manual persons.

    1. Constrained single linkage: edges are joined strongest first; an edge whose two
       parts share a photo or carry different manual persons is skipped. This cuts two
       identities chained through a few in-between faces at their weakest link.
    2. Repair: when one identity holds two faces of a photo (a mirror, a poster), step 1
       grows a part from each and halves the identity. So parts whose *average* cosine
       similarity (average linkage, UPGMA, Sokal & Michener 1958) is still ``>= 1 - eps``
       — the bar DBSCAN sets for a single pair — are merged again, highest first, and the
       face of each shared photo that is less similar to the merged part is left out
       (never a manual face; parts with different manual persons never merge).

    Args:
        sub: ``(n, n)`` CSR euclidean distances among the cluster's faces.
        unit: ``(n, D) float32`` their L2-normalised embeddings.
        image_codes: ``(n,) intp`` photo of each face (any integer code).
        manual_codes: ``(n,) intp`` manual person code of each face, ``-1`` for automatic.
        eps: the DBSCAN eps (cosine distance).
        top_k: strongest neighbours per face tried beside the maximum spanning forest.

    Returns:
        ``(n,) intp`` part label per face, ``0..parts-1``; a face left out is a part alone.
    """
    n = sub.shape[0]
    parts = _Parts(image_codes.tolist(), manual_codes.tolist())
    ei, ej, _ = _candidate_edges(sub, top_k)
    for a, b in zip(ei.tolist(), ej.tolist(), strict=True):
        parts.join(a, b)
    roots = np.fromiter((parts.find(i) for i in range(n)), dtype=np.intp, count=n)
    _, labels = np.unique(roots, return_inverse=True)
    return _repair(labels.astype(np.intp), unit, image_codes, manual_codes, 1.0 - eps)


def _repair(
    labels: NDArray[np.intp],
    unit: NDArray[np.float32],
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp],
    min_linkage: float,
) -> NDArray[np.intp]:
    """Step 2 of :func:`split_constrained` (average-linkage re-merge, dropping conflicts).

    Keeps a dense ``(k, k)`` matrix of average linkages between the ``k`` parts; skipped
    when ``k > MAX_REPAIR_PARTS`` (then a cluster of that many identities was chained and
    the parts of step 1 stand).
    """
    k = int(labels.max()) + 1 if labels.size else 0
    if k < 2 or k > MAX_REPAIR_PARTS:
        return labels
    x = unit.astype(np.float64)
    members: list[list[int]] = [[] for _ in range(k)]
    for i, lab in enumerate(labels.tolist()):
        members[lab].append(i)
    sums = np.stack([x[m].sum(axis=0) for m in members])
    sizes = np.array([len(m) for m in members], dtype=np.float64)
    manual = np.array(
        [next((int(c) for c in manual_codes[m] if c >= 0), -1) for m in members], dtype=np.intp
    )
    alive = np.ones(k, dtype=bool)

    def linkage_row(a: int) -> NDArray[np.float64]:
        row: NDArray[np.float64] = (sums @ sums[a]) / (sizes * sizes[a])
        clash = (manual >= 0) & (manual[a] >= 0) & (manual != manual[a])
        row[clash | ~alive] = -np.inf
        row[a] = -np.inf
        return row

    link = np.stack([linkage_row(a) for a in range(k)])
    left_out: list[int] = []
    while True:
        a, b = divmod(int(np.argmax(link)), k)
        if link[a, b] < min_linkage:
            break
        merged = members[a] + members[b]
        total = sums[a] + sums[b]
        by_photo: dict[int, list[int]] = {}
        for i in merged:
            by_photo.setdefault(int(image_codes[i]), []).append(i)
        drop: list[int] = []
        for faces in by_photo.values():
            if len(faces) > 1:
                # keep the face most similar to the rest of the merged part; manual faces stay
                faces.sort(key=lambda i: (manual_codes[i] < 0, -float(x[i] @ (total - x[i]))))
                drop.extend(faces[1:])
        if any(manual_codes[i] >= 0 for i in drop):
            link[a, b] = link[b, a] = -np.inf
            continue
        dropped = set(drop)
        members[a] = [i for i in merged if i not in dropped]
        members[b] = []
        sums[a] = x[members[a]].sum(axis=0)
        sizes[a] = len(members[a])
        manual[a] = max(manual[a], manual[b])
        alive[b] = False
        link[b, :] = link[:, b] = -np.inf
        link[a, :] = link[:, a] = linkage_row(a)
        left_out.extend(drop)
    out = np.empty_like(labels)
    kept = [lab for lab in range(k) if alive[lab]]
    for new, lab in enumerate(kept):
        out[members[lab]] = new
    for extra, i in enumerate(left_out):
        out[i] = len(kept) + extra
    return out


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


# --- stable ids -------------------------------------------------------------------------------
def _match_overlap(
    rows: NDArray[np.intp], cols: NDArray[np.intp], weight: NDArray[np.float64]
) -> dict[int, int]:
    """Maximum-weight one-to-one matching of clusters (rows) to old persons (cols).

    Solved exactly (Hungarian) per connected block of the bipartite overlap graph; blocks
    over :data:`MAX_EXACT_BLOCK` cells fall back to greedy by weight.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if rows.size == 0:
        return {}
    r_ids, r_idx = np.unique(rows, return_inverse=True)
    c_ids, c_idx = np.unique(cols, return_inverse=True)
    nr, nc = r_ids.size, c_ids.size
    bip = coo_matrix((np.ones(rows.size), (r_idx, nr + c_idx)), shape=(nr + nc, nr + nc)).tocsr()
    _, block = connected_components(bip, directed=False)
    matched: dict[int, int] = {}
    edge_block = block[r_idx]
    order = np.argsort(edge_block, kind="stable")
    bounds = np.flatnonzero(np.diff(edge_block[order])) + 1
    for sel in np.split(order, bounds):
        br, bc = np.unique(r_idx[sel]), np.unique(c_idx[sel])
        if br.size * bc.size <= MAX_EXACT_BLOCK:
            dense = np.zeros((br.size, bc.size))
            dense[np.searchsorted(br, r_idx[sel]), np.searchsorted(bc, c_idx[sel])] = weight[sel]
            ri, ci = linear_sum_assignment(dense, maximize=True)
            for a, b in zip(ri.tolist(), ci.tolist(), strict=True):
                if dense[a, b] > 0:
                    matched[int(r_ids[br[a]])] = int(c_ids[bc[b]])
        else:
            used: set[int] = set()
            for e in sel[np.argsort(-weight[sel], kind="stable")].tolist():
                r, c = int(r_ids[r_idx[e]]), int(c_ids[c_idx[e]])
                if r not in matched and c not in used:
                    matched[r] = c
                    used.add(c)
    return matched


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
        manual: ``N`` current ``is_manual_assignment`` flags.
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
    timings: dict[str, float] = {}

    unit, valid = normalize_rows(x) if n else (np.zeros((0, 1), np.float32), np.zeros(0, bool))
    _, image_codes_u = np.unique(np.asarray(image_ids, dtype=object), return_inverse=True)
    image_codes = image_codes_u.astype(np.intp).reshape(-1)
    pinned = np.asarray(manual, dtype=bool) & preserve_manual
    pinned_person: list[str | None] = [
        p if m else None for p, m in zip(person_ids, pinned, strict=True)
    ]
    manual_names = sorted({p for p in pinned_person if p is not None})
    manual_code_of = {p: i for i, p in enumerate(manual_names)}
    manual_codes = np.array(
        [manual_code_of[p] if p is not None else -1 for p in pinned_person], dtype=np.intp
    )
    # A face a curator left unassigned on purpose takes no part in clustering.
    clusterable = valid & ~(pinned & (manual_codes < 0))

    if method == "average":
        comp, graph, clusters_found, n_split = _average_linkage_step(
            unit,
            idx=np.flatnonzero(clusterable),
            n=n,
            image_codes=image_codes,
            manual_codes=manual_codes,
            min_samples=min_samples,
            threshold=linkage_threshold,
            timings=timings,
        )
    else:
        comp, graph, clusters_found, n_split = _dbscan_step(
            unit,
            idx=np.flatnonzero(clusterable),
            n=n,
            image_codes=image_codes,
            manual_codes=manual_codes,
            min_samples=min_samples,
            eps=eps,
            timings=timings,
        )

    # 3. stable ids: clusters -> old persons by overlap, then the manual rule, then new ids
    t = time.perf_counter()
    old_names = sorted({p for p in person_ids if p is not None})
    old_code_of = {p: i for i, p in enumerate(old_names)}
    old_codes = np.array(
        [old_code_of[p] if p is not None else -1 for p in person_ids], dtype=np.intp
    )
    has_old = (comp >= 0) & (old_codes >= 0)
    pair_keys, pair_counts = np.unique(
        np.stack([comp[has_old], old_codes[has_old]]), axis=1, return_counts=True
    )
    bonus = np.array(
        [NAMED_BONUS if old_names[c] in named_person_ids else 0.0 for c in pair_keys[1].tolist()]
    )
    matched = _match_overlap(
        pair_keys[0].astype(np.intp), pair_keys[1].astype(np.intp), pair_counts + bonus
    )
    comp_ids = np.unique(comp[comp >= 0]).tolist()
    manual_of_comp: dict[int, str] = {}
    for c, m in zip(
        comp[manual_codes >= 0].tolist(), manual_codes[manual_codes >= 0].tolist(), strict=True
    ):
        if c >= 0:
            manual_of_comp.setdefault(c, manual_names[m])
    comp_person: dict[int, str] = {}
    for c in comp_ids:
        if c in matched:
            comp_person[c] = old_names[matched[c]]
        elif c in manual_of_comp:
            comp_person[c] = manual_of_comp[c]
        else:
            comp_person[c] = new_person_id()

    final: list[str | None] = [comp_person[c] if c >= 0 else None for c in comp.tolist()]
    for i in np.flatnonzero(pinned).tolist():
        final[i] = pinned_person[i]
    final_manual = pinned.tolist()
    timings["match"] = time.perf_counter() - t

    # 4. persons, removals, merges
    known = set(known_person_ids) | set(old_names)
    by_person: dict[str, list[int]] = {}
    for i, p in enumerate(final):
        if p is not None:
            by_person.setdefault(p, []).append(i)
    removed = sorted(known - set(by_person))
    merged_into: dict[str, list[str]] = {}
    removed_set = set(removed)
    for old in removed:
        code = old_code_of.get(old)
        if code is None:
            continue
        went = [final[i] for i in np.flatnonzero(old_codes == code).tolist()]
        tally = Counter(p for p in went if p is not None)
        if tally:
            target, count = tally.most_common(1)[0]
            if count * 2 >= len(went) and target not in removed_set:
                merged_into.setdefault(target, []).append(old)
    persons = [
        PersonPlan(
            person_id=p,
            face_indices=np.asarray(faces, dtype=np.intp),
            is_new=p not in known,
            merged_from=tuple(merged_into.get(p, ())),
        )
        for p, faces in by_person.items()
    ]
    preserved = sum(1 for i in np.flatnonzero(pinned).tolist() if final[i] == person_ids[i])
    return ClusteringOutcome(
        person_ids=final,
        manual=final_manual,
        persons=persons,
        removed_person_ids=removed,
        faces_processed=n,
        persons_created=sum(1 for p in persons if p.is_new),
        persons_merged=sum(len(v) for v in merged_into.values()),
        manual_assignments_preserved=preserved,
        clusters_found=clusters_found,
        clusters_split=n_split,
        noise_faces=sum(1 for p in final if p is None),
        processing_time=time.perf_counter() - t_start,
        neighbour_pairs=int(graph.nnz) if graph is not None else 0,
        timings_s={k: round(v, 4) for k, v in timings.items()},
    )


# --- incremental assignment (digest) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Neighbour:
    """An already-stored face near a new face.

    Attributes:
        face_id: the stored face.
        image_id: its photo.
        person_id: its person, or ``None`` when unassigned.
        similarity: cosine similarity to the new face, in ``[-1, 1]``.
    """

    face_id: str
    image_id: str
    person_id: str | None
    similarity: float


def assign_incremental(
    neighbours: Sequence[Sequence[Neighbour]],
    *,
    image_id: str,
    threshold: float,
    present_person_ids: Collection[str] = (),
    person_sizes: Mapping[str, int] | None = None,
    linkage_threshold: float | None = None,
) -> list[str | None]:
    """Persons for the new faces of one photo, between two clusterings.

    With ``linkage_threshold`` (average linkage, the default clustering), the rule is the
    clustering's own: a face joins the person with the highest *mean* cosine similarity over
    the person's faces, when that mean is ``>= linkage_threshold``: one look-alike face of a
    big person is not enough. Only the neighbours returned are known, so the others count 0
    (a slight under-estimate of the exact UPGMA mean :mod:`findme.domain.linkage` uses), and
    a person larger than the neighbours asked is averaged over that many.

    Rule (docs/compatibility.md, incremental placement): a new face joins the person of its *nearest
    already-assigned face* in the group when their cosine similarity is ``>= threshold``; it never
    joins a person already present in the same photo; otherwise it stays unassigned until the next
    clustering. Faces of the photo itself are never neighbours. When two new faces of the photo want
    the same person, the more similar one gets it (faces are served in order of their best
    similarity). A face whose nearest person is taken stays unassigned rather than falling back to a
    weaker person (a second face of someone is likelier a poster or reflection than a different
    person).

    Args:
        neighbours: per new face, stored faces near it (any order; unassigned ones and faces
            of ``image_id`` are ignored).
        image_id: the photo the new faces belong to.
        threshold: cosine similarity, ``Settings.match_threshold`` (0.40 ≈ FAR 1e-3 on LFW
            for SFace, ARCHITECTURE.md §4).
        present_person_ids: persons that already have a face in this photo.
        person_sizes: faces per person (``Person.face_count``), for the linkage rule.
        linkage_threshold: switch to the linkage rule with this bar (cosine similarity).

    Returns:
        Per new face, in input order, the person to join or ``None``.
    """
    best: list[tuple[float, str] | None] = []
    if linkage_threshold is not None:
        sizes = person_sizes or {}
        for hits in neighbours:
            cap = max(len(hits), 1)
            sums: dict[str, float] = {}
            for hit in hits:
                if hit.person_id is None or hit.image_id == image_id or hit.similarity <= 0:
                    continue
                sums[hit.person_id] = sums.get(hit.person_id, 0.0) + hit.similarity
            means = {p: v / max(1, min(sizes.get(p, 1), cap)) for p, v in sums.items()}
            pick = max(((v, p) for p, v in means.items() if v >= linkage_threshold), default=None)
            best.append(pick)
        return _serve(best, present_person_ids)
    for hits in neighbours:
        top: tuple[float, str] | None = None
        for hit in hits:
            if hit.person_id is None or hit.image_id == image_id or hit.similarity < threshold:
                continue
            if top is None or hit.similarity > top[0]:
                top = (hit.similarity, hit.person_id)
        best.append(top)
    return _serve(best, present_person_ids)


def _serve(
    best: Sequence[tuple[float, str] | None], present_person_ids: Collection[str]
) -> list[str | None]:
    """Give each face its wanted person, most similar first, never a person taken twice."""
    taken = set(present_person_ids)
    result: list[str | None] = [None] * len(best)
    order = sorted(
        (i for i, b in enumerate(best) if b is not None),
        key=lambda i: -best[i][0],  # type: ignore[index]
    )
    for i in order:
        _, person = best[i]  # type: ignore[misc]
        if person not in taken:
            result[i] = person
            taken.add(person)
    return result


def neighbours_from_vectors(
    query: NDArray[np.floating],
    stored: NDArray[np.floating],
    face_ids: Sequence[str],
    image_ids: Sequence[str],
    person_ids: Sequence[str | None],
    *,
    limit: int = 50,
) -> list[list[Neighbour]]:
    """Nearest stored faces of each query face by cosine similarity (brute force, for tests
    and small groups; the service asks the vector index instead).

    Args:
        query: ``(Q, D)`` new face embeddings.
        stored: ``(M, D)`` stored face embeddings.
        face_ids, image_ids, person_ids: ``M`` payloads of ``stored``.
        limit: neighbours kept per query face.

    Returns:
        Per query face, up to ``limit`` :class:`Neighbour`, most similar first.
    """
    q, _ = normalize_rows(np.atleast_2d(query))
    s, _ = normalize_rows(np.atleast_2d(stored))
    if s.shape[0] == 0:
        return [[] for _ in range(q.shape[0])]
    sims = q @ s.T
    out: list[list[Neighbour]] = []
    for row in sims:
        top = np.argsort(-row, kind="stable")[:limit]
        out.append(
            [
                Neighbour(face_ids[j], image_ids[j], person_ids[j], float(row[j]))
                for j in top.tolist()
            ]
        )
    return out
