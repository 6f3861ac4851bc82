"""The VectorIndex contract on Qdrant local mode: in memory and on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contracts.vector_index import VectorIndexContract
from findme.adapters.qdrant import QdrantVectorIndex
from findme.config import Settings
from findme.errors import DependencyError


@pytest.fixture(params=[":memory:", "directory"])
def vectors(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantVectorIndex]:
    path = ":memory:" if request.param == ":memory:" else str(tmp_path / "qdrant")
    index = QdrantVectorIndex(Settings(qdrant_path=path))
    index.ensure_collection()
    index.ensure_collection()  # idempotent
    yield index
    index.close()


class TestQdrantLocalMode(VectorIndexContract):
    """Every contract test, on both local-mode storages."""


def test_second_client_on_one_path_is_a_dependency_error(tmp_path: Path) -> None:
    # Given a local-mode index open on a directory
    settings = Settings(qdrant_path=str(tmp_path / "q"))
    first = QdrantVectorIndex(settings)
    try:
        # When a second client opens the same directory, it is refused with a clear error
        with pytest.raises(DependencyError, match="one process per path"):
            QdrantVectorIndex(settings)
    finally:
        first.close()
