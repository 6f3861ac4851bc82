"""Real SFace embeddings of every faces-dev face, computed once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from faces_dev_faces import RealFaces
from findme.adapters.onnx_engine import OnnxFaceEngine
from numpy.typing import NDArray


@pytest.fixture(scope="session")
def real_faces(face_engine: OnnxFaceEngine, faces_dev: Path, labels: dict[str, str]) -> RealFaces:
    """Every faces-dev face analysed once (embedding and quality, no attributes, no crops)."""
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
