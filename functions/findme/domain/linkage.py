"""Average-linkage agglomerative clustering on a sparse cosine-similarity graph, with cannot-links.

Why not DBSCAN alone: with many one-photo guests in a group, DBSCAN's single-linkage chains
(a core face within ``eps`` of a look-alike is enough) join distinct people through their
look-alikes. Average linkage (UPGMA, Sokal & Michener 1958) merges two clusters only when
the *mean* similarity over all their cross pairs is high, so one look-alike pair cannot join
two people's photos (on ``../shared/data/event-dev`` with 1,000 guests: README "Matching").

Scale: the dense algorithm needs the N×N matrix. Here only the pairs of the sparse radius
graph (cosine similarity ≥ ``floor``) are known and every other pair counts as similarity 0
(true impostor pairs of SFace average about 0.0-0.1), so the linkage of clusters ``A`` and
``B`` is ``S(A, B) / (|A|·|B|)`` with ``S`` the sum of known cross similarities: a slight
under-estimate of UPGMA's mean, never an over-estimate for pairs below ``floor``. Clusters
are merged best-first (a heap with lazy invalidation by cluster version) while the best
linkage is ``>= threshold``; memory and time grow with the number of graph edges, not N².

Cannot-links: two clusters holding faces of the same photo, or manual faces of two different
persons, are never merged (the constraint is checked at each merge, so it holds for the result).
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

from findme.errors import InvalidInputError


def average_linkage_labels(
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    similarities: NDArray[np.floating],
    n: int,
    *,
    threshold: float,
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp] | None = None,
) -> NDArray[np.intp]:
    """Cluster labels from best-first average linkage over a sparse similarity graph.

    Args:
        rows, cols: ``(E,)`` endpoints of the graph's edges (each undirected pair once or
            twice; self-loops ignored).
        similarities: ``(E,)`` cosine similarity of each edge, in ``[-1, 1]``; pairs absent
            from the graph count as 0.
        n: number of faces.
        threshold: smallest average cosine similarity at which two clusters merge, in
            ``(0, 1]`` (``Settings.cluster_linkage_threshold``).
        image_codes: ``(n,)`` photo of each face: faces of one photo never share a cluster.
        manual_codes: ``(n,)`` manual person of each face (``-1``: none): faces pinned to two
            different persons never share a cluster.

    Returns:
        ``(n,) intp`` labels ``0..k-1`` (every face has one; singletons included).

    Raises:
        InvalidInputError: ``threshold`` outside ``(0, 1]`` or arrays of other lengths.
    """
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError("threshold must be in (0, 1] (cosine similarity)")
    if len(rows) != len(cols) or len(rows) != len(similarities) or len(image_codes) != n:
        raise InvalidInputError("rows, cols and similarities (E,), image_codes (n,) required")
    manual = np.full(n, -1, dtype=np.intp) if manual_codes is None else manual_codes
    # undirected, one entry per pair (the larger similarity if given twice)
    a = np.minimum(rows, cols).astype(np.int64)
    b = np.maximum(rows, cols).astype(np.int64)
    keep = a != b
    a, b, s = a[keep], b[keep], np.asarray(similarities, dtype=np.float64)[keep]
    if a.size:
        key = a * n + b
        order = np.lexsort((-s, key))
        key, s = key[order], s[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, s = key[first], s[first]
        a, b = key // n, key % n
    # clusters: sizes, neighbour sums, photo sets, manual person
    size = [1] * n
    parent = list(range(n))
    version = [0] * n
    alive = [True] * n
    adj: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j, w in zip(a.tolist(), b.tolist(), s.tolist(), strict=True):
        adj[i][j] = w
        adj[j][i] = w
    photos: list[set[int]] = [{int(c)} for c in np.asarray(image_codes).tolist()]
    pinned: list[int] = [int(m) for m in np.asarray(manual).tolist()]
    heap: list[tuple[float, int, int, int, int]] = [
        (-w, i, j, 0, 0)
        for i, j, w in zip(a.tolist(), b.tolist(), s.tolist(), strict=True)
        if w >= threshold
    ]
    heapq.heapify(heap)
    while heap:
        _, i, j, vi, vj = heapq.heappop(heap)
        if not (alive[i] and alive[j]) or version[i] != vi or version[j] != vj:
            continue
        if not photos[i].isdisjoint(photos[j]):
            continue  # cannot-link: one photo; both sets only grow, so it stays blocked
        if pinned[i] >= 0 and pinned[j] >= 0 and pinned[i] != pinned[j]:
            continue
        if size[i] < size[j]:
            i, j = j, i  # merge the smaller cluster j into i
        alive[j] = False
        parent[j] = i
        version[i] += 1
        size[i] += size[j]
        photos[i] |= photos[j]
        photos[j] = set()
        if pinned[i] < 0:
            pinned[i] = pinned[j]
        ai, aj = adj[i], adj[j]
        ai.pop(j, None)
        for k, w in aj.items():
            if k == i:
                continue
            ai[k] = ai.get(k, 0.0) + w
            ak = adj[k]
            ak.pop(j, None)
            ak[i] = ai[k]
        adj[j] = {}
        for k, total in ai.items():
            linkage = total / (size[i] * size[k])
            if linkage >= threshold:
                heapq.heappush(heap, (-linkage, i, k, version[i], version[k]))
    root = np.asarray(parent, dtype=np.intp)
    while True:  # path halving over the merge forest, vectorised
        up = root[root]
        if np.array_equal(up, root):
            break
        root = up
    _, labels = np.unique(root, return_inverse=True)
    return labels.astype(np.intp).reshape(-1)
