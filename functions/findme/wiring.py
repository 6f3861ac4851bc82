"""Real wiring: cached factories that build each adapter once per process (never globals).

Tests and the local stack call ``reset()`` after changing settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Generic, TypeVar

from findme.config import Settings, get_settings
from findme.ports import (
    FaceEngine,
    MetadataStore,
    Notifier,
    ObjectStore,
    Orchestrator,
    RemoteFetcher,
    SecretStore,
    VectorIndex,
)

if TYPE_CHECKING:
    from findme.services.digest import DigestDeps

T = TypeVar("T")

#: One re-entrant lock for every factory: two threads never build the same client twice
#: (Qdrant local mode refuses a second client on one path).
_LOCK = threading.RLock()


class _LockedCache(Generic[T]):
    """A once-per-process factory: the first build is serialised, later calls are lock-free."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        wraps(factory)(self)

    def __call__(self) -> T:
        value = self._value
        if value is None:
            with _LOCK:
                if self._value is None:
                    self._value = self._factory()
                value = self._value
        return value

    def cache_clear(self) -> None:
        with _LOCK:
            self._value = None


def _locked_cache(factory: Callable[[], T]) -> _LockedCache[T]:
    return _LockedCache(factory)


@_locked_cache
def face_engine() -> FaceEngine:
    from findme.adapters.onnx_engine import OnnxFaceEngine

    return OnnxFaceEngine(get_settings())


@_locked_cache
def object_store() -> ObjectStore:
    from findme.adapters.s3 import S3ObjectStore

    return S3ObjectStore(get_settings())


@_locked_cache
def metadata_store() -> MetadataStore:
    from findme.adapters.dynamodb import DynamoMetadataStore

    return DynamoMetadataStore(get_settings())


def build_vector_index(settings: Settings) -> VectorIndex:
    """Qdrant Cloud (``qdrant_url``) via qdrant-client; else the local engine at ``qdrant_path``
    (``qdrant_local_engine``: Qdrant Edge, or qdrant-client's local mode), collection ensured.

    Raises:
        DependencyError: the local path is used by another process, or Qdrant is unreachable.
    """
    index: VectorIndex
    if settings.qdrant_url or settings.qdrant_local_engine == "client":
        from findme.adapters.qdrant import QdrantVectorIndex

        index = QdrantVectorIndex(settings)
    else:
        from findme.adapters.qdrant_edge import EdgeVectorIndex

        index = EdgeVectorIndex(settings)
    index.ensure_collection()
    return index


@_locked_cache
def vector_index() -> VectorIndex:
    return build_vector_index(get_settings())


@_locked_cache
def orchestrator() -> Orchestrator:
    settings: Settings = get_settings()
    if settings.local_workers:
        from findme.local.orchestrator import InProcessOrchestrator

        return InProcessOrchestrator(store_factory=object_store, metadata_factory=metadata_store)
    from findme.adapters.stepfunctions import StepFunctionsOrchestrator

    return StepFunctionsOrchestrator(settings)


@_locked_cache
def notifier() -> Notifier:
    """:func:`notifier_for` the process's settings."""
    return notifier_for(get_settings())


def notifier_for(settings: Settings) -> Notifier:
    """SNS; on stage ``local`` wrapped to record each SMS (``findme local otp``)."""
    from findme.adapters.sns import SnsNotifier

    sns = SnsNotifier(settings)
    if settings.stage != "local":
        return sns
    from findme.local.outbox import RecordingNotifier

    return RecordingNotifier(sns, settings.local_state_dir)


@_locked_cache
def remote_fetcher() -> RemoteFetcher:
    """HTTPS fetches for ``drive_url`` uploads (SSRF-safe, :mod:`findme.adapters.https_fetch`)."""
    from findme.adapters.https_fetch import HttpsFetcher

    return HttpsFetcher()


@_locked_cache
def secret_store() -> SecretStore:
    from findme.adapters.secrets import SecretsManagerStore

    return SecretsManagerStore(get_settings())


@_locked_cache
def digest_deps() -> DigestDeps:
    """The ports digest and reprocess work with (digest and curation worker handlers)."""
    from findme.services.digest import DigestDeps

    return DigestDeps(
        store=object_store(),
        metadata=metadata_store(),
        vectors=vector_index(),
        engine=face_engine(),
        settings=get_settings(),
    )


def reset() -> None:
    """Forget every cached adapter and the settings (tests, local stack restarts)."""
    with _LOCK:
        for factory in (
            face_engine,
            object_store,
            metadata_store,
            vector_index,
            orchestrator,
            notifier,
            remote_fetcher,
            secret_store,
            digest_deps,
        ):
            factory.cache_clear()
        get_settings.cache_clear()
