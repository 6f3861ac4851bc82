"""The VectorIndex contract through the stack's wiring (Qdrant Edge on a directory)."""

from __future__ import annotations

import pytest
from contracts.vector_index import VectorIndexContract
from findme import wiring
from findme.adapters.qdrant_edge import EdgeVectorIndex
from findme.local.stack import StackHandle

pytestmark = pytest.mark.integration


class TestVectorIndexViaWiring(VectorIndexContract):
    @pytest.fixture
    def vectors(self, local_stack: StackHandle) -> EdgeVectorIndex:
        index = wiring.vector_index()
        assert isinstance(index, EdgeVectorIndex)
        return index
