"""Unit-tier fixtures for the curation services (see ``curation_world``).

One moto + Qdrant :memory: world per package run (tables created once); tests isolate by ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from curation_world import World
from findme import tables
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from moto import mock_aws


@pytest.fixture(scope="package")
def world() -> Iterator[World]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings = Settings(
            bucket="curation-test",
            aws_region="us-east-1",
            table_prefix="cur-",
            qdrant_path=":memory:",
        )
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for spec in tables.TABLES:
            ddb.create_table(**tables.create_table_kwargs(spec, settings.table_name(spec.name)))
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=settings.bucket)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        yield World(
            settings=settings,
            metadata=DynamoMetadataStore(settings),
            vectors=vectors,
            store=S3ObjectStore(settings),
        )
        vectors.close()
