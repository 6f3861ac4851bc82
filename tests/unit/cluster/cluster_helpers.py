"""Helpers for the cluster tests: synthetic embeddings and readable photo ids."""

from __future__ import annotations

import uuid

import numpy as np
from numpy.typing import NDArray

D = 128


def unit(v: NDArray[np.floating]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.asarray(v, dtype=np.float64) / np.linalg.norm(v)
    return out


def blob(
    rng: np.random.Generator, centre: NDArray[np.floating], k: int, spread: float = 0.3
) -> NDArray[np.float64]:
    """``k`` faces around ``centre``: pairwise cosine similarity about ``1 / (1 + spread²)``."""
    x = centre + spread * rng.standard_normal((k, D)) / np.sqrt(D)
    out: NDArray[np.float64] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def photo(name: str) -> str:
    """A stable UUID image id for a readable photo name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
