"""Engine fixtures: every faces-dev photo analysed once per session with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest
from findme.adapters.onnx_engine import OnnxFaceEngine
from findme.domain.faces import ImageAnalysis


@pytest.fixture(scope="session")
def analyses(face_engine: OnnxFaceEngine, faces_dev: Path) -> dict[str, ImageAnalysis]:
    """file name -> analysis (embeddings, quality, attributes, crops) of every faces-dev photo."""
    return {
        path.name: face_engine.analyze(
            path.read_bytes(), embed=True, quality=True, attributes=True, crops=True
        )
        for path in sorted((faces_dev / "images").iterdir())
    }
