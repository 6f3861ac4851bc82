"""Unit-tier data fixtures: moto in-process (``mock_aws``) and Qdrant ``:memory:``.

``aws`` activates ``mock_aws`` with dummy credentials and provisions the tables, bucket, queues
and JWT secret exactly as the local stack does (:func:`findme.local.provision.provision`); it
yields the matching :class:`Settings`.

Module scope, not package scope (outside a Python package, pytest keeps a package-scoped
fixture for the whole session): moto's backends are process globals, and a ``mock_aws`` that
is already active makes a nested one keep (and share) its state. So the mock is open only
around the test modules that ask for it (pytest-randomly keeps a module's tests together, and
a module's fixtures end when it does); a module that opens its own ``mock_aws``
(``test_moto_persistence``, ``test_table_spec``) starts from moto's empty state in any order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.local.provision import provision
from moto import mock_aws


@pytest.fixture(scope="module")
def aws() -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            mp.setenv(key, value)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        with mock_aws():
            settings = Settings(
                stage="test",
                aws_region="us-east-1",
                aws_endpoint_url=None,
                dynamodb_endpoint_url=None,
                bucket="findme-unit",
                table_prefix="unit-",
                qdrant_path=":memory:",
            )
            provision(settings)
            yield settings


@pytest.fixture(scope="module")
def store(aws: Settings) -> DynamoMetadataStore:
    return DynamoMetadataStore(aws)


@pytest.fixture(scope="module")
def objects(aws: Settings) -> S3ObjectStore:
    return S3ObjectStore(aws, part_bytes=5 * 1024 * 1024)


@pytest.fixture
def vectors(aws: Settings) -> Iterator[QdrantVectorIndex]:
    index = QdrantVectorIndex(aws)
    index.ensure_collection()
    yield index
    index.close()
