"""Helpers for the cluster tests: synthetic embeddings and readable photo ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.config import Settings
from findme.domain.faces import face_id_for
from findme.domain.records import Face
from findme.ports import FaceVector
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


@dataclass
class Stores:
    settings: Settings
    metadata: DynamoMetadataStore
    vectors: QdrantVectorIndex

    def add_faces(
        self,
        group_id: str,
        embeddings: NDArray[np.floating],
        image_ids: list[str],
        *,
        qualities: list[float] | None = None,
    ) -> list[Face]:
        """Store face items and vectors (face ``k`` of a photo gets ``face_id_for(photo, k)``)."""
        per_photo: dict[str, int] = {}
        faces: list[Face] = []
        vecs: list[FaceVector] = []
        for i, (vector, image_id) in enumerate(zip(embeddings, image_ids, strict=True)):
            index = per_photo.get(image_id, 0)
            per_photo[image_id] = index + 1
            face = Face(
                face_id=face_id_for(image_id, index),
                image_id=image_id,
                group_id=group_id,
                face_index=index,
                bbox={"x": 0, "y": 0, "w": 100, "h": 100},
                landmarks={},
                confidence=0.95,
                blur_score=0.8,
                brightness_score=0.7,
                overall_quality=qualities[i] if qualities else 0.8,
                quality_grade="B",
            )
            faces.append(face)
            vecs.append(
                FaceVector(
                    face_id=face.face_id,
                    group_id=group_id,
                    image_id=image_id,
                    vector=np.asarray(vector, dtype=np.float32),
                )
            )
        self.metadata.put_faces(faces)
        self.vectors.upsert(vecs)
        return faces
