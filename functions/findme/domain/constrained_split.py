"""The constrained split: a DBSCAN cluster that breaks a rule is cut apart, then mended.

A cluster holding two faces of the same photo (or manual faces of two different persons) is
split by *constrained single linkage*: its strongest edges are joined first (Kruskal order,
as single-linkage clustering, Gower & Ross 1969), and an edge is skipped when joining its
two parts would put two faces of one photo, or two different manual persons, together.
Parts of one identity cut apart only because it shows twice in a photo (a mirror, a poster)
are then re-joined by average linkage (:func:`_repair`), leaving the weaker duplicate out.
Used by :func:`findme.domain.clustering.cluster_faces` (``method="dbscan"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

#: Strongest edges per face kept for the constrained split (beside the maximum spanning tree).
SPLIT_TOP_K = 10

#: Most parts of one split cluster that are considered for re-merging (dense k x k linkage).
MAX_REPAIR_PARTS = 1000


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
