"""Qdrant Edge vector index: the local stack's :class:`findme.ports.VectorIndex`, in-process.

Qdrant Edge (``qdrant-edge-py``) is Qdrant's storage and search engine embedded in the
process: Rust segments with payload indexes, an exact (SIMD) or HNSW search, and a
write-ahead log. qdrant-client's local mode, the other local engine, scores every point in
Python (1.6 s per search at 100k faces); Edge searches the same 100k faces exactly in a few
tens of milliseconds (``benchmarks/search.py``). Qdrant Cloud keeps qdrant-client
(:mod:`findme.adapters.qdrant`); both store the same points (:mod:`.vector_points`).

Storage: ``{qdrant_path}/edge/{qdrant_collection}/`` (``:memory:``: a temporary directory,
deleted on :meth:`EdgeVectorIndex.close`). Every update goes through Edge's WAL before the
call returns, so points survive ``kill -9`` of the process (replayed at the next load); Edge
runs no background work, so the index flushes the segments itself every
``FLUSH_EVERY_POINTS`` points or ``FLUSH_EVERY_S`` seconds of writes, and on close.
One process per path, as with local mode: the index holds an exclusive ``flock`` on
``{qdrant_path}/.lock`` (the file qdrant-client's local mode locks), so
``findme.local.stack`` sees either engine in use the same way.

Searches are exact (``SearchParams(exact=True)``): the same hits, scores and order as the
brute force they replace, so matching does not change with the engine (see
``benchmarks/search.py`` for HNSW's figures). A directory left by qdrant-client's local mode
is imported into a new Edge shard on first open (``collection/``, kept as it was).

Qdrant docs, "Qdrant Edge" (beta; API pinned to ``qdrant-edge-py==0.9.0``).
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    KeywordIndexParams,
    MatchAny,
    MatchValue,
    Point,
    Query,
    QueryRequest,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)

from findme.adapters.vector_points import (
    INDEXED_FIELDS,
    face_vector,
    point_payload,
    point_vector,
)
from findme.config import Settings
from findme.domain.faces import EMBEDDING_DIM
from findme.errors import DependencyError, InvalidInputError
from findme.ports import FaceVector, VectorHit

#: Points per Edge update (one WAL record each; bounds the Python objects built at once).
UPSERT_BATCH = 1024
SCROLL_PAGE = 512
#: Under ``qdrant_path``: the Edge shards, one per collection.
EDGE_DIR = "edge"
#: Writes are flushed to the segments after this many points or seconds, so a restart replays
#: only the WAL's tail (measured: 20k points unflushed load in 2.2 s, flushed in 0.8 s).
FLUSH_EVERY_POINTS = 5000
FLUSH_EVERY_S = 60.0

T = TypeVar("T")


def edge_config() -> EdgeConfig:
    """One unnamed ``(128,)`` vector per point, cosine distance (Edge normalises on upload)."""
    return EdgeConfig(vectors=EdgeVectorParams(size=EMBEDDING_DIM, distance=Distance.Cosine))


def _match(key: str, values: Sequence[str]) -> FieldCondition:
    if len(values) == 1:
        return FieldCondition(key=key, match=MatchValue(values[0]))
    return FieldCondition(key=key, match=MatchAny(list(values)))


def _lock(root: Path) -> IO[str]:
    """Take the exclusive lock on ``root/.lock`` -> the open file holding it.

    Raises:
        DependencyError: another process (or index) holds it.
    """
    handle = (root / ".lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise DependencyError(
            "Qdrant local storage is locked by another process (local mode allows one "
            "process per path)",
            path=str(root),
        ) from exc
    return handle


def import_client_storage(root: Path, collection: str, shard_dir: Path) -> int:
    """Copy qdrant-client local-mode points under ``root`` into a new Edge shard, once.

    Written to ``{shard_dir}.importing`` and renamed when complete, so a crash mid-way
    leaves no half shard (the next open starts again). Nothing happens when ``shard_dir``
    exists or ``root`` holds no local-mode ``collection``.

    Returns:
        The number of points copied (0 when nothing was to import).

    Raises:
        DependencyError: the local-mode directory is locked by another process.
    """
    if shard_dir.exists() or not (root / "collection" / collection).is_dir():
        return 0
    from qdrant_client import QdrantClient

    staging = shard_dir.with_name(shard_dir.name + ".importing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        client = QdrantClient(path=str(root))
    except RuntimeError as exc:  # portalocker: "Storage folder ... is already accessed"
        raise DependencyError("Qdrant local storage is locked", path=str(root)) from exc
    copied = 0
    try:
        shard = EdgeShard.create(str(staging), edge_config())
        offset: Any = None
        while True:
            records, offset = client.scroll(
                collection, limit=UPSERT_BATCH, offset=offset, with_payload=True, with_vectors=True
            )
            points = [Point(str(r.id), r.vector, r.payload or {}) for r in records]  # type: ignore[arg-type]
            if points:
                shard.update(UpdateOperation.upsert_points(points))
            copied += len(points)
            if offset is None:
                break
        shard.flush()
        shard.close()
    finally:
        client.close()
    staging.rename(shard_dir)
    return copied


class EdgeVectorIndex:
    """:class:`findme.ports.VectorIndex` over one Qdrant Edge shard on local disk.

    Every query and scroll is filtered by group (no cross-group leakage); vectors are
    ``(128,) float32``, L2-normalised; scores are cosine similarities in ``[-1, 1]``. Errors
    of the engine become :class:`DependencyError`. Thread-safe (the shard locks its
    segments itself).
    """

    #: Set by :meth:`close` (wiring replaces a closed shared index).
    closed: bool = False

    def __init__(self, settings: Settings) -> None:
        """Open (or create) the shard of ``settings.qdrant_collection`` at ``qdrant_path``.

        Raises:
            DependencyError: the path is used by another process, or the shard is unreadable.
        """
        self.collection = settings.qdrant_collection
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="findme-edge-")
            if settings.qdrant_path == ":memory:"
            else None
        )
        root = Path(self._tmp.name if self._tmp is not None else settings.qdrant_path)
        root.mkdir(parents=True, exist_ok=True)
        shard_dir = root / EDGE_DIR / self.collection
        # before the lock: local mode's client takes the same lock file while it is read
        import_client_storage(root, self.collection, shard_dir)
        self._lock_file = _lock(root)
        try:
            if (shard_dir / "edge_config.json").exists():
                self._shard = self._run("load", EdgeShard.load, str(shard_dir), edge_config())
            else:
                self._shard = self._run("create", EdgeShard.create, str(shard_dir), edge_config())
        except DependencyError:
            self._lock_file.close()
            raise
        self._exact = SearchParams(exact=True)
        self._flush_lock = threading.Lock()
        self._unflushed = 0
        self._flushed_at = time.monotonic()
        #: Flushes done since open (diagnostics, tests).
        self.flushes = 0

    def close(self) -> None:
        """Flush and close the shard, release the path (a ``:memory:`` index is deleted)."""
        self.closed = True
        try:
            self._shard.flush()
            self._shard.close()
        finally:
            self._lock_file.close()
            if self._tmp is not None:
                self._tmp.cleanup()

    @staticmethod
    def _run(what: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except Exception as exc:  # the bindings raise bare Exception ("Service runtime error")
            raise DependencyError(f"Qdrant Edge {what} failed", cause=str(exc)) from exc

    def _update(self, what: str, operation: UpdateOperation, points: int = 1) -> None:
        """Apply ``operation`` (in the WAL when this returns); flush now and then."""
        self._run(what, self._shard.update, operation)
        self._unflushed += points
        due = (
            self._unflushed >= FLUSH_EVERY_POINTS
            or time.monotonic() - self._flushed_at >= FLUSH_EVERY_S
        )
        # one thread flushes; the others go on (their writes are in the WAL already)
        if due and self._flush_lock.acquire(blocking=False):
            try:
                self._unflushed = 0
                self._flushed_at = time.monotonic()
                self._run("flush", self._shard.flush)
                self.flushes += 1
            finally:
                self._flush_lock.release()

    def ensure_collection(self) -> None:
        """Create the payload indexes that are missing (idempotent; the shard exists)."""
        present = self._run("info", self._shard.info).payload_schema
        for name in INDEXED_FIELDS:
            if name not in present:
                params = KeywordIndexParams(is_tenant=name == "group_id")
                self._update("create_field_index", UpdateOperation.create_field_index(name, params))

    def upsert(self, vectors: Sequence[FaceVector]) -> None:
        """Insert or replace points (id = ``face_id``), ``UPSERT_BATCH`` per update.

        All vectors are checked before the first write (InvalidInputError: none written).
        """
        points = [Point(v.face_id, point_vector(v.vector), point_payload(v)) for v in vectors]
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start : start + UPSERT_BATCH]
            self._update("upsert", UpdateOperation.upsert_points(batch), len(batch))

    @staticmethod
    def _group_filter(group_ids: Sequence[str], kind: str | None) -> Filter:
        if not group_ids or any(not g for g in group_ids):
            raise InvalidInputError("a vector query needs at least one group id")
        must = [_match("group_id", group_ids)]
        if kind is not None:
            must.append(_match("kind", [kind]))
        return Filter(must=must)  # type: ignore[arg-type]

    def query(
        self,
        vector: NDArray[np.float32],
        *,
        group_ids: Sequence[str],
        limit: int = 100,
        score_threshold: float | None = None,
        kind: str = "face",
    ) -> list[VectorHit]:
        """Nearest faces by cosine similarity within ``group_ids`` (best first, exact).

        Args:
            vector: ``(128,) float32`` query embedding.
            group_ids: groups to search; never empty (InvalidInputError).
            limit: most hits returned.
            score_threshold: minimum cosine similarity, e.g. ``Settings.match_threshold``.
            kind: ``face`` (group photos) or ``reference`` (selfies).
        """
        request = QueryRequest(
            limit=limit,
            query=Query.Nearest(point_vector(vector)),
            filter=self._group_filter(group_ids, kind),
            score_threshold=score_threshold,
            with_payload=True,
            with_vector=False,
            params=self._exact,
        )
        hits = []
        for point in self._run("query", self._shard.query, request):
            payload = point.payload or {}
            hits.append(
                VectorHit(
                    face_id=str(point.id),
                    score=float(point.score),
                    group_id=payload["group_id"],
                    image_id=payload["image_id"],
                    person_id=payload.get("person_id"),
                    user_id=payload.get("user_id"),
                )
            )
        return hits

    def scroll_group(
        self, group_id: str, *, with_vectors: bool = True, kind: str = "face"
    ) -> Iterator[FaceVector]:
        """Every point of one group and kind (vectors empty when ``with_vectors=False``)."""
        scroll_filter = self._group_filter([group_id], kind)
        offset: Any = None
        while True:
            request = ScrollRequest(
                offset=offset,
                limit=SCROLL_PAGE,
                filter=scroll_filter,
                with_payload=True,
                with_vector=with_vectors,
            )
            records, offset = self._run("scroll", self._shard.scroll, request)
            for record in records:
                yield face_vector(record.id, record.payload, record.vector)
            if offset is None:
                return

    def get(self, face_ids: Sequence[str]) -> list[FaceVector]:
        """Points by face id with vectors; unknown ids are skipped."""
        if not face_ids:
            return []
        records = self._run("retrieve", self._shard.retrieve, list(face_ids), True, True)
        return [face_vector(r.id, r.payload, r.vector) for r in records]

    def set_person(self, face_ids: Sequence[str], person_id: str | None) -> None:
        """Set (or, with ``None``, remove) ``person_id`` in the payload of these points."""
        if not face_ids:
            return
        ids: list[Any] = list(face_ids)
        if person_id is None:
            self._update("delete_payload", UpdateOperation.delete_payload(ids, ["person_id"]))
        else:
            operation = UpdateOperation.set_payload(ids, {"person_id": person_id})
            self._update("set_payload", operation)

    def _delete_where(self, key: str, value: str) -> None:
        if not value:
            raise InvalidInputError(f"delete by {key} needs a value")
        operation = UpdateOperation.delete_points_by_filter(Filter(must=[_match(key, [value])]))
        self._update("delete", operation)

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        if face_ids:
            self._update("delete", UpdateOperation.delete_points(list(face_ids)))

    def delete_image(self, image_id: str) -> None:
        self._delete_where("image_id", image_id)

    def delete_group(self, group_id: str) -> None:
        self._delete_where("group_id", group_id)

    def delete_user(self, user_id: str) -> None:
        """Delete every point carrying ``user_id`` (the user's reference faces)."""
        self._delete_where("user_id", user_id)

    def count(self, group_id: str | None = None, *, kind: str = "face") -> int:
        """Exact number of points of ``kind`` (in ``group_id`` when given)."""
        must = [_match("kind", [kind])]
        if group_id is not None:
            must.append(_match("group_id", [group_id]))
        request = CountRequest(exact=True, filter=Filter(must=must))  # type: ignore[arg-type]
        return int(self._run("count", self._shard.count, request))
