"""Near-duplicate faces and person outliers, for review.

Duplicates: pairs of faces from *different* photos whose embeddings have cosine similarity ≥
``threshold`` (0.80-0.99, default 0.95; the peer API, docs/compatibility.md), compared within each
group (every vector query is tenant-filtered by group), results cached 10 minutes per set of groups
and parameters. Outliers: faces whose mean cosine similarity to the other faces of their person is
below ``threshold`` (0.3-0.8, default 0.6), persons with ≥ 2 faces, lowest first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from findme.domain.curation import DuplicatePair, duplicate_pairs, person_outliers
from findme.domain.records import Face, Person, utcnow
from findme.errors import InvalidInputError
from findme.ports import (
    FaceRepository,
    GroupRepository,
    PersonRepository,
    VectorIndex,
)
from findme.services.curation_access import check_range, person_for
from findme.services.policy import Need, Policy


class FindDuplicatesStore(GroupRepository, FaceRepository, Protocol):
    """The metadata repositories :func:`find_duplicates` uses."""


class FindOutliersStore(GroupRepository, FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`find_outliers` uses."""


DUPLICATE_THRESHOLD_RANGE = (0.80, 0.99)
DEFAULT_DUPLICATE_THRESHOLD = 0.95
MAX_DUPLICATES = 200
#: Seconds a duplicates result is reused (peer API: ``@cache_result(ttl=600)``).
DUPLICATES_CACHE_TTL_S = 600.0

OUTLIER_THRESHOLD_RANGE = (0.3, 0.8)
DEFAULT_OUTLIER_THRESHOLD = 0.6
MAX_OUTLIERS = 200


