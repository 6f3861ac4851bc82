"""Synthetic face embeddings for clustering tests and benchmarks (no photos, no models).

Identities are random unit centres in 128-d sharing a common direction, so two identities
have cosine similarity about ``N(0.13, 0.09²)``; a face is ``normalise(centre + s·z/sqrt(D))``
with ``z ~ N(0, I)`` and a per-face spread ``s``, so two faces of one identity have cosine
similarity near ``1/sqrt((1 + s1²)(1 + s2²))``. The defaults match SFace on faces-dev
(measured: genuine pairs 0.74 ± 0.085, impostor pairs 0.127 ± 0.088; synthetic: genuine
about 0.73 ± 0.06, impostor 0.13 ± 0.09). Identity sizes follow a Zipf-like law (a few
people in many photos, most in a few); background strangers are noise faces with identity
``-1``. Faces are packed into photos of 1-``max_faces_per_photo`` faces, never two of one
identity in one photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from findme.domain.faces import EMBEDDING_DIM


@dataclass(frozen=True, slots=True)
class SyntheticFaces:
    """Attributes:
    embeddings: ``(N, D) float32`` L2-normalised.
    identities: ``(N,) intp`` true identity, ``-1`` for a stranger seen once.
    image_ids: ``N`` photo ids (``"img-<k>"``).
    """

    embeddings: NDArray[np.float32]
    identities: NDArray[np.intp]
    image_ids: list[str]


def synthetic_faces(
    n_faces: int,
    *,
    mean_faces_per_identity: float = 20.0,
    noise_fraction: float = 0.1,
    spread: tuple[float, float] = (0.4, 0.8),
    common: float = 0.45,
    max_faces_per_photo: int = 4,
    dim: int = EMBEDDING_DIM,
    seed: int = 0,
) -> SyntheticFaces:
    """Faces of synthetic identities plus strangers, packed into photos.

    Args:
        n_faces: total faces ``N``.
        mean_faces_per_identity: average faces per identity (sizes are Zipf-like, >= 2).
        noise_fraction: share of faces that are strangers seen once.
        spread: per-face spread ``s`` drawn uniformly from this range (see module docstring).
        common: weight of the direction all faces share (impostor mean ``common² / (1 + common²)``).
        max_faces_per_photo: photos hold 1..this many faces.
        dim: embedding dimension.
        seed: random seed (same seed, same faces).

    Returns:
        A :class:`SyntheticFaces`.
    """
    rng = np.random.default_rng(seed)
    n_noise = round(n_faces * noise_fraction)
    n_known = n_faces - n_noise
    n_ids = max(1, round(n_known / mean_faces_per_identity))
    weights = 1.0 / np.arange(1, n_ids + 1) ** 0.8
    sizes = 2 + rng.multinomial(max(0, n_known - 2 * n_ids), weights / weights.sum())
    identities = np.concatenate([np.repeat(np.arange(n_ids), sizes), np.full(n_noise, -1)])
    identities = identities[:n_faces]
    rng.shuffle(identities)

    shared = rng.standard_normal(dim)
    shared *= common / np.linalg.norm(shared)

    def unit_rows(k: int) -> NDArray[np.float64]:
        r: NDArray[np.float64] = rng.standard_normal((k, dim)) / np.sqrt(dim) + shared
        r /= np.linalg.norm(r, axis=1, keepdims=True)
        return r

    centres = unit_rows(n_ids)
    s = rng.uniform(spread[0], spread[1], size=(identities.size, 1))
    z = rng.standard_normal((identities.size, dim)) / np.sqrt(dim)
    base = np.where(
        identities[:, None] >= 0,
        centres[np.maximum(identities, 0)],
        unit_rows(identities.size),
    )
    x = base + np.where(identities[:, None] >= 0, s * z, 0.0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    image_ids: list[str] = []
    photo, in_photo, left = 0, set[int](), int(rng.integers(1, max_faces_per_photo + 1))
    for ident in identities.tolist():
        if left == 0 or (ident >= 0 and ident in in_photo):
            photo, in_photo = photo + 1, set()
            left = int(rng.integers(1, max_faces_per_photo + 1))
        image_ids.append(f"img-{photo}")
        in_photo.add(ident)
        left -= 1
    return SyntheticFaces(
        embeddings=x.astype(np.float32), identities=identities.astype(np.intp), image_ids=image_ids
    )
