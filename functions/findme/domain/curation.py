"""Pure curation logic: near-duplicate pairs, person outliers, manual carry-over, drift, stats.

Nothing here does I/O; :mod:`findme.services.curation_access` and its siblings feed it records and
vectors read through the ports. Embeddings are ``(128,) float32`` L2-normalised, so cosine
similarity is a dot product.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from findme.domain.faces import BoundingBox

#: IoU above which a re-detected face is "the same face" as an old one (reprocessing keeps
#: the old face's manual placement). 0.5 is the PASCAL VOC matching criterion.
MANUAL_CARRY_IOU = 0.5

#: Rows per block when comparing embeddings pairwise: ``block x N`` float32 stays ~ a few MB.
_BLOCK = 1024


# --- near duplicates ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two faces from different photos whose cosine similarity is at least the threshold."""

    face_id_1: str
    face_id_2: str
    image_id_1: str
    image_id_2: str
    similarity: float


def duplicate_pairs(
    face_ids: Sequence[str],
    image_ids: Sequence[str],
    vectors: NDArray[np.float32],
    *,
    threshold: float,
    limit: int,
) -> list[DuplicatePair]:
    """The ``limit`` most similar pairs of faces at or above ``threshold``, most similar first.

    Two faces of the same photo are never paired (they are two people, or one detection
    twice, which reprocessing — not duplicate review — fixes). Pairs are unordered and
    reported once, ``face_id_1`` being the face listed first in ``face_ids``. Computed in
    row blocks of the upper triangle of the similarity matrix, so memory stays
    ``O(block · N)``, not ``O(N²)``; time is ``O(N² · 128)``
    (``benchmarks/curation_review.py``).

    Args:
        face_ids: ``N`` face ids.
        image_ids: ``N`` image ids, aligned with ``face_ids``.
        vectors: ``(N, 128) float32`` L2-normalised embeddings, aligned with ``face_ids``.
        threshold: minimum cosine similarity, in ``[-1, 1]``.
        limit: maximum number of pairs returned (``>= 1``).

    Returns:
        Pairs sorted by similarity descending (ties by face ids, for a stable order).
    """
    n = len(face_ids)
    if n != len(image_ids) or vectors.shape[0] != n:
        raise ValueError("face_ids, image_ids and vectors must have the same length")
    if n < 2 or limit < 1:
        return []
    codes = _image_codes(image_ids)
    heap: list[tuple[float, int, int]] = []  # min-heap of the best `limit` (sim, i, j)
    mat = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        # Upper triangle only: rows start..stop against columns start..n (half the products).
        sims = mat[start:stop] @ mat[start:].T  # (block, n - start)
        rows, cols = np.nonzero(sims >= threshold)
        keep = (cols > rows) & (codes[rows + start] != codes[cols + start])
        rows, cols = rows[keep], cols[keep]
        if rows.size > limit:  # only a block's best `limit` pairs can reach the result
            best = np.argpartition(-sims[rows, cols], limit - 1)[:limit]
            rows, cols = rows[best], cols[best]
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            item = (float(sims[r, c]), -(r + start), -(c + start))
            if len(heap) < limit:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    ordered = sorted(heap, reverse=True)
    return [
        DuplicatePair(
            face_id_1=face_ids[-i],
            face_id_2=face_ids[-j],
            image_id_1=image_ids[-i],
            image_id_2=image_ids[-j],
            similarity=min(1.0, sim),
        )
        for sim, i, j in ordered
    ]


def _image_codes(image_ids: Sequence[str]) -> NDArray[np.int64]:
    """Integer code per image id, so "same photo" is one vectorised comparison."""
    index: dict[str, int] = {}
    return np.fromiter(
        (index.setdefault(i, len(index)) for i in image_ids), dtype=np.int64, count=len(image_ids)
    )


# --- outliers ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OutlierScore:
    """A face's mean cosine similarity to the other faces of its person."""

    face_id: str
    person_id: str
    mean_similarity: float


def mean_similarity_to_rest(vectors: NDArray[np.float32]) -> NDArray[np.float64]:
    """For each row, the mean cosine similarity to every *other* row.

    Uses ``(V · Σv − |v|²) / (n − 1)``, which is ``O(n)`` per person instead of ``O(n²)``.

    Args:
        vectors: ``(n, 128) float32`` L2-normalised embeddings of one person, ``n >= 2``.

    Returns:
        ``(n,) float64`` mean cosine similarities.

    Raises:
        ValueError: fewer than two vectors.
    """
    n = vectors.shape[0]
    if n < 2:
        raise ValueError("a mean similarity to the rest needs at least two faces")
    mat = vectors.astype(np.float64)
    total = mat.sum(axis=0)
    self_sim = np.einsum("ij,ij->i", mat, mat)
    result: NDArray[np.float64] = (mat @ total - self_sim) / (n - 1)
    return result


def person_outliers(
    members: Mapping[str, Sequence[tuple[str, NDArray[np.float32]]]],
    *,
    threshold: float,
    limit: int,
) -> list[OutlierScore]:
    """Faces whose mean similarity to the rest of their person is below ``threshold``.

    Persons with fewer than two faces are skipped (nothing to compare with). Follows the
    peer API's outlier review (docs/compatibility.md): mean cosine similarity to the other faces of
    the person, lowest first.

    Args:
        members: person id -> ``[(face_id, (128,) float32 L2-normalised embedding), ...]``.
        threshold: cosine similarity; faces strictly below it are outliers.
        limit: maximum number returned.

    Returns:
        Outliers sorted by ``mean_similarity`` ascending (ties by face id).
    """
    found: list[OutlierScore] = []
    for person_id, faces in members.items():
        if len(faces) < 2:
            continue
        means = mean_similarity_to_rest(np.stack([v for _, v in faces]))
        for (face_id, _), mean in zip(faces, means.tolist(), strict=True):
            if mean < threshold:
                found.append(OutlierScore(face_id, person_id, float(mean)))
    found.sort(key=lambda o: (o.mean_similarity, o.face_id))
    return found[:limit]


