"""Real SFace embeddings of every faces-dev face, computed once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from findme.adapters.onnx_engine import OnnxFaceEngine
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


@pytest.fixture(scope="session")
def real_faces(face_engine: OnnxFaceEngine, faces_dev: Path, labels: dict[str, str]) -> RealFaces:
    files: list[str] = []
    indices: list[int] = []
    vectors: list[NDArray[np.float32]] = []
    qualities: list[float] = []
    for path in sorted((faces_dev / "images").iterdir()):
        analysis = face_engine.analyze(
            path.read_bytes(), embed=True, quality=True, attributes=False, crops=False
        )
        for face in analysis.faces:
            assert face.embedding is not None
            files.append(path.name)
            indices.append(face.index)
            vectors.append(face.embedding)
            qualities.append(face.quality.overall_quality if face.quality else 0.0)
    truth = [labels.get(f) if i == 0 else None for f, i in zip(files, indices, strict=True)]
    return RealFaces(files, indices, np.stack(vectors).astype(np.float32), qualities, truth)
