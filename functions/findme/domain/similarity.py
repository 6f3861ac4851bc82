"""Cosine similarity of face embeddings (pure numpy).

Embeddings are ``(128,) float32`` L2-normalised, so cosine similarity is a dot product and
cosine distance (DBSCAN's metric) is ``1 - similarity``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def l2_normalize(vectors: NDArray[np.floating], eps: float = 1e-12) -> NDArray[np.float32]:
    """Rows scaled to unit L2 norm: ``(N, D)`` or ``(D,)`` -> same shape, float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    normalised: NDArray[np.float32] = (v / np.maximum(norms, eps)).astype(np.float32)
    return normalised


def cosine_similarity(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """Cosine similarity of two vectors ``(D,)``, in ``[-1, 1]`` (normalises them first)."""
    return float(np.dot(l2_normalize(a), l2_normalize(b)))


def cosine_similarity_matrix(
    a: NDArray[np.floating], b: NDArray[np.floating] | None = None
) -> NDArray[np.float32]:
    """All-pairs cosine similarity: ``(N, D)`` x ``(M, D)`` -> ``(N, M) float32``.

    ``b`` defaults to ``a`` (the ``(N, N)`` self-similarity matrix).
    """
    an = l2_normalize(np.atleast_2d(a))
    bn = an if b is None else l2_normalize(np.atleast_2d(b))
    return (an @ bn.T).astype(np.float32)
