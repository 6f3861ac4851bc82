"""Real wiring: a composition root per :class:`~findme.config.Settings` whose cached
factories build each adapter once (never globals).

The process's root (:func:`root`) serves handlers, commands and workers through the
module-level factories; ``create_app(settings)`` takes the root of its own settings
(:func:`for_settings`), so one Settings object drives an app and its stores. Tests and the
local stack call ``reset()`` after changing settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
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
    """A build-once factory: the first build is serialised, later calls are lock-free."""

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

    def set(self, value: T) -> T:
        """Replace the cached value (the next calls return ``value``)."""
        with _LOCK:
            self._value = value
        return value


def _locked_cache(factory: Callable[[], T]) -> _LockedCache[T]:
    return _LockedCache(factory)


class Wiring:
    """The composition root of one :class:`Settings`: each adapter is built from them lazily,
    once, on first use (nothing is imported before), and shared by every caller of the root.

    The process has one default root (:func:`root`, from :func:`~findme.config.get_settings`);
    an app created with other settings gets its own (:func:`for_settings`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.face_engine = _locked_cache(self._face_engine)
        self.object_store = _locked_cache(self._object_store)
        self.metadata_store = _locked_cache(self._metadata_store)
        self.vector_index = _locked_cache(self._vector_index)
        self.orchestrator = _locked_cache(self._orchestrator)
        self.notifier = _locked_cache(self._notifier)
        self.remote_fetcher = _locked_cache(self._remote_fetcher)
        self.secret_store = _locked_cache(self._secret_store)
        self.digest_deps = _locked_cache(self._digest_deps)

    def _face_engine(self) -> FaceEngine:
        from findme.adapters.onnx_engine import OnnxFaceEngine

        return OnnxFaceEngine(self.settings)

    def _object_store(self) -> ObjectStore:
        from findme.adapters.s3 import S3ObjectStore

        return S3ObjectStore(self.settings)

    def _metadata_store(self) -> MetadataStore:
        from findme.adapters.dynamodb import DynamoMetadataStore

        return DynamoMetadataStore(self.settings)

    def _vector_index(self) -> VectorIndex:
        return build_vector_index(self.settings)

    def _orchestrator(self) -> Orchestrator:
        if self.settings.local_workers:
            from findme.local.orchestrator import InProcessOrchestrator

            return InProcessOrchestrator(
                self.settings,
                store_factory=self.object_store,
                metadata_factory=self.metadata_store,
            )
        from findme.adapters.stepfunctions import StepFunctionsOrchestrator

        return StepFunctionsOrchestrator(self.settings)

    def _notifier(self) -> Notifier:
        return notifier_for(self.settings)

    def _remote_fetcher(self) -> RemoteFetcher:
        """HTTPS fetches for ``drive_url`` uploads (SSRF-safe,
        :mod:`findme.adapters.https_fetch`)."""
        from findme.adapters.https_fetch import HttpsFetcher

        return HttpsFetcher()

    def _secret_store(self) -> SecretStore:
        from findme.adapters.secrets import SecretsManagerStore

        return SecretsManagerStore(self.settings)

    def _digest_deps(self) -> DigestDeps:
        """The ports digest and reprocess work with (digest and curation worker handlers)."""
        from findme.services.digest import DigestDeps

        return DigestDeps(
            store=self.object_store(),
            metadata=self.metadata_store(),
            vectors=self.vector_index(),
            engine=self.face_engine(),
            settings=self.settings,
        )

    def cache_clear(self) -> None:
        """Forget every adapter built so far."""
        for factory in (
            self.face_engine,
            self.object_store,
            self.metadata_store,
            self.vector_index,
            self.orchestrator,
            self.notifier,
            self.remote_fetcher,
            self.secret_store,
            self.digest_deps,
        ):
            factory.cache_clear()


@_locked_cache
def root() -> Wiring:
    """The process's composition root: built from :func:`~findme.config.get_settings` on first
    use (or the settings given to :func:`use`)."""
    return Wiring(get_settings())


def use(settings: Settings) -> Wiring:
    """Make ``settings`` the process's: the default root is rebuilt from them (``findme local
    run``, whose settings add the local browser origins)."""
    return root.set(Wiring(settings))


def for_settings(settings: Settings) -> Wiring:
    """The root for ``settings``: the process's when they are its settings (one adapter per
    process, shared with the workers), else a new root of their own."""
    default = root()
    return default if default.settings is settings else Wiring(settings)


# The process root's adapters, for handlers, commands and workers.
def face_engine() -> FaceEngine:
    return root().face_engine()


def object_store() -> ObjectStore:
    return root().object_store()


def metadata_store() -> MetadataStore:
    return root().metadata_store()


#: Local vector indexes by (engine, directory, collection): a local directory is opened once
#: per process (its lock allows one holder), so every composition root on the same path shares
#: the open index. A closed one is replaced.
_LOCAL_INDEXES: dict[tuple[str, str, str], VectorIndex] = {}
_LOCAL_INDEXES_LOCK = threading.Lock()


def build_vector_index(settings: Settings) -> VectorIndex:
    """Qdrant Cloud (``qdrant_url``) via qdrant-client; else the local engine at ``qdrant_path``
    (``qdrant_local_engine``: Qdrant Edge, or qdrant-client's local mode), collection ensured.
    A local directory is opened once per process and shared (:data:`_LOCAL_INDEXES`).

    Raises:
        DependencyError: the local path is used by another process, or Qdrant is unreachable.
    """
    if settings.qdrant_url or settings.qdrant_path == ":memory:":
        return _open_vector_index(settings)
    key = (
        settings.qdrant_local_engine,
        str(Path(settings.qdrant_path).resolve()),
        settings.qdrant_collection,
    )
    with _LOCAL_INDEXES_LOCK:
        index = _LOCAL_INDEXES.get(key)
        if index is None or getattr(index, "closed", False):
            index = _LOCAL_INDEXES[key] = _open_vector_index(settings)
        return index


def _open_vector_index(settings: Settings) -> VectorIndex:
    index: VectorIndex
    if settings.qdrant_url or settings.qdrant_local_engine == "client":
        from findme.adapters.qdrant import QdrantVectorIndex

        index = QdrantVectorIndex(settings)
    else:
        from findme.adapters.qdrant_edge import EdgeVectorIndex

        index = EdgeVectorIndex(settings)
    index.ensure_collection()
    return index


def vector_index() -> VectorIndex:
    return root().vector_index()


def orchestrator() -> Orchestrator:
    return root().orchestrator()


def notifier() -> Notifier:
    """:func:`notifier_for` the process's settings."""
    return root().notifier()


def notifier_for(settings: Settings) -> Notifier:
    """SNS; on stage ``local`` wrapped to record each SMS (``findme local otp``)."""
    from findme.adapters.sns import SnsNotifier

    sns = SnsNotifier(settings)
    if settings.stage != "local":
        return sns
    from findme.local.outbox import RecordingNotifier

    return RecordingNotifier(sns, settings.local_state_dir)


def remote_fetcher() -> RemoteFetcher:
    return root().remote_fetcher()


def secret_store() -> SecretStore:
    return root().secret_store()


def digest_deps() -> DigestDeps:
    """The ports digest and reprocess work with (digest and curation worker handlers)."""
    return root().digest_deps()


def reset() -> None:
    """Forget the process's root (so every adapter it built) and the settings (tests, local
    stack restarts)."""
    with _LOCK:
        root.cache_clear()
        get_settings.cache_clear()
    with _LOCAL_INDEXES_LOCK:  # dropped, not closed: a root still holding one keeps it
        _LOCAL_INDEXES.clear()
