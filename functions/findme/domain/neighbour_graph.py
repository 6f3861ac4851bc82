"""The sparse cosine neighbour graph faces are clustered on, and DBSCAN over it.

Scale: the radius graph (:func:`cosine_radius_graph`, DBSCAN's) is built with scikit-learn's
radius neighbours on L2-normalised vectors (euclidean radius ``sqrt(2·eps)`` is exactly
cosine distance ``eps``, since ``|a - b|² = 2 - 2·cos(a, b)`` for unit vectors), in row
chunks, into one compact sparse matrix; DBSCAN runs on that precomputed graph (core points,
connected components with scipy, border points to their nearest core), giving the clusters
of ``sklearn.cluster.DBSCAN(metric="precomputed")`` (a unit test checks it) with far less
memory. The k-nearest-neighbour graph of average linkage (:func:`cosine_knn_graph`) comes
from faiss (exact up to :data:`KNN_EXACT_MAX` faces, HNSW above). Memory grows with the
number of neighbour pairs, never with N²; ``benchmarks/cluster.py`` measures 10k-100k faces.

scipy, scikit-learn and faiss are imported inside the functions that use them: the digest
image imports :func:`normalize_rows` (through :mod:`findme.domain.incremental`) and ships
none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

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
