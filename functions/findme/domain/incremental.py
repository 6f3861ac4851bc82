"""Place new faces between two clusterings: new faces of one photo join known persons.

Digest places each new face with :func:`place_incremental` (the clustering's own notion of
"same person", :mod:`findme.domain.clustering`) until the next clustering re-decides; the
cluster service asks the vector index for the neighbours. numpy only: the digest image ships
no scipy, scikit-learn or faiss.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from findme.domain.neighbour_graph import normalize_rows


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An already-stored face near a new face.

    Attributes:
        face_id: the stored face.
        image_id: its photo.
        person_id: its person, or ``None`` when unassigned.
        similarity: cosine similarity to the new face, in ``[-1, 1]``.
    """

    face_id: str
    image_id: str
    person_id: str | None
    similarity: float


def place_incremental(
    neighbours: Sequence[Sequence[Neighbour]],
    *,
    image_id: str,
    threshold: float,
    present_person_ids: Collection[str] = (),
    person_sizes: Mapping[str, int] | None = None,
    linkage_threshold: float | None = None,
) -> list[str | None]:
    """Persons for the new faces of one photo, between two clusterings.

    With ``linkage_threshold`` (average linkage, the default clustering), the rule is the
    clustering's own: a face joins the person with the highest *mean* cosine similarity over
    the person's faces, when that mean is ``>= linkage_threshold``: one look-alike face of a
    big person is not enough. Only the neighbours returned are known, so the others count 0
    (a slight under-estimate of the exact UPGMA mean :mod:`findme.domain.linkage` uses), and
    a person larger than the neighbours asked is averaged over that many.

    Rule (docs/compatibility.md, incremental placement): a new face joins the person of its
    *nearest already-placed face* in the group when their cosine similarity is
    ``>= threshold``; it never joins a person already present in the same photo; otherwise it stays
    unassigned until the next clustering. Faces of the photo itself are never neighbours. When
    two new faces of the photo want the same person, the more similar one gets it (faces are
    served in order of their best similarity). A face whose nearest person is taken stays
    unassigned rather than falling back to a weaker person (a second face of someone is likelier
    a poster or reflection than a different person).

    Args:
        neighbours: per new face, stored faces near it (any order; unassigned ones and faces
            of ``image_id`` are ignored).
        image_id: the photo the new faces belong to.
        threshold: cosine similarity, ``Settings.match_threshold`` (0.40 ≈ FAR 1e-3 on LFW
            for SFace, ARCHITECTURE.md §4).
        present_person_ids: persons that already have a face in this photo.
        person_sizes: faces per person (``Person.face_count``), for the linkage rule.
        linkage_threshold: switch to the linkage rule with this bar (cosine similarity).

    Returns:
        Per new face, in input order, the person to join or ``None``.
    """
    best: list[tuple[float, str] | None] = []
    if linkage_threshold is not None:
        sizes = person_sizes or {}
        for hits in neighbours:
            cap = max(len(hits), 1)
            sums: dict[str, float] = {}
            for hit in hits:
                if hit.person_id is None or hit.image_id == image_id or hit.similarity <= 0:
                    continue
                sums[hit.person_id] = sums.get(hit.person_id, 0.0) + hit.similarity
            means = {p: v / max(1, min(sizes.get(p, 1), cap)) for p, v in sums.items()}
            pick = max(((v, p) for p, v in means.items() if v >= linkage_threshold), default=None)
            best.append(pick)
        return _serve(best, present_person_ids)
    for hits in neighbours:
        top: tuple[float, str] | None = None
        for hit in hits:
            if hit.person_id is None or hit.image_id == image_id or hit.similarity < threshold:
                continue
            if top is None or hit.similarity > top[0]:
                top = (hit.similarity, hit.person_id)
        best.append(top)
    return _serve(best, present_person_ids)


def _serve(
    best: Sequence[tuple[float, str] | None], present_person_ids: Collection[str]
) -> list[str | None]:
    """Give each face its wanted person, most similar first, never a person taken twice."""
    taken = set(present_person_ids)
    result: list[str | None] = [None] * len(best)
    order = sorted(
        (i for i, b in enumerate(best) if b is not None),
        key=lambda i: -best[i][0],  # type: ignore[index]
    )
    for i in order:
        _, person = best[i]  # type: ignore[misc]
        if person not in taken:
            result[i] = person
            taken.add(person)
    return result


def neighbours_from_vectors(
    query: NDArray[np.floating],
    stored: NDArray[np.floating],
    face_ids: Sequence[str],
    image_ids: Sequence[str],
    person_ids: Sequence[str | None],
    *,
    limit: int = 50,
) -> list[list[Neighbour]]:
    """Nearest stored faces of each query face by cosine similarity (brute force, for tests
    and small groups; the service asks the vector index instead).

    Args:
        query: ``(Q, D)`` new face embeddings.
        stored: ``(M, D)`` stored face embeddings.
        face_ids, image_ids, person_ids: ``M`` payloads of ``stored``.
        limit: neighbours kept per query face.

    Returns:
        Per query face, up to ``limit`` :class:`Neighbour`, most similar first.
    """
    q, _ = normalize_rows(np.atleast_2d(query))
    s, _ = normalize_rows(np.atleast_2d(stored))
    if s.shape[0] == 0:
        return [[] for _ in range(q.shape[0])]
    sims = q @ s.T
    out: list[list[Neighbour]] = []
    for row in sims:
        top = np.argsort(-row, kind="stable")[:limit]
        out.append(
            [
                Neighbour(face_ids[j], image_ids[j], person_ids[j], float(row[j]))
                for j in top.tolist()
            ]
        )
    return out
