"""Average-linkage agglomerative clustering on a sparse cosine-similarity graph, with cannot-links.

Why not DBSCAN alone: with many one-photo guests in a group, DBSCAN's single-linkage chains
(a core face within ``eps`` of a look-alike is enough) join distinct people through their
look-alikes. Average linkage (UPGMA, Sokal & Michener 1958) merges two clusters only when
the *mean* similarity over all their cross pairs is high, so one look-alike pair cannot join
two people's photos (on ``../shared/data/event-dev`` with 1,000 guests: README "Matching").

Scale: the dense algorithm needs the N×N matrix. Here the linkage is exact without it: for
unit vectors the mean cosine similarity over all cross pairs of clusters ``A`` and ``B`` is
``(ΣA · ΣB) / (|A|·|B|)``, the dot product of the clusters' vector sums, so each cluster
keeps one sum vector. Which clusters are compared comes from a sparse neighbour graph
(each face's strongest neighbours): two clusters with no edge between them are never
merged (their faces are not near each other). Clusters are merged best-first (a heap with
lazy invalidation by cluster version) while the best linkage is ``>= threshold``; memory
and time grow with N·D and the number of graph edges, not N².

Cannot-links: two clusters holding faces of the same photo, or manual faces of two different
persons, are never merged (the constraint is checked at each merge, so it holds for the result).
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

from findme.errors import InvalidInputError


# Long on purpose: one priority-queue loop; split, its heap and cannot-link invariants would cross
# function boundaries.
def average_linkage_labels(
    unit: NDArray[np.floating],
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    *,
    threshold: float,
    image_codes: NDArray[np.intp],
    manual_codes: NDArray[np.intp] | None = None,
) -> NDArray[np.intp]:
    """Cluster labels from best-first average linkage (UPGMA) on cosine similarity.

    Args:
        unit: ``(n, D)`` L2-normalised embeddings.
        rows, cols: ``(E,)`` endpoints of the neighbour graph's edges: only clusters joined
            by an edge are ever compared (self-loops ignored).
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
    sums = np.array(unit, dtype=np.float64)  # per cluster: the sum of its unit vectors
    n = sums.shape[0]
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError("threshold must be in (0, 1] (cosine similarity)")
    if len(rows) != len(cols) or len(image_codes) != n:
        raise InvalidInputError("rows and cols (E,), unit (n, D) and image_codes (n,) required")
    manual = np.full(n, -1, dtype=np.intp) if manual_codes is None else manual_codes
    size = np.ones(n, dtype=np.float64)
    parent = list(range(n))
    version = [0] * n
    alive = [True] * n
    adj = _adjacency(n, np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp))
    photos: list[set[int]] = [{int(c)} for c in np.asarray(image_codes).tolist()]
    pinned: list[int] = [int(m) for m in np.asarray(manual).tolist()]
    blocked: list[set[int]] = [set() for _ in range(n)]
    heap: list[tuple[float, int, int, int, int]] = []

    def push_best(i: int) -> None:
        """Push cluster ``i``'s most similar neighbour (one live entry per cluster)."""
        candidates = adj[i] - blocked[i] if blocked[i] else adj[i]
        if not candidates:
            return
        others = np.fromiter(candidates, dtype=np.intp, count=len(candidates))
        # UPGMA's mean pairwise cosine similarity, exactly: (sum_A . sum_B) / (|A| |B|)
        linkage = (sums[others] @ sums[i]) / (size[others] * size[i])
        best = int(np.argmax(linkage))
        if linkage[best] >= threshold:
            k = int(others[best])
            heapq.heappush(heap, (-float(linkage[best]), i, k, version[i], version[k]))

    for i in range(n):
        push_best(i)
    while heap:
        _, i, j, vi, vj = heapq.heappop(heap)
        if not alive[i] or version[i] != vi:
            continue  # i changed since: its newer entry is in the heap
        if not alive[j] or version[j] != vj:
            push_best(i)  # the partner changed: find i's best again
            continue
        if not photos[i].isdisjoint(photos[j]) or (
            pinned[i] >= 0 and pinned[j] >= 0 and pinned[i] != pinned[j]
        ):
            # cannot-link (one photo, or two manual persons): both sets only grow
            blocked[i].add(j)
            blocked[j].add(i)
            push_best(i)
            continue
        if size[i] < size[j]:
            i, j = j, i  # merge the smaller cluster j into i
        alive[j] = False
        parent[j] = i
        version[i] += 1
        size[i] += size[j]
        sums[i] += sums[j]
        photos[i] |= photos[j]
        photos[j] = set()
        if pinned[i] < 0:
            pinned[i] = pinned[j]
        for k in adj[j]:
            adj[k].discard(j)
            adj[k].add(i)
        adj[i] |= adj[j]
        adj[i].discard(i)
        adj[i].discard(j)
        adj[j] = set()
        for k in blocked[j]:
            blocked[k].discard(j)
            blocked[k].add(i)
            blocked[i].add(k)
        blocked[j] = set()
        push_best(i)
    root = np.asarray(parent, dtype=np.intp)
    while True:  # path halving over the merge forest, vectorised
        up = root[root]
        if np.array_equal(up, root):
            break
        root = up
    _, labels = np.unique(root, return_inverse=True)
    return labels.astype(np.intp).reshape(-1)


def _adjacency(n: int, rows: NDArray[np.intp], cols: NDArray[np.intp]) -> list[set[int]]:
    """Each node's neighbour set (both directions, no self-loops), built row by row.

    The ints in the sets are shared objects (one per node), and no list of all ``E`` edges is
    ever made: at 100k faces and 4.7M edges this keeps the sets near 250 MB.
    """
    keep = rows != cols
    a = np.concatenate([rows[keep], cols[keep]])
    b = np.concatenate([cols[keep], rows[keep]])
    order = np.argsort(a, kind="stable")
    b = b[order]
    bounds = np.searchsorted(a[order], np.arange(n + 1)).tolist()
    del a, order
    node = list(range(n))
    get = node.__getitem__
    return [set(map(get, b[bounds[i] : bounds[i + 1]].tolist())) for i in range(n)]
