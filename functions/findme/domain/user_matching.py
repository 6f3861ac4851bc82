"""Persons (clusters) to registered users, by their selfie embeddings.

Three strategies:

- ``evidence`` (default): the rule of ``GET /get`` (:mod:`findme.domain.matching`): the
  person's evidence for a user is the mean of its ``top_k`` best face scores; the person goes
  to the user with the highest evidence when it is ``>= threshold`` (the person bar of the
  group, from its size and a target number of expected false matches).

and two from the peer system's cluster-to-user matching:

- ``centroid``: the cosine similarity between the person's centroid (L2-normalised mean of
  its face embeddings, the usual class prototype of embedding-based face recognition, e.g.
  FaceNet, Schroff et al. 2015) and the user's closest reference (selfie) embedding;
  the person goes to the most similar user when that similarity is ``>= threshold``.
- ``vote``: each face of the person votes for the users whose closest reference is within
  ``threshold``; the person goes to the user with the largest share of votes when that
  share is ``>= min_vote_fraction`` (ties: the higher mean similarity). Robust to a few
  wrong faces in a cluster, where a centroid is pulled off.

A person goes to at most one user; a user may get several persons (one person split in
two clusters). Embeddings are ``(·, D)`` float, normalised here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from findme.domain.matching import EVIDENCE_TOP_K
from findme.domain.neighbour_graph import normalize_rows
from findme.errors import InvalidInputError


class Strategy(enum.StrEnum):
    EVIDENCE = "evidence"
    CENTROID = "centroid"
    VOTE = "vote"


@dataclass(frozen=True, slots=True)
class UserMatch:
    """A person matched to a user.

    Attributes:
        person_id: the person.
        user_id: the user.
        similarity: a cosine similarity, whatever the strategy: ``evidence``: the person's
            evidence for the user (mean of its best faces); ``centroid``: of the centroid to
            the user's closest reference; ``vote``: ``mean_similarity``.
        mean_similarity: mean over the person's faces of the cosine similarity to the user's
            closest reference.
        vote_share: ``vote`` only: share of the person's faces voting for the user, in
            ``[0, 1]`` (what the strategy decides on); ``None`` otherwise.
    """

    person_id: str
    user_id: str
    similarity: float
    mean_similarity: float
    vote_share: float | None = None


def _user_similarity(
    unit: NDArray[np.float32], refs: NDArray[np.float32], ref_users: NDArray[np.intp], n_users: int
) -> NDArray[np.float32]:
    """``(len(unit), n_users)``: per row, the best cosine similarity to each user's references."""
    sims = unit @ refs.T
    best = np.full((unit.shape[0], n_users), -np.inf, dtype=np.float32)
    for u in range(n_users):
        cols = ref_users == u
        if cols.any():
            best[:, u] = sims[:, cols].max(axis=1)
    return best


def match_persons_to_users(
    face_embeddings: NDArray[np.floating],
    face_person_ids: Sequence[str | None],
    reference_embeddings: NDArray[np.floating],
    reference_user_ids: Sequence[str],
    *,
    strategy: Strategy | str = Strategy.CENTROID,
    threshold: float,
    min_vote_fraction: float = 0.5,
    top_k: int = EVIDENCE_TOP_K,
) -> list[UserMatch]:
    """Match every person to at most one user (see the module docstring).

    Args:
        face_embeddings: ``(N, D)`` face embeddings of the group.
        face_person_ids: ``N`` persons (``None`` rows are ignored).
        reference_embeddings: ``(R, D)`` users' selfie embeddings.
        reference_user_ids: ``R`` owners of the references.
        strategy: ``centroid`` or ``vote``.
        threshold: cosine similarity (``Settings.match_threshold``, 0.40 ≈ FAR 1e-3).
        min_vote_fraction: ``vote`` only: share of faces that must vote for the user.
        top_k: ``evidence`` only: best faces averaged.

    Returns:
        One :class:`UserMatch` per matched person, sorted by person id.

    Raises:
        InvalidInputError: unknown strategy, or lengths that do not match.
    """
    try:
        strategy = Strategy(strategy)
    except ValueError as exc:
        raise InvalidInputError(
            "strategy must be 'evidence', 'centroid' or 'vote'", field="strategy"
        ) from exc
    faces, face_ok = normalize_rows(np.atleast_2d(np.asarray(face_embeddings, dtype=np.float32)))
    refs, ref_ok = normalize_rows(np.atleast_2d(np.asarray(reference_embeddings, dtype=np.float32)))
    if len(face_person_ids) != faces.shape[0] or len(reference_user_ids) != refs.shape[0]:
        raise InvalidInputError("embeddings and their ids must have the same length")
    if not len(reference_user_ids) or not len(face_person_ids):
        return []
    users = sorted(set(reference_user_ids))
    user_code = {u: i for i, u in enumerate(users)}
    ref_users = np.array([user_code[u] for u in reference_user_ids], dtype=np.intp)
    refs, ref_users = refs[ref_ok], ref_users[ref_ok]

    by_person: dict[str, list[int]] = {}
    for i, (p, ok) in enumerate(zip(face_person_ids, face_ok.tolist(), strict=True)):
        if p is not None and ok:
            by_person.setdefault(p, []).append(i)
    matches: list[UserMatch] = []
    for person_id in sorted(by_person):
        unit = faces[by_person[person_id]]
        per_face = _user_similarity(unit, refs, ref_users, len(users))
        mean = per_face.mean(axis=0)
        if strategy is Strategy.EVIDENCE:
            k = min(top_k, per_face.shape[0])
            evidence = -np.sort(-per_face, axis=0)[:k].mean(axis=0)
            best = int(np.argmax(evidence))
            if evidence[best] >= threshold:
                matches.append(
                    UserMatch(person_id, users[best], float(evidence[best]), float(mean[best]))
                )
        elif strategy is Strategy.CENTROID:
            centroid, _ = normalize_rows(unit.sum(axis=0, keepdims=True))
            score = _user_similarity(centroid, refs, ref_users, len(users))[0]
            best = int(np.argmax(score))
            if score[best] >= threshold:
                matches.append(
                    UserMatch(person_id, users[best], float(score[best]), float(mean[best]))
                )
        else:
            votes = (per_face >= threshold).mean(axis=0)
            best = int(np.lexsort((-mean, -votes))[0])
            if votes[best] >= min_vote_fraction and votes[best] > 0:
                matches.append(
                    UserMatch(
                        person_id,
                        users[best],
                        float(mean[best]),
                        float(mean[best]),
                        vote_share=float(votes[best]),
                    )
                )
    return matches
