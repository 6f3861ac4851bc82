"""Unit-tier fixtures for the curation services (see ``curation_world``).

One moto + Qdrant :memory: world per package run (tables created once); tests isolate by ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from curation_world import World
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.local.provision import create_bucket, create_tables
from moto import mock_aws


@pytest.fixture(scope="package")
def world() -> Iterator[World]:
    with mock_aws():
        settings = Settings(
            bucket="curation-test",
            aws_region="us-east-1",
            table_prefix="cur-",
            qdrant_path=":memory:",
        )
        create_tables(settings)
        create_bucket(settings, digest_queue_arn=None)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        yield World(
            settings=settings,
            metadata=DynamoMetadataStore(settings),
            vectors=vectors,
            store=S3ObjectStore(settings),
        )
        vectors.close()
