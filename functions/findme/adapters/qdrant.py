"""Qdrant vector index (qdrant-client): one collection of face embeddings, filtered per group.

The same code runs against Qdrant Cloud (``Settings.qdrant_url`` + ``qdrant_api_key``) and
qdrant-client's *local mode* (``Settings.qdrant_path``: a directory or ``:memory:``). Local
mode brute-forces filters (payload indexes have no effect there) and locks its directory:
**only one process may open a given path** (a second one fails with
:class:`findme.errors.DependencyError`), so the local stack runs the API and workers in one
process, and tests use ``:memory:`` or a temporary directory.

Collection layout: 128-d vectors, cosine distance (Qdrant normalises vectors on upload for
cosine, so scores are cosine similarities in ``[-1, 1]``). Point id = ``face_id`` (UUID).
Payload: ``face_id``, ``group_id`` (keyword index, ``is_tenant=true``), ``image_id``,
``person_id``, ``kind`` (``face`` | ``reference``), ``user_id`` (keyword indexes).
Qdrant docs, "Multitenancy": one collection, tenant key indexed with ``is_tenant``.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

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

#: Points per upsert request (keeps requests well under Qdrant Cloud's 32 MiB limit).
UPSERT_BATCH = 256
SCROLL_PAGE = 512

_QDRANT_ERRORS = (UnexpectedResponse, ResponseHandlingException, OSError, RuntimeError)


def build_client(settings: Settings) -> QdrantClient:
    """Qdrant Cloud client when ``qdrant_url`` is set, else local mode at ``qdrant_path``.

    The Cloud API key is ``qdrant_api_key``, or else the Secrets Manager secret
    ``qdrant_api_key_secret_id``.

    Raises:
        DependencyError: local-mode directory already opened by another process.
    """
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        if api_key is None and settings.qdrant_api_key_secret_id:
            # AWS deployments keep the key in Secrets Manager, read once per cold start.
            from findme.adapters.secrets import SecretsManagerStore

            api_key = SecretsManagerStore(settings).get_secret(settings.qdrant_api_key_secret_id)
        return QdrantClient(
            url=settings.qdrant_url, api_key=api_key, timeout=int(settings.qdrant_timeout_s)
        )
    try:
        if settings.qdrant_path == ":memory:":
            return QdrantClient(location=":memory:")
        return QdrantClient(path=settings.qdrant_path)
    except RuntimeError as exc:  # portalocker: "Storage folder ... is already accessed"
        raise DependencyError(
            "Qdrant local storage is locked by another process (local mode allows one "
            "process per path)",
            path=settings.qdrant_path,
        ) from exc


class QdrantVectorIndex:
    """:class:`findme.ports.VectorIndex` over one Qdrant collection (``qdrant_collection``).

    Every query and scroll is filtered by group (no cross-group leakage); vectors are
    ``(128,) float32``, L2-normalised. Errors become :class:`DependencyError`.
    """

    #: Set by :meth:`close` (wiring replaces a closed shared index).
    closed: bool = False

    def __init__(self, settings: Settings, client: QdrantClient | None = None) -> None:
        self._settings = settings
        self.collection = settings.qdrant_collection
        self._client = client if client is not None else build_client(settings)
        self._local = not settings.qdrant_url
        # Local mode is not thread-safe: an upsert grows the arrays a concurrent query reads
        # (IndexError in payload_filters). Qdrant Cloud serves concurrent calls itself.
        self._lock: AbstractContextManager[Any] = (
            threading.RLock() if self._local else contextlib.nullcontext()
        )

    def close(self) -> None:
        """Release the client (and the local-mode directory lock)."""
        self.closed = True
        self._client.close()

    def _run(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            with self._lock:
                return fn(*args, **kwargs)
        except _QDRANT_ERRORS as exc:
            raise DependencyError(f"Qdrant {what} failed", cause=str(exc)) from exc
        except ValueError as exc:  # local mode: e.g. "Collection faces not found"
            raise DependencyError(f"Qdrant {what} failed", cause=str(exc)) from exc

    def ensure_collection(self) -> None:
        """Create the collection and its payload indexes if missing (idempotent)."""
        if self._run("collection_exists", self._client.collection_exists, self.collection):
            return
        self._run(
            "create_collection",
            self._client.create_collection,
            self.collection,
            vectors_config=models.VectorParams(size=EMBEDDING_DIM, distance=models.Distance.COSINE),
        )
        with warnings.catch_warnings():
            # local mode warns that payload indexes have no effect there; Cloud uses them
            warnings.simplefilter("ignore", UserWarning)
            for name in INDEXED_FIELDS:
                schema = models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=name == "group_id"
                )
                self._run(
                    "create_payload_index",
                    self._client.create_payload_index,
                    self.collection,
                    field_name=name,
                    field_schema=schema,
                    wait=True,
                )

    def upsert(self, vectors: Sequence[FaceVector]) -> None:
        """Insert or replace points (id = ``face_id``), ``UPSERT_BATCH`` per request, waited."""
        points = [
            models.PointStruct(
                id=v.face_id, vector=point_vector(v.vector), payload=point_payload(v)
            )
            for v in vectors
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._run(
                "upsert",
                self._client.upsert,
                self.collection,
                points=points[start : start + UPSERT_BATCH],
                wait=True,
            )

    @staticmethod
    def _match(key: str, values: Sequence[str]) -> models.FieldCondition:
        if len(values) == 1:
            return models.FieldCondition(key=key, match=models.MatchValue(value=values[0]))
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))

    def _group_filter(self, group_ids: Sequence[str], kind: str | None) -> models.Filter:
        if not group_ids or any(not g for g in group_ids):
            raise InvalidInputError("a vector query needs at least one group id")
        must: list[models.Condition] = [self._match("group_id", group_ids)]
        if kind is not None:
            must.append(self._match("kind", [kind]))
        return models.Filter(must=must)

    def query(
        self,
        vector: NDArray[np.float32],
        *,
        group_ids: Sequence[str],
        limit: int = 100,
        score_threshold: float | None = None,
        kind: str = "face",
    ) -> list[VectorHit]:
        """Nearest faces by cosine similarity within ``group_ids`` (best first).

        Args:
            vector: ``(128,) float32`` query embedding.
            group_ids: groups to search; never empty (InvalidInputError).
            score_threshold: minimum cosine similarity, e.g. ``Settings.match_threshold``.
        """
        result = self._run(
            "query",
            self._client.query_points,
            self.collection,
            query=point_vector(vector),
            query_filter=self._group_filter(group_ids, kind),
            limit=limit,
            score_threshold=score_threshold,
            with_payload=True,
        )
        hits = []
        for point in result.points:
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

    def _scroll(self, scroll_filter: models.Filter, with_vectors: bool) -> Iterator[Any]:
        offset: Any = None
        while True:
            points, offset = self._run(
                "scroll",
                self._client.scroll,
                self.collection,
                scroll_filter=scroll_filter,
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
            yield from points
            if offset is None:
                return

    def scroll_group(
        self, group_id: str, *, with_vectors: bool = True, kind: str = "face"
    ) -> Iterator[FaceVector]:
        """Every point of one group and kind (vectors empty when ``with_vectors=False``)."""
        for point in self._scroll(self._group_filter([group_id], kind), with_vectors):
            yield face_vector(point.id, point.payload, point.vector)

    def get(self, face_ids: Sequence[str]) -> list[FaceVector]:
        """Points by face id with vectors; unknown ids are skipped."""
        if not face_ids:
            return []
        points = self._run(
            "retrieve",
            self._client.retrieve,
            self.collection,
            ids=list(face_ids),
            with_payload=True,
            with_vectors=True,
        )
        return [face_vector(p.id, p.payload, p.vector) for p in points]

    def set_person(self, face_ids: Sequence[str], person_id: str | None) -> None:
        """Set (or, with ``None``, remove) ``person_id`` in the payload of these points."""
        if not face_ids:
            return
        selector = models.PointIdsList(points=list(face_ids))
        if person_id is None:
            self._run(
                "delete_payload",
                self._client.delete_payload,
                self.collection,
                keys=["person_id"],
                points=selector,
                wait=True,
            )
        else:
            self._run(
                "set_payload",
                self._client.set_payload,
                self.collection,
                payload={"person_id": person_id},
                points=selector,
                wait=True,
            )

    def _delete(self, selector: Any) -> None:
        self._run(
            "delete", self._client.delete, self.collection, points_selector=selector, wait=True
        )

    def _delete_where(self, key: str, value: str) -> None:
        if not value:
            raise InvalidInputError(f"delete by {key} needs a value")
        condition = self._match(key, [value])
        self._delete(models.FilterSelector(filter=models.Filter(must=[condition])))

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        if face_ids:
            self._delete(models.PointIdsList(points=list(face_ids)))

    def delete_image(self, image_id: str) -> None:
        self._delete_where("image_id", image_id)

    def delete_group(self, group_id: str) -> None:
        self._delete_where("group_id", group_id)

    def delete_user(self, user_id: str) -> None:
        """Delete every point carrying ``user_id`` (the user's reference faces)."""
        self._delete_where("user_id", user_id)

    def count(self, group_id: str | None = None, *, kind: str = "face") -> int:
        """Exact number of points of ``kind`` (in ``group_id`` when given)."""
        must: list[models.Condition] = [self._match("kind", [kind])]
        if group_id is not None:
            must.append(self._match("group_id", [group_id]))
        result = self._run(
            "count",
            self._client.count,
            self.collection,
            count_filter=models.Filter(must=must),
            exact=True,
        )
        return int(result.count)
