"""Real adapters for the cluster services: DynamoDB on moto (in-process) and Qdrant ``:memory:``
(fakes and helpers: tests/fakes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fakes import World, moto_world
from findme.config import Settings
from findme.domain.records import Group


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Empty tables on moto and an empty in-memory Qdrant collection, per test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings(
        stage="test", qdrant_path=":memory:", table_prefix=f"clu-{uuid.uuid4().hex[:8]}-"
    )
    with moto_world(settings, bucket=False) as world:
        yield world


@pytest.fixture
def group_id(stores: World) -> str:
    gid = str(uuid.uuid4())
    stores.metadata.put_group(Group(group_id=gid, name="event", owner_id="owner"))
    return gid