# --- reprocessing: manual placements follow the face -------------------------------------------
@dataclass(frozen=True, slots=True)
class BoxedFace:
    """The parts of a face that reprocessing compares: its id, box, person and whether a
    curator placed it (manual placement)."""

    face_id: str
    bbox: BoundingBox
    person_id: str | None = None
    is_manual_placement: bool = False


def carry_manual_placements(
    old: Iterable[BoxedFace],
    new: Iterable[BoxedFace],
    *,
    min_iou: float = MANUAL_CARRY_IOU,
) -> dict[str, str]:
    """Which new faces inherit an old face's manual placement.

    Each old face with ``is_manual_placement`` and a person is matched to at most one new
    face, and each new face to at most one old face, greedily by decreasing IoU, only
    when IoU ``> min_iou``.

    Args:
        old: faces of the photo before reprocessing.
        new: faces detected by reprocessing the same photo.
        min_iou: IoU a pair must exceed (default 0.5).

    Returns:
        new face id -> person id to place it in manually.
    """
    manual = [f for f in old if f.is_manual_placement and f.person_id]
    fresh = list(new)
    candidates = sorted(
        ((o.bbox.iou(n.bbox), oi, ni) for oi, o in enumerate(manual) for ni, n in enumerate(fresh)),
        reverse=True,
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    result: dict[str, str] = {}
    for iou, oi, ni in candidates:
        if iou <= min_iou:
            break
        if oi in used_old or ni in used_new:
            continue
        used_old.add(oi)
        used_new.add(ni)
        person = manual[oi].person_id
        assert person is not None
        result[fresh[ni].face_id] = person
    return result


# --- DynamoDB <-> Qdrant drift ----------------------------------------------------------------
@dataclass(slots=True)
class Drift:
    """Differences between the face items (DynamoDB) and the face vectors (Qdrant) of a group.

    Attributes:
        missing_vectors: face ids with an item but no vector (unsearchable faces).
        orphan_vectors: face ids with a vector but no item (leaked after a partial delete).
        person_mismatches: face id -> (item's person id, vector payload's person id).
        image_mismatches: face ids whose vector names a different image than the item.
    """

    missing_vectors: list[str] = field(default_factory=list)
    orphan_vectors: list[str] = field(default_factory=list)
    person_mismatches: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    image_mismatches: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not (
            self.missing_vectors
            or self.orphan_vectors
            or self.person_mismatches
            or self.image_mismatches
        )


def compare_faces_to_vectors(
    items: Mapping[str, tuple[str, str | None]],
    vectors: Mapping[str, tuple[str, str | None]],
) -> Drift:
    """Compare a group's face items with its vectors.

    Args:
        items: face id -> (image id, person id) from DynamoDB.
        vectors: face id -> (image id, person id) from the Qdrant payloads.

    Returns:
        The drift; every list is sorted for stable output.
    """
    drift = Drift(
        missing_vectors=sorted(items.keys() - vectors.keys()),
        orphan_vectors=sorted(vectors.keys() - items.keys()),
    )
    for face_id in sorted(items.keys() & vectors.keys()):
        item_image, item_person = items[face_id]
        vec_image, vec_person = vectors[face_id]
        if item_person != vec_person:
            drift.person_mismatches[face_id] = (item_person, vec_person)
        if item_image != vec_image:
            drift.image_mismatches.append(face_id)
    return drift


# --- statistics --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CurationStats:
    """Counts and ratios of a group (or of every group) for the statistics endpoints."""

    persons: int
    images: int
    faces: int
    images_with_faces: int
    images_without_faces: int
    manual_assignments: int  # manual placements; the API's field name (StatsOut), kept
    assigned_faces: int
    #: Share of faces assigned to a person, in percent (0 when there are no faces).
    face_coverage_pct: float
    avg_faces_per_image: float
    avg_faces_per_person: float


def compute_stats(
    *,
    persons: int,
    images: int,
    faces: int,
    images_with_faces: int,
    manual_assignments: int,
    assigned_faces: int,
) -> CurationStats:
    """Derive the ratios from raw counts (``0.0`` where a denominator is zero).

    ``face_coverage_pct = 100 · assigned_faces / faces``; ``avg_faces_per_image = faces /
    images``; ``avg_faces_per_person = assigned_faces / persons``. Ratios are rounded to
    two decimals.
    """
    return CurationStats(
        persons=persons,
        images=images,
        faces=faces,
        images_with_faces=images_with_faces,
        images_without_faces=max(0, images - images_with_faces),
        manual_assignments=manual_assignments,
        assigned_faces=assigned_faces,
        face_coverage_pct=round(100.0 * assigned_faces / faces, 2) if faces else 0.0,
        avg_faces_per_image=round(faces / images, 2) if images else 0.0,
        avg_faces_per_person=round(assigned_faces / persons, 2) if persons else 0.0,
    )


def add_stats(parts: Iterable[CurationStats]) -> CurationStats:
    """Sum per-group statistics into global ones (ratios recomputed from the sums)."""
    totals = {
        "persons": 0,
        "images": 0,
        "faces": 0,
        "images_with_faces": 0,
        "manual_assignments": 0,
        "assigned_faces": 0,
    }
    for part in parts:
        for key in totals:
            totals[key] += getattr(part, key)
    return compute_stats(**totals)
