"""Real adapters for the cluster services: DynamoDB on moto (in-process) and Qdrant ``:memory:``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cluster_helpers import Stores
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.config import Settings
from findme.domain.records import Group
from findme.local.provision import create_tables
from moto import mock_aws


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Empty tables on moto and an empty in-memory Qdrant collection, per test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        # A prefix of its own per test: another package may keep one mock_aws open around us.
        settings = Settings(
            stage="test", qdrant_path=":memory:", table_prefix=f"clu-{uuid.uuid4().hex[:8]}-"
        )
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
