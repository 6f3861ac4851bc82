"""The faces-dev faces as the cluster integration tests see them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class RealFaces:
    """Every detected face of faces-dev, in file then detection order.

    Attributes:
        files: photo file name per face.
        indices: detection index per face (0 = highest detector confidence).
        embeddings: ``(N, 128) float32`` L2-normalised SFace embeddings.
        qualities: ``overall_quality`` per face.
        truth: identity of the labelled face of a labelled photo (its face 0: the portrait
            subject), ``None`` for every other face (background people, group photos).
    """

    files: list[str]
    indices: list[int]
    embeddings: NDArray[np.float32]
    qualities: list[float]
    truth: list[str | None]
