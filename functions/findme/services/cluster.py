"""Cluster a group's faces into persons, and place new faces into persons between clusterings.

:func:`cluster_group` (the cluster Lambda's use case) reads the group's face items and
vectors, runs :func:`findme.domain.clustering.cluster_faces` (DBSCAN on a sparse cosine
graph; one photo never twice in a person; stable ids; manual placements kept) and writes
the outcome: persons first (so no face points at a missing person), then vector payloads,
then face items (the source of truth), then removes the persons left empty. A retry after a
failure anywhere re-reads the half-written state and converges: ids already written are
matched by overlap and kept.

:func:`place_new_faces` is the incremental rule digest applies per photo
(:func:`findme.domain.incremental.place_incremental`).

:func:`run_cluster_job` wraps :func:`cluster_group` with the job bookkeeping of a Step
Functions task (``running -> succeeded | failed``).

Why one module of about 550 lines: the cluster job and the placement of new faces between jobs
write the same person, face and vector payloads in the same order (persons first); one module
keeps that order in one place.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from findme.config import Settings
from findme.domain.clustering import LINKAGE_GRAPH_FLOOR, LINKAGE_THRESHOLD, cluster_faces
from findme.domain.faces import EMBEDDING_DIM
from findme.domain.incremental import Neighbour, place_incremental
from findme.domain.person_ids import PersonPlan
from findme.domain.records import Face, JobStatus, Person, PersonLink, utcnow
from findme.errors import FindMeError, InvalidInputError, NotFoundError
from findme.observability import logger
from findme.ports import (
    FaceRepository,
    FaceVector,
    GroupRepository,
    JobRepository,
    PersonLinkRepository,
    PersonRepository,
    VectorIndex,
)


class PlaceNewFacesStore(FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`place_new_faces` uses."""


class ClusterGroupStore(
    GroupRepository, FaceRepository, PersonRepository, PersonLinkRepository, Protocol
):
    """The metadata repositories :func:`cluster_group` uses."""


