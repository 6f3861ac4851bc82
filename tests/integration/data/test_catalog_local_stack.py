"""The catalog consistency contract on the local stack (DynamoDB Local, moto server S3)."""

from __future__ import annotations

import pytest
from contracts.catalog import CatalogContract

pytestmark = pytest.mark.integration


class TestCatalogOnLocalStack(CatalogContract):
    """Every catalog scenario, including retries after injected failures, on the stack."""
