"""Real wiring: cached factories that build each adapter once per process (never globals).

Tests and the local stack call ``reset()`` after changing settings.
"""

from __future__ import annotations

from functools import lru_cache

from findme.config import Settings, get_settings
from findme.ports import (
    FaceEngine,
    MetadataStore,
    Notifier,
    ObjectStore,
    Orchestrator,
    SecretStore,
    VectorIndex,
)


@lru_cache(maxsize=1)
def face_engine() -> FaceEngine:
    from findme.adapters.onnx_engine import OnnxFaceEngine

    return OnnxFaceEngine(get_settings())


@lru_cache(maxsize=1)
def object_store() -> ObjectStore:
    from findme.adapters.s3 import S3ObjectStore

    return S3ObjectStore(get_settings())


@lru_cache(maxsize=1)
def metadata_store() -> MetadataStore:
    from findme.adapters.dynamodb import DynamoMetadataStore

    return DynamoMetadataStore(get_settings())


@lru_cache(maxsize=1)
def vector_index() -> VectorIndex:
    from findme.adapters.qdrant import QdrantVectorIndex

    index = QdrantVectorIndex(get_settings())
    index.ensure_collection()
    return index


@lru_cache(maxsize=1)
def orchestrator() -> Orchestrator:
    settings: Settings = get_settings()
    if settings.local_workers:
        from findme.local.orchestrator import InProcessOrchestrator

        return InProcessOrchestrator()
    from findme.adapters.stepfunctions import StepFunctionsOrchestrator

    return StepFunctionsOrchestrator(settings)


@lru_cache(maxsize=1)
def notifier() -> Notifier:
    from findme.adapters.sns import SnsNotifier

    return SnsNotifier(get_settings())


@lru_cache(maxsize=1)
def secret_store() -> SecretStore:
    from findme.adapters.secrets import SecretsManagerStore

    return SecretsManagerStore(get_settings())


def reset() -> None:
    """Forget every cached adapter and the settings (tests, local stack restarts)."""
    for factory in (
        face_engine,
        object_store,
        metadata_store,
        vector_index,
        orchestrator,
        notifier,
        secret_store,
        get_settings,
    ):
        factory.cache_clear()