class TtlCache:
    """A small thread-safe in-process cache whose entries expire ``ttl_s`` after writing.

    Per execution environment (a warm Lambda or the local server); a miss only costs a
    recomputation, so no shared cache service is needed.
    """

    def __init__(
        self, ttl_s: float, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[Hashable, tuple[float, object]] = {}

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if self._clock() >= hit[0]:
                del self._data[key]
                return None
            return hit[1]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            now = self._clock()
            if len(self._data) >= self._max:
                for stale in [k for k, (exp, _) in self._data.items() if exp <= now]:
                    del self._data[stale]
                while len(self._data) >= self._max:
                    del self._data[next(iter(self._data))]
            self._data[key] = (now + self._ttl_s, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


#: The process-wide duplicates cache (tests pass their own).
DUPLICATES_CACHE = TtlCache(DUPLICATES_CACHE_TTL_S)


@dataclass(frozen=True, slots=True)
class DuplicateView:
    """A pair with both face items (for thumbnails and image ids)."""

    face_1: Face
    face_2: Face
    similarity: float


@dataclass(frozen=True, slots=True)
class DuplicatesResult:
    pairs: list[DuplicateView]
    threshold: float
    group_ids: list[str]
    computed_at: datetime
    cached: bool


@dataclass(frozen=True, slots=True)
class _CachedPairs:
    pairs: list[DuplicatePair]
    computed_at: datetime


def find_duplicates(
    metadata: FindDuplicatesStore,
    vectors: VectorIndex,
    policy: Policy,
    *,
    group_id: str | None = None,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    limit: int = 50,
    cache: TtlCache = DUPLICATES_CACHE,
) -> DuplicatesResult:
    """Near-identical faces in the caller's curated groups (or one group), most similar first.

    Args:
        group_id: only this group; otherwise every group the caller curates.
        threshold: cosine similarity, 0.80-0.99.
        limit: pairs returned, 1-200.
        cache: where results live for 10 minutes (key: groups, threshold, limit).

    Raises:
        InvalidInputError: threshold or limit out of range.
        NotFoundError, PermissionDeniedError: the named group.
    """
    check_range("threshold", threshold, *DUPLICATE_THRESHOLD_RANGE)
    check_range("limit", limit, 1, MAX_DUPLICATES)
    if group_id is not None:
        metadata.get_group(group_id)
    groups = policy.groups(Need.UPLOAD, [group_id] if group_id else None, param="group_id")
    key = ("duplicates", tuple(groups), round(threshold, 6), limit)
    hit = cache.get(key)
    cached = isinstance(hit, _CachedPairs)
    if isinstance(hit, _CachedPairs):
        entry = hit
    else:
        pairs: list[DuplicatePair] = []
        for gid in groups:
            face_vectors = list(vectors.scroll_group(gid, with_vectors=True))
            if len(face_vectors) < 2:
                continue
            pairs.extend(
                duplicate_pairs(
                    [v.face_id for v in face_vectors],
                    [v.image_id for v in face_vectors],
                    np.stack([v.vector for v in face_vectors]).astype(np.float32),
                    threshold=threshold,
                    limit=limit,
                )
            )
        pairs.sort(key=lambda p: (-p.similarity, p.face_id_1, p.face_id_2))
        entry = _CachedPairs(pairs=pairs[:limit], computed_at=utcnow())
        cache.put(key, entry)
    # Faces deleted since the result was cached drop out of it here.
    items = {
        f.face_id: f
        for f in metadata.get_faces({i for p in entry.pairs for i in (p.face_id_1, p.face_id_2)})
    }
    views = [
        DuplicateView(items[p.face_id_1], items[p.face_id_2], p.similarity)
        for p in entry.pairs
        if p.face_id_1 in items and p.face_id_2 in items
    ]
    return DuplicatesResult(
        pairs=views,
        threshold=threshold,
        group_ids=groups,
        computed_at=entry.computed_at,
        cached=cached,
    )


@dataclass(frozen=True, slots=True)
class OutlierView:
    face: Face
    person: Person
    mean_similarity: float
    person_face_count: int


def find_outliers(
    metadata: FindOutliersStore,
    vectors: VectorIndex,
    policy: Policy,
    *,
    group_id: str | None = None,
    person_id: str | None = None,
    threshold: float = DEFAULT_OUTLIER_THRESHOLD,
    limit: int = 50,
) -> list[OutlierView]:
    """Faces that fit their person badly (likely mislabelled), lowest similarity first.

    Person membership is read from the face items (DynamoDB, the source of truth) and the
    embeddings from the vector index.

    Args:
        group_id: only this group; otherwise every group the caller curates.
        person_id: only this person (its group must be curated by the caller).
        threshold: cosine similarity, 0.3-0.8; faces with a mean below it are returned.
        limit: 1-200.

    Raises:
        InvalidInputError, NotFoundError, PermissionDeniedError.
    """
    check_range("threshold", threshold, *OUTLIER_THRESHOLD_RANGE)
    check_range("limit", limit, 1, MAX_OUTLIERS)
    if person_id is not None:
        person = person_for(metadata, policy, person_id, Need.UPLOAD)
        if group_id is not None and group_id != person.group_id:
            raise InvalidInputError("person_id is not in group_id", field="person_id")
        faces_by_group = {person.group_id: metadata.list_faces_of_person(person_id)}
    else:
        if group_id is not None:
            metadata.get_group(group_id)
        faces_by_group = {
            gid: [f for f in metadata.list_faces_of_group(gid) if f.person_id]
            for gid in policy.groups(
                Need.UPLOAD, [group_id] if group_id else None, param="group_id"
            )
        }
    found: list[OutlierView] = []
    for faces in faces_by_group.values():
        by_id = {f.face_id: f for f in faces}
        if not by_id:
            continue
        # One person: fetch its vectors; whole groups: one scroll beats a huge id lookup.
        source = (
            vectors.get(list(by_id))
            if person_id is not None
            else vectors.scroll_group(faces[0].group_id, with_vectors=True)
        )
        embeddings = {v.face_id: v.vector for v in source if v.face_id in by_id}
        members: dict[str, list[tuple[str, NDArray[np.float32]]]] = {}
        for face in faces:
            if face.person_id and face.face_id in embeddings:
                members.setdefault(face.person_id, []).append(
                    (face.face_id, embeddings[face.face_id].astype(np.float32))
                )
        persons: dict[str, Person] = {}
        for score in person_outliers(members, threshold=threshold, limit=limit):
            if score.person_id not in persons:
                persons[score.person_id] = metadata.get_person(score.person_id)
            found.append(
                OutlierView(
                    face=by_id[score.face_id],
                    person=persons[score.person_id],
                    mean_similarity=score.mean_similarity,
                    person_face_count=len(members[score.person_id]),
                )
            )
    found.sort(key=lambda o: (o.mean_similarity, o.face.face_id))
    return found[:limit]


def invalidate_duplicates(cache: TtlCache = DUPLICATES_CACHE) -> None:
    """Drop cached duplicate results (after bulk deletes or reprocessing)."""
    cache.clear()
