"""Real adapters for the cluster services: DynamoDB on moto (in-process) and Qdrant ``:memory:``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.provision import create_tables
from findme.adapters.qdrant import QdrantVectorIndex
from findme.config import Settings
from findme.domain.faces import face_id_for
from findme.domain.records import Face, Group
from findme.ports import FaceVector
from moto import mock_aws
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


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Empty tables on moto and an empty in-memory Qdrant collection, per test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        settings = Settings(stage="test", qdrant_path=":memory:", table_prefix="clu-")
        create_tables(settings)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        try:
            yield Stores(settings, DynamoMetadataStore(settings), vectors)
        finally:
            vectors.close()


@pytest.fixture
def group_id(stores: Stores) -> str:
    gid = str(uuid.uuid4())
    stores.metadata.put_group(Group(group_id=gid, name="event", owner_id="owner"))
    return gid
