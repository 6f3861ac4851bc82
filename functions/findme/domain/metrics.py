"""Clustering quality: BCubed precision, recall and F.

BCubed (Bagga & Baldwin, "Entity-based cross-document coreferencing using the vector space
model", COLING-ACL 1998) scores every item: precision is the share of the item's cluster
that has the item's true identity, recall the share of the item's identity that is in the
item's cluster; both are averaged over items and combined as F = 2PR / (P + R). Amigó,
Gonzalo, Artiles & Verdejo ("A comparison of extrinsic clustering evaluation metrics based
on formal constraints", Information Retrieval 12, 2009) show it is the only common metric
that satisfies all four of their constraints (homogeneity, completeness, rag bag, size vs
quantity), which is why FindMe reports it.

Unassigned faces (``None`` or ``-1`` predictions) count as singleton clusters, and
strangers (``None`` or ``-1`` truths) as singleton identities, so leaving a face
unassigned costs recall, never precision.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from findme.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class BCubed:
    """BCubed scores in ``[0, 1]`` over ``n`` items."""

    precision: float
    recall: float
    f: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f": round(self.f, 4),
            "n": self.n,
        }


def _codes(values: Sequence[Hashable | None]) -> np.ndarray:
    """Integer codes; ``None`` and ``-1`` become fresh singleton codes."""
    seen: dict[Hashable, int] = {}
    out = np.empty(len(values), dtype=np.int64)
    singles = 0
    for i, v in enumerate(values):
        if v is None or (isinstance(v, int | np.integer) and int(v) == -1):
            singles += 1
            out[i] = -singles
        else:
            out[i] = seen.setdefault(v, len(seen))
    return out


def bcubed(truth: Sequence[Hashable | None], predicted: Sequence[Hashable | None]) -> BCubed:
    """BCubed precision, recall and F of a clustering against the true identities.

    Args:
        truth: ``N`` true identities (``None`` / ``-1``: a stranger, its own class).
        predicted: ``N`` cluster labels (``None`` / ``-1``: unassigned, its own cluster).

    Returns:
        A :class:`BCubed` (all 1.0 for ``N = 0``).

    Raises:
        InvalidInputError: lengths differ.
    """
    if len(truth) != len(predicted):
        raise InvalidInputError("truth and predicted must have the same length")
    n = len(truth)
    if n == 0:
        return BCubed(1.0, 1.0, 1.0, 0)
    t, p = _codes(truth), _codes(predicted)
    _, t_idx, t_size = np.unique(t, return_inverse=True, return_counts=True)
    _, p_idx, p_size = np.unique(p, return_inverse=True, return_counts=True)
    pairs, pair_idx, both = np.unique(
        np.stack([t_idx, p_idx]), axis=1, return_inverse=True, return_counts=True
    )
    # every item of a (truth, cluster) cell has the same per-item precision and recall
    per_item_both = both[pair_idx.reshape(-1)].astype(np.float64)
    precision = float(np.mean(per_item_both / p_size[p_idx]))
    recall = float(np.mean(per_item_both / t_size[t_idx]))
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    _ = pairs
    return BCubed(precision, recall, f, n)
