"""Which persons of a group are a user's: open-set identification decided per person.

A selfie is compared with every face of an event, so a rule that accepts one face at a fixed
cosine similarity (and then the whole person of that face) hands out a stranger's photos as
soon as the event is big enough: expected false matches per search grow with the number of
faces searched. FindMe decides per *person* (cluster) instead, with bars that rise with the
size of the gallery.

**Evidence.** A face's score is its best cosine similarity to any of the user's reference
embeddings (every selfie of ``POST /users/me/selfies`` counts). A person's evidence is the
mean of its ``top_k`` best face scores (:func:`person_evidence`): one look-alike face cannot
carry a person that also holds clearly different faces, while a person seen in profile
still counts its frontal shots.

**Bars from a target of expected false matches.** Scores of SFace impostor pairs are close
to normal: on ``../shared/data/event-dev`` (712,700 selfie-to-stranger pairs) mean
``mu = 0.090``, sd ``sigma = 0.092``, and the normal tail matches the measured false-match
rate from 1e-2 down to 5e-6 (README "Matching"). For ``n`` comparisons (persons or
unclustered faces searched, times the user's reference count) and a target of
``E`` expected false matches per search, the per-comparison false-match rate may be
``E / n``, so the bar is::

    t(n, E) = max(floor, mu + sigma * z(1 - E / n))      z = standard normal quantile

- *person bar*: ``n = persons searched x references``, ``E = expected_false_matches``
  (``Settings.match_expected_false_persons``, 0.02: one false person in fifty searches);
- *face bar*, for faces in no person: ``n = unclustered faces x references``,
  ``E = face_expected_false_matches`` (0.002): a lone face has no other face to back it and
  is most often a one-photo guest, so it gets a stricter target;
- *candidate bar* ("Is this you?"): ``E = candidate_false_matches`` (1.0), with a lower
  floor; persons between the candidate and person bars are asked about, not given.

So a group of 100 faces and one of 100,000 keep the same expected number of false matches
per search (the person bar for 310 persons is 0.44; for 30,000, 0.54). Table and
calibration: ``docs/matching.md``.

**Exclusivity.** A person goes to at most one registered member of the group: when another
member's evidence for it is higher, it is not the user's (twins, siblings, look-alikes who
both registered).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from findme.errors import InvalidInputError

#: SFace impostor cosine similarity: mean and standard deviation of 712,700 selfie-to-stranger
#: pairs on ../shared/data/event-dev (README "Matching"; faces-dev gave 0.127 ± 0.088).
IMPOSTOR_MEAN = 0.090
IMPOSTOR_SD = 0.092

#: Best faces of a person averaged into its evidence.
EVIDENCE_TOP_K = 3


@dataclass(frozen=True, slots=True)
class ImpostorModel:
    """Normal model of impostor cosine similarity (per pair of faces).

    Attributes:
        mean: mean cosine similarity of impostor pairs.
        sd: standard deviation, ``> 0``.
    """

    mean: float = IMPOSTOR_MEAN
    sd: float = IMPOSTOR_SD

    def false_match_rate(self, threshold: float) -> float:
        """Probability that an impostor pair scores ``>= threshold``."""
        return 1.0 - NormalDist(self.mean, self.sd).cdf(threshold)

    def threshold(self, comparisons: int, expected_false_matches: float) -> float:
        """Cosine similarity at which ``comparisons`` impostor pairs give
        ``expected_false_matches`` false matches on average.

        Raises:
            InvalidInputError: ``expected_false_matches <= 0``.
        """
        if expected_false_matches <= 0:
            raise InvalidInputError("expected_false_matches must be > 0")
        rate = expected_false_matches / max(comparisons, 1)
        if rate >= 0.5:
            return self.mean
        return NormalDist(self.mean, self.sd).inv_cdf(1.0 - rate)


@dataclass(frozen=True, slots=True)
class MatchBars:
    """The three cosine-similarity bars of one search (see the module docstring).

    Attributes:
        person: a person's evidence at or above it: the user's photos.
        face: a face in no person at or above it: the user's photo.
        candidate: a person's evidence at or above it (below ``person``): "Is this you?".
    """

    person: float
    face: float
    candidate: float

    @classmethod
    def for_gallery(
        cls,
        *,
        persons: int,
        unclustered_faces: int,
        references: int,
        expected_false_matches: float,
        candidate_false_matches: float,
        floor: float,
        face_expected_false_matches: float | None = None,
        candidate_floor: float,
        model: ImpostorModel | None = None,
    ) -> MatchBars:
        """Bars for a search of ``references`` selfies over a gallery.

        Args:
            persons: persons in the groups searched.
            unclustered_faces: faces in no person.
            references: the user's reference embeddings (``>= 1``).
            expected_false_matches: target false persons given per search.
            face_expected_false_matches: target false lone faces given per search
                (default: ``expected_false_matches``).
            candidate_false_matches: target false candidates offered per search.
            floor: lowest person/face bar (``Settings.match_threshold``).
            candidate_floor: lowest candidate bar.
            model: impostor model (default: SFace's).
        """
        m = model or ImpostorModel()
        refs = max(references, 1)
        person = max(floor, m.threshold(persons * refs, expected_false_matches))
        face_target = (
            expected_false_matches
            if face_expected_false_matches is None
            else face_expected_false_matches
        )
        face = max(floor, m.threshold(unclustered_faces * refs, face_target))
        candidate = max(candidate_floor, m.threshold(persons * refs, candidate_false_matches))
        return cls(person=person, face=face, candidate=min(candidate, person))


def face_scores(
    faces: NDArray[np.floating], references: NDArray[np.floating]
) -> NDArray[np.float32]:
    """Best cosine similarity of each face to any reference.

    Args:
        faces: ``(N, D)`` L2-normalised face embeddings.
        references: ``(R, D)`` L2-normalised reference embeddings, ``R >= 1``.

    Returns:
        ``(N,) float32`` (``-1`` for every face when ``R == 0``).
    """
    f = np.asarray(faces, dtype=np.float32).reshape(-1, np.shape(faces)[-1] if len(faces) else 1)
    r = np.asarray(references, dtype=np.float32)
    if f.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    if r.size == 0:
        return np.full(f.shape[0], -1.0, dtype=np.float32)
    out: NDArray[np.float32] = (f @ r.T).max(axis=1).astype(np.float32)
    return out


def person_evidence(scores: NDArray[np.floating], top_k: int = EVIDENCE_TOP_K) -> float:
    """Mean of a person's ``top_k`` best face scores (all of them when it has fewer).

    Args:
        scores: ``(n,)`` face scores (cosine similarity), ``n >= 1``.
        top_k: faces averaged, ``>= 1``.

    Raises:
        InvalidInputError: no scores or ``top_k < 1``.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size == 0 or top_k < 1:
        raise InvalidInputError("person_evidence needs at least one score and top_k >= 1")
    k = min(top_k, s.size)
    top = np.partition(s, s.size - k)[s.size - k :]
    return float(top.mean())


@dataclass(slots=True)
class MatchDecision:
    """What one search decided.

    Attributes:
        persons: person id -> evidence, for the user's persons.
        faces: face id -> score, for the user's faces that are in no person.
        candidates: person id -> evidence, between the candidate and person bars.
        bars: the bars used.
    """

    persons: dict[str, float] = field(default_factory=dict)
    faces: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, float] = field(default_factory=dict)
    bars: MatchBars | None = None