class RemovePersonsStore(PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`_remove_persons` uses."""


class RunClusterJobStore(
    GroupRepository, FaceRepository, PersonRepository, PersonLinkRepository, JobRepository, Protocol
):
    """The metadata repositories :func:`run_cluster_job` uses."""


#: Face ids per vector payload update request.
SET_PERSON_BATCH = 1000

#: Concurrent DynamoDB UpdateItem calls when writing face persons (I/O bound: ~5-10 ms each).
WRITE_CONCURRENCY = 16

#: Stored faces asked of the vector index per new face (assigned ones among them count).
INCREMENTAL_NEIGHBOURS = 50


@dataclass(slots=True)
class ClusterResult:
    """Counts of one clustering run (the job result and the API's response).

    Attributes:
        group_id: the group clustered.
        faces_processed: faces read (items of the group).
        persons_created: persons with a new id.
        persons_merged: old persons absorbed into another person.
        manual_placements_preserved: manual faces whose person is unchanged.
        processing_time: wall time of the whole run, seconds (read + cluster + write).
        persons_total: persons of the group afterwards.
        persons_removed: old persons deleted because they were left empty (merged included).
        faces_assigned: faces with a person afterwards.
        faces_unassigned: faces left without a person (noise, or no embedding).
        faces_updated: face items whose person or manual flag changed.
        faces_without_vector: face items with no vector in the index (left unassigned
            unless manual).
        clusters_found: DBSCAN clusters before constraints.
        clusters_split: DBSCAN clusters split (two faces of one photo, or two manual persons).
        eps: DBSCAN eps used (cosine distance).
        min_samples: DBSCAN min_samples used.
        timings_s: seconds per phase (``read``, ``graph``, ``dbscan``, ``split``, ``match``,
            ``write``).
    """

    group_id: str
    faces_processed: int
    persons_created: int
    persons_merged: int
    manual_placements_preserved: int
    processing_time: float
    persons_total: int = 0
    persons_removed: int = 0
    faces_assigned: int = 0
    faces_unassigned: int = 0
    faces_updated: int = 0
    faces_without_vector: int = 0
    clusters_found: int = 0
    clusters_split: int = 0
    eps: float = 0.0
    min_samples: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The job result: the fields, ``manual_placements_preserved`` under the key
        "manual_assignments_preserved" (the name clients and stored job results know)."""
        former = {"manual_placements_preserved": "manual_assignments_preserved"}
        return {former.get(key, key): value for key, value in asdict(self).items()}


# Long on purpose: read, cluster and write in the order the consistency rules require (persons
# before faces before vectors), in one place.
def cluster_group(
    group_id: str,
    *,
    metadata: ClusterGroupStore,
    vectors: VectorIndex,
    eps: float,
    min_samples: int,
    preserve_manual: bool = True,
    write_concurrency: int = WRITE_CONCURRENCY,
    method: str = "average",
    linkage_threshold: float = LINKAGE_THRESHOLD,
) -> ClusterResult:
    """Re-cluster every face of a group into persons and write the result.

    Reads the face items (``FaceRepository.list_faces_of_group``) and vectors
    (``VectorIndex.scroll_group``), clusters them (rules in :mod:`findme.domain.clustering`),
    then writes: persons created or updated (``face_count``, ``image_count``, cover face —
    the old one while it stays, else the best ``overall_quality`` face; names, hidden flags
    and linked users of matched persons kept; a person absorbing a removed named person
    takes its name when it has none), vector payloads and face items that changed, and
    finally deletes persons left empty with their person links (a person link of a
    merged person moves to the person that absorbed it).

    Args:
        group_id: the group.
        metadata: metadata store.
        vectors: vector index.
        eps: DBSCAN eps, cosine distance in ``(0, 2)`` (``Settings.cluster_eps``).
        min_samples: DBSCAN min_samples, ``>= 1`` (``Settings.cluster_min_samples``).
        preserve_manual: keep manual placements (default); ``False`` re-clusters every face
            and clears the manual flags.
        write_concurrency: parallel face-item updates.
        method: ``"average"`` (average linkage) or ``"dbscan"`` (``Settings.cluster_method``).
        linkage_threshold: average linkage's merge bar, mean cosine similarity
            (``Settings.cluster_linkage_threshold``).

    Returns:
        The run's :class:`ClusterResult`.

    Raises:
        InvalidInputError: bad ``eps`` / ``min_samples``.
        NotFoundError, DependencyError: from the stores.
    """
    t_start = time.perf_counter()
    faces = list(metadata.list_faces_of_group(group_id))
    stored = {v.face_id: v.vector for v in vectors.scroll_group(group_id, with_vectors=True)}
    persons_before = {p.person_id: p for p in metadata.list_persons(group_id)}
    embeddings = np.zeros((len(faces), EMBEDDING_DIM), dtype=np.float32)
    missing = 0
    for i, face in enumerate(faces):
        vector = stored.get(face.face_id)
        if vector is None or vector.shape != (EMBEDDING_DIM,):
            missing += 1  # a zero row never links: unassigned unless manual
            continue
        embeddings[i] = vector
    del stored
    read_s = time.perf_counter() - t_start

    outcome = cluster_faces(
        embeddings,
        [f.image_id for f in faces],
        [f.person_id for f in faces],
        [f.is_manual_placement for f in faces],
        eps=eps,
        min_samples=min_samples,
        preserve_manual=preserve_manual,
        method=method,
        linkage_threshold=linkage_threshold,
        known_person_ids=persons_before,
        named_person_ids={p for p, rec in persons_before.items() if rec.name or rec.linked_user_id},
    )

    t_write = time.perf_counter()
    _write_persons(group_id, faces, outcome.persons, persons_before, metadata)
    changed = [
        (face, person, manual)
        for face, person, manual in zip(faces, outcome.person_ids, outcome.manual, strict=True)
        if face.person_id != person or face.is_manual_placement != manual
    ]
    _write_faces(changed, metadata, vectors, write_concurrency)
    merged_into = {old: plan.person_id for plan in outcome.persons for old in plan.merged_from}
    _remove_persons(group_id, outcome.removed_person_ids, merged_into, metadata)
    assigned = sum(1 for p in outcome.person_ids if p is not None)
    # the matching bars of GET /get scale with these (findme.services.search.match_bars)
    try:
        metadata.set_group_gallery(group_id, persons=len(outcome.persons), clustered_faces=assigned)
    except NotFoundError:
        logger.warning("clustered a group with no group item", extra={"group_id": group_id})
    write_s = time.perf_counter() - t_write

    result = ClusterResult(
        group_id=group_id,
        faces_processed=outcome.faces_processed,
        persons_created=outcome.persons_created,
        persons_merged=outcome.persons_merged,
        manual_placements_preserved=outcome.manual_placements_preserved,
        processing_time=round(time.perf_counter() - t_start, 3),
        persons_total=len(outcome.persons),
        persons_removed=len(outcome.removed_person_ids),
        faces_assigned=assigned,
        faces_unassigned=len(faces) - assigned,
        faces_updated=len(changed),
        faces_without_vector=missing,
        clusters_found=outcome.clusters_found,
        clusters_split=outcome.clusters_split,
        eps=eps,
        min_samples=min_samples,
        timings_s={"read": round(read_s, 3), **outcome.timings_s, "write": round(write_s, 3)},
    )
    logger.info("group clustered", extra={"cluster_result": result.as_dict()})
    return result


def _write_persons(
    group_id: str,
    faces: Sequence[Face],
    plans: Iterable[PersonPlan],
    before: dict[str, Person],
    metadata: PersonRepository,
) -> None:
    """Create or update the persons of the outcome (counts, cover face); unchanged ones are
    not rewritten."""
    now = utcnow()
    for plan in plans:
        members = [faces[i] for i in plan.face_indices.tolist()]
        old_person = before.get(plan.person_id)
        person = (
            replace(old_person)
            if old_person is not None
            else Person(person_id=plan.person_id, group_id=group_id, created_at=now)
        )
        for old_id in plan.merged_from:
            old = before.get(old_id)
            if old is None:
                continue
            person.name = person.name or old.name
            person.linked_user_id = person.linked_user_id or old.linked_user_id
        face_ids = {f.face_id for f in members}
        person.face_count = len(members)
        person.image_count = len({f.image_id for f in members})
        if person.cover_face_id not in face_ids:
            # the best face stands for the person (same rule as catalog.refresh_persons)
            person.cover_face_id = max(members, key=lambda f: f.overall_quality).face_id
        if person == old_person:
            continue
        person.updated_at = now
        metadata.put_person(person)


def _write_faces(
    changed: Sequence[tuple[Face, str | None, bool]],
    metadata: FaceRepository,
    vectors: VectorIndex,
    concurrency: int,
) -> None:
    """Vector payloads first (batched per person), then the face items (source of truth)."""
    by_person: dict[str | None, list[str]] = defaultdict(list)
    for face, person, _ in changed:
        by_person[person].append(face.face_id)
    for person, ids in by_person.items():
        for start in range(0, len(ids), SET_PERSON_BATCH):
            vectors.set_person(ids[start : start + SET_PERSON_BATCH], person)

    def update(item: tuple[Face, str | None, bool]) -> None:
        face, person, manual = item
        try:
            metadata.update_face_person(face.face_id, person, manual=manual)
        except NotFoundError:  # deleted while we clustered: nothing to update
            logger.info("face vanished during clustering", extra={"face_id": face.face_id})

    if concurrency <= 1 or len(changed) < 2 * concurrency:
        for item in changed:
            update(item)
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cluster-write") as pool:
        for _ in pool.map(update, changed):
            pass


def _remove_persons(
    group_id: str,
    removed: Sequence[str],
    merged_into: dict[str, str],
    metadata: RemovePersonsStore,
) -> None:
    """Delete persons left empty; move a merged person's person links to its absorber."""
    if not removed:
        return
    removed_set = set(removed)
    links = metadata.list_person_links(group_id=group_id)
    users_of = defaultdict(set)
    for a in links:
        users_of[a.person_id].add(a.user_id)
    for a in links:
        if a.person_id not in removed_set:
            continue
        metadata.delete_person_link(group_id, a.person_id)
        target = merged_into.get(a.person_id)
        if target is not None and not users_of[target]:
            metadata.put_person_link(
                PersonLink(
                    group_id=group_id,
                    person_id=target,
                    user_id=a.user_id,
                    similarity=a.similarity,
                    strategy=a.strategy,
                    vote_share=a.vote_share,
                )
            )
            users_of[target].add(a.user_id)
    for person_id in removed:
        metadata.delete_person(person_id)


# --- the Step Functions task ------------------------------------------------------------------
class ClusterTask(BaseModel):
    """The cluster task's input: ``{"group_id", "job_id"?, "eps"?, "min_samples"?,
    "preserve_manual"?}`` (other keys of the Step Functions state are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group_id: str = Field(min_length=1)
    job_id: str | None = None
    eps: float | None = Field(default=None, gt=0.0, lt=2.0)
    min_samples: int | None = Field(default=None, ge=1)
    preserve_manual: bool = True


def run_cluster_job(
    task: ClusterTask,
    *,
    metadata: RunClusterJobStore,
    vectors: VectorIndex,
    settings: Settings,
) -> dict[str, Any]:
    """Run :func:`cluster_group` for a task; keep its job item (if any) up to date.

    The job goes ``running`` before the run, then ``succeeded`` with the result counts,
    or ``failed`` with ``"<error code>: <message>"`` (and the error is re-raised so the
    state machine sees the failure).

    Args:
        task: the parsed task input; missing ``eps``/``min_samples`` come from settings.
        metadata: metadata store.
        vectors: vector index.
        settings: ``cluster_eps`` and ``cluster_min_samples`` defaults.

    Returns:
        :meth:`ClusterResult.as_dict`, plus ``job_id`` when given.

    Raises:
        NotFoundError: ``job_id`` names no job. Whatever :func:`cluster_group` raises.
    """
    if task.job_id:
        metadata.update_job(task.job_id, status=JobStatus.RUNNING)
    try:
        result = cluster_group(
            task.group_id,
            metadata=metadata,
            vectors=vectors,
            eps=task.eps if task.eps is not None else settings.cluster_eps,
            min_samples=(
                task.min_samples if task.min_samples is not None else settings.cluster_min_samples
            ),
            preserve_manual=task.preserve_manual,
            method=settings.cluster_method,
            linkage_threshold=settings.cluster_linkage_threshold,
        )
    except Exception as exc:
        if task.job_id:
            code = exc.code if isinstance(exc, FindMeError) else type(exc).__name__
            metadata.update_job(task.job_id, status=JobStatus.FAILED, error=f"{code}: {exc}"[:500])
        raise
    out = result.as_dict()
    if task.job_id:
        metadata.update_job(
            task.job_id,
            status=JobStatus.SUCCEEDED,
            result=out,
            error=None,
        )
        out["job_id"] = task.job_id
    return out


# --- place new faces (digest) ------------------------------------------------------------------
# Long on purpose: query, decide and write for one photo's new faces share the same neighbour
# lists; the decision rule itself is domain.incremental.
def place_new_faces(
    group_id: str,
    faces: Sequence[FaceVector],
    *,
    metadata: PlaceNewFacesStore,
    vectors: VectorIndex,
    settings: Settings | None = None,
    threshold: float | None = None,
    neighbours: int = INCREMENTAL_NEIGHBOURS,
) -> dict[str, str | None]:
    """Join new faces to known persons, photo by photo (digest calls this per image).

    Rule (:func:`findme.domain.incremental.place_incremental`), the clustering's own: with
    ``Settings.cluster_method == "average"``, a face joins the person whose faces it matches
    with the highest mean cosine similarity when that mean is
    ``>= Settings.cluster_linkage_threshold`` (so one look-alike face of a person is not
    enough); with DBSCAN (or no settings), the person of its nearest already-placed face
    at cosine similarity ``>= threshold``. Never a person already present in the same photo;
    otherwise the face stays unassigned until the next clustering. Faces that already have a
    person (a re-delivered notification, a manual move) keep it and are left alone. Writes the
    vector payload, then the face item (``is_manual_placement=False``), then bumps the
    person's ``face_count`` and ``image_count`` by one per face (a photo adds at most one
    face to a person); these counts are approximate under concurrent digests and exact again
    after the next clustering.

    Call it after the faces' items and vectors are stored (the vector index is queried
    with ``group_ids=[group_id]``; hits from the same photo, the faces themselves included,
    are ignored).

    Args:
        group_id: the group the faces belong to.
        faces: the new faces' vectors (``vector``: ``(128,) float32``, L2-normalised;
            ``image_id`` set; ``person_id`` ``None`` for faces to place).
        metadata: metadata store.
        vectors: vector index.
        settings: source of ``match_threshold`` when ``threshold`` is not given.
        threshold: cosine similarity to join a person (default ``Settings.match_threshold``,
            0.40 ≈ FAR 1e-3 for SFace on LFW).
        neighbours: stored faces asked per new face.

    Returns:
        ``{face_id: person_id or None}`` for every face given (``None``: left unassigned);
        count the placed ones with ``sum(p is not None for p in result.values())``.

    Raises:
        InvalidInputError: neither ``threshold`` nor ``settings`` given.
        DependencyError: from the stores.
    """
    if threshold is None:
        if settings is None:
            raise InvalidInputError("place_new_faces needs a threshold or settings")
        threshold = settings.match_threshold
    linkage = (
        settings.cluster_linkage_threshold
        if settings is not None and settings.cluster_method == "average"
        else None
    )
    query_floor = min(threshold, LINKAGE_GRAPH_FLOOR) if linkage is not None else threshold
    result: dict[str, str | None] = {f.face_id: f.person_id for f in faces}
    by_image: dict[str, list[FaceVector]] = defaultdict(list)
    for f in faces:
        by_image[f.image_id].append(f)
    gained: dict[str, int] = defaultdict(int)
    known: dict[str, Person | None] = {}  # person id -> the stored person (read once)
    for image_id, image_faces in by_image.items():
        todo = [f for f in image_faces if f.person_id is None]
        if not todo:
            continue
        todo_ids = {f.face_id for f in todo}
        present = {
            f.person_id
            for f in metadata.list_faces_of_image(image_id)
            if f.person_id and f.face_id not in todo_ids
        } | {f.person_id for f in image_faces if f.person_id}
        hits = [
            [
                Neighbour(h.face_id, h.image_id, h.person_id, h.score)
                for h in vectors.query(
                    f.vector, group_ids=[group_id], limit=neighbours, score_threshold=query_floor
                )
            ]
            for f in todo
        ]
        sizes: dict[str, int] = {}
        if linkage is not None:
            for person_id in {h.person_id for face_hits in hits for h in face_hits}:
                if person_id is None:
                    continue
                if person_id not in known:
                    known[person_id] = _person_in_group(metadata, person_id, group_id)
                person = known[person_id]
                sizes[person_id] = person.face_count if person is not None else 1
        chosen = place_incremental(
            hits,
            image_id=image_id,
            threshold=threshold,
            present_person_ids=present,
            person_sizes=sizes,
            linkage_threshold=linkage,
        )
        for face, person_id in zip(todo, chosen, strict=True):
            if person_id is None:
                continue
            if person_id not in known:  # vector payloads may lag a deleted or moved person
                known[person_id] = _person_in_group(metadata, person_id, group_id)
            if known[person_id] is None:
                continue
            vectors.set_person([face.face_id], person_id)
            metadata.update_face_person(face.face_id, person_id, manual=False)
            result[face.face_id] = person_id
            gained[person_id] += 1
    for person_id, count in gained.items():
        person = known.get(person_id)
        if person is None:  # only persons found in the group gain faces
            continue
        try:
            # Only the counts: a concurrent rename, hide or cover change is not overwritten.
            metadata.update_person(
                person_id,
                face_count=person.face_count + count,
                image_count=person.image_count + count,
                updated_at=utcnow(),
            )
        except NotFoundError:
            continue  # deleted meanwhile
    return result


def _person_in_group(metadata: PersonRepository, person_id: str, group_id: str) -> Person | None:
    """The person if it is still stored in this group, else ``None``."""
    try:
        person = metadata.get_person(person_id)
    except NotFoundError:
        return None
    return person if person.group_id == group_id else None
