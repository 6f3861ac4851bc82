"""The cluster tests' stores: face items and vectors written together (fakes: tests/fakes.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fakes import fake_face
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.config import Settings
from findme.domain.faces import face_id_for
from findme.domain.records import Face
from findme.ports import FaceVector
from numpy.typing import NDArray


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
            face = fake_face(
                face_id_for(image_id, index),
                image_id,
                group_id,
                index,
                bbox={"x": 0, "y": 0, "w": 100, "h": 100},
                blur_score=0.8,
                brightness_score=0.7,
                overall_quality=qualities[i] if qualities else 0.8,
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