def decide(
    person_scores: Mapping[str, NDArray[np.floating]],
    unclustered_scores: Mapping[str, float],
    bars: MatchBars,
    *,
    rival_evidence: Mapping[str, float] | None = None,
    top_k: int = EVIDENCE_TOP_K,
) -> MatchDecision:
    """Apply the bars (module docstring) to one user's scores.

    Args:
        person_scores: person id -> ``(n,)`` scores of its faces (all of them).
        unclustered_scores: face id -> score, for faces in no person.
        bars: from :meth:`MatchBars.for_gallery`.
        rival_evidence: person id -> the highest evidence of any *other* registered member
            of the group; a person whose rival evidence is higher is not the user's.
        top_k: faces averaged into a person's evidence.

    Returns:
        A :class:`MatchDecision`.
    """
    rivals = rival_evidence or {}
    out = MatchDecision(bars=bars)
    for person_id, scores in person_scores.items():
        if len(scores) == 0:
            continue
        evidence = person_evidence(scores, top_k)
        if evidence < bars.candidate or rivals.get(person_id, -1.0) > evidence:
            continue
        if evidence >= bars.person:
            out.persons[person_id] = evidence
        else:
            out.candidates[person_id] = evidence
    for face_id, score in unclustered_scores.items():
        if score >= bars.face:
            out.faces[face_id] = float(score)
    return out
