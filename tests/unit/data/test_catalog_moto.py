"""The catalog consistency contract on moto (DynamoDB, S3) and Qdrant ``:memory:``."""

from __future__ import annotations

from contracts.catalog import CatalogContract


class TestCatalogOnMoto(CatalogContract):
    """Every catalog scenario with the unit-tier ``store``, ``objects`` and ``vectors``."""
