"""Statistics per group and overall, and the DynamoDB <-> Qdrant consistency check and repair.

DynamoDB is the source of truth for which faces exist and who they are; Qdrant holds one
vector per face with ``person_id`` in its payload. Drift comes from a step failing between
the two writes (see :mod:`findme.services.face_deletion` for the write order). The repair:

- orphan vectors (no face item) are deleted;
- person mismatches get the item's person written to the payload;
- faces without a vector, or whose vector names another image, cannot be rebuilt without
  the face engine: their photos are reported (``reprocess_image_ids``) for a reprocess job;
- faces pointing at a person that no longer exists are unassigned, and persons whose stored
  counts disagree with their faces are recounted (empty ones removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from findme.domain.curation import (
    CurationStats,
    Drift,
    add_stats,
    compare_faces_to_vectors,
    compute_stats,
)
from findme.ports import (
    FaceRepository,
    GroupRepository,
    ImageRepository,
    PersonRepository,
    VectorIndex,
)
from findme.services.catalog import RefreshPersonsStore
from findme.services.curation_access import refresh_persons
from findme.services.groups import iter_group_images
from findme.services.policy import Need, Policy


class GroupStatsStore(ImageRepository, FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`group_stats` uses."""


class GlobalStatsStore(GroupRepository, GroupStatsStore, Protocol):
    """The metadata repositories :func:`global_stats` uses."""


class CheckConsistencyStore(GroupRepository, RefreshPersonsStore, Protocol):
    """The metadata repositories :func:`check_consistency` uses (:func:`_repair`: the
    :class:`~findme.services.catalog.RefreshPersonsStore` part)."""


def group_stats(metadata: GroupStatsStore, group_id: str) -> CurationStats:
    """Counts of one group (O(images + faces + persons) reads).

    Persons are counted as stored (hidden ones included); ``assigned_faces`` are faces with
    a person; ``manual_assignments`` are manual placements (faces a curator placed).
    """
    persons = metadata.list_persons(group_id)
    images = list(iter_group_images(metadata, group_id))
    faces = list(metadata.list_faces_of_group(group_id))
    images_with_faces = len({f.image_id for f in faces} & {i.image_id for i in images})
    return compute_stats(
        persons=len(persons),
        images=len(images),
        faces=len(faces),
        images_with_faces=images_with_faces,
        manual_assignments=sum(1 for f in faces if f.is_manual_placement and f.person_id),
        assigned_faces=sum(1 for f in faces if f.person_id),
    )


@dataclass(slots=True)
class GlobalStats:
    totals: CurationStats
    groups: int
    per_group: dict[str, CurationStats] = field(default_factory=dict)


def global_stats(metadata: GlobalStatsStore, policy: Policy) -> GlobalStats:
    """Totals over every group where the caller sees everything (UPLOAD; admins: every
    group). A caller with no such group gets zeros over no group."""
    if policy.is_admin:
        group_ids = sorted(g.group_id for g in metadata.list_all_groups())
    else:
        group_ids = policy.groups(Need.UPLOAD, None, param="group_id")
    per_group = {gid: group_stats(metadata, gid) for gid in group_ids}
    return GlobalStats(
        totals=add_stats(per_group.values()), groups=len(group_ids), per_group=per_group
    )


# --- consistency ---------------------------------------------------------------------------------
@dataclass(slots=True)
class ConsistencyReport:
    """Drift found in one group (and, after a repair, what was fixed)."""

    group_id: str
    face_items: int
    vectors: int
    drift: Drift
    dangling_person_face_ids: list[str] = field(default_factory=list)
    miscounted_person_ids: list[str] = field(default_factory=list)
    repaired: bool = False
    fixed: dict[str, int] = field(default_factory=dict)
    reprocess_image_ids: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return (
            self.drift.consistent
            and not self.dangling_person_face_ids
            and not self.miscounted_person_ids
        )


def check_consistency(
    metadata: CheckConsistencyStore, vectors: VectorIndex, group_id: str, *, repair: bool = False
) -> ConsistencyReport:
    """Compare a group's face items with its vectors and person counts; optionally repair.

    Args:
        group_id: the group (the caller's rights are checked by the caller).
        repair: apply the repairs listed in the module docstring.

    Returns:
        The report of what was found (before the repair) and what was fixed.
    """
    metadata.get_group(group_id)
    faces = list(metadata.list_faces_of_group(group_id))
    items = {f.face_id: (f.image_id, f.person_id) for f in faces}
    payloads = {
        v.face_id: (v.image_id, v.person_id)
        for v in vectors.scroll_group(group_id, with_vectors=False)
    }
    drift = compare_faces_to_vectors(items, payloads)
    persons = {p.person_id: p for p in metadata.list_persons(group_id)}
    dangling = sorted(f.face_id for f in faces if f.person_id and f.person_id not in persons)
    actual: dict[str, tuple[int, set[str]]] = {}
    for face in faces:
        if face.person_id in persons:
            count, images = actual.setdefault(face.person_id, (0, set()))
            images.add(face.image_id)
            actual[face.person_id] = (count + 1, images)
    miscounted = sorted(
        pid
        for pid, person in persons.items()
        if (person.face_count, person.image_count)
        != ((actual[pid][0], len(actual[pid][1])) if pid in actual else (0, 0))
    )
    report = ConsistencyReport(
        group_id=group_id,
        face_items=len(items),
        vectors=len(payloads),
        drift=drift,
        dangling_person_face_ids=dangling,
        miscounted_person_ids=miscounted,
    )
    by_id = {f.face_id: f for f in faces}
    report.reprocess_image_ids = sorted(
        {by_id[i].image_id for i in drift.missing_vectors + drift.image_mismatches}
    )
    if repair:
        _repair(metadata, vectors, report)
    return report


def _repair(metadata: RefreshPersonsStore, vectors: VectorIndex, report: ConsistencyReport) -> None:
    drift = report.drift
    fixed = {
        "orphan_vectors_deleted": 0,
        "payloads_updated": 0,
        "faces_unassigned": 0,
        "persons_recounted": 0,
        "persons_removed": 0,
    }
    if drift.orphan_vectors:
        vectors.delete_faces(drift.orphan_vectors)
        fixed["orphan_vectors_deleted"] = len(drift.orphan_vectors)
    dangling = set(report.dangling_person_face_ids)
    for face_id in report.dangling_person_face_ids:
        metadata.update_face_person(face_id, None, manual=False)
        fixed["faces_unassigned"] += 1
    by_person: dict[str | None, list[str]] = {}
    for face_id, (item_person, _) in drift.person_mismatches.items():
        target = None if face_id in dangling else item_person
        by_person.setdefault(target, []).append(face_id)
    for face_id in dangling - drift.person_mismatches.keys() - set(drift.missing_vectors):
        by_person.setdefault(None, []).append(face_id)
    for person_id, face_ids in by_person.items():
        vectors.set_person(face_ids, person_id)
        fixed["payloads_updated"] += len(face_ids)
    if report.miscounted_person_ids:
        removed = refresh_persons(metadata, report.miscounted_person_ids, group_id=report.group_id)
        fixed["persons_removed"] = len(removed)
        fixed["persons_recounted"] = len(report.miscounted_person_ids) - len(removed)
    report.repaired = True
    report.fixed = fixed
