"""The MetadataStore contract against moto's DynamoDB (in-process)."""

from __future__ import annotations

from contracts.metadata_store import MetadataStoreContract


class TestMetadataStoreOnMoto(MetadataStoreContract):
    """Runs every contract test with the ``store`` fixture of ``tests/unit/data/conftest.py``."""

    atomic_under_concurrency = False  # moto: the race tests run on DynamoDB Local
