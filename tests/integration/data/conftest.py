"""Integration-tier data fixtures over the session's local stack (``local_stack``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings


@pytest.fixture
def store(stack_settings: Settings) -> DynamoMetadataStore:
    return DynamoMetadataStore(stack_settings)


@pytest.fixture
def objects(stack_settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(stack_settings, part_bytes=5 * 1024 * 1024)


@pytest.fixture
def vectors(stack_settings: Settings) -> Iterator[QdrantVectorIndex]:
    """Qdrant local mode on its own in-memory collection (the stack's path is wiring's)."""
    index = QdrantVectorIndex(stack_settings.model_copy(update={"qdrant_path": ":memory:"}))
    index.ensure_collection()
    yield index
    index.close()
