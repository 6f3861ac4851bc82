"""The VectorIndex contract through the stack's wiring (Qdrant local mode on a directory)."""

from __future__ import annotations

import pytest
from contracts.vector_index import VectorIndexContract
from findme import wiring
from findme.adapters.qdrant import QdrantVectorIndex
from findme.local.stack import StackHandle

pytestmark = pytest.mark.integration


class TestVectorIndexViaWiring(VectorIndexContract):
    @pytest.fixture
    def vectors(self, local_stack: StackHandle) -> QdrantVectorIndex:
        index = wiring.vector_index()
        assert isinstance(index, QdrantVectorIndex)
        return index
