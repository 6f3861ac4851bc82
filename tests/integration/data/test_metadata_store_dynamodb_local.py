"""The MetadataStore contract against DynamoDB Local (the local stack)."""

from __future__ import annotations

import pytest
from contracts.metadata_store import MetadataStoreContract

pytestmark = pytest.mark.integration


class TestMetadataStoreOnDynamoDBLocal(MetadataStoreContract):
    """Runs every contract test with the ``store`` fixture over the local stack."""
