""" "Is this you?": persons that may be the user, and the user's answer.

A person whose evidence for the user lies between the candidate bar and the person bar
(:mod:`findme.domain.matching`) is not given to the user, it is *asked about*
(:func:`list_candidates`). The answer (:func:`answer_candidate`):

- ``is_me = true``: the person becomes a person link of strategy ``confirmed`` (kept by every
  re-cluster and person-link run, like a curator's ``manual`` one), so its photos are
  included from then on;
- ``is_me = false``: the person's face ids are added to the user's membership
  (``Membership.rejected_face_ids``); a person at least half of whose faces were rejected is
  never offered nor matched to that user again, whatever id a re-cluster gives it. An
  automatic person link of the person to the user is deleted.

Only persons currently offered (or matched) to the caller can be answered: a user cannot
claim somebody else's person (403 ``not_a_candidate``).
"""

from __future__ import annotations

from dataclasses import dataclass

from findme.config import Settings
from findme.domain.records import Face, PersonLink, utcnow
from findme.errors import ConflictError, NotFoundError, PermissionDeniedError
from findme.ports import VectorIndex
from findme.services.auth import Principal
from findme.services.person_links import AUTOMATIC_STRATEGIES, delete_person_link
from findme.services.policy import Need, authorize, denied
from findme.services.search import Candidate, MatchUserStore, match_user

#: Most candidates returned per group.
MAX_CANDIDATES = 10

#: Most face ids one membership keeps as rejected (a DynamoDB item holds 400 KB).
MAX_REJECTED_FACES = 5000

#: Strategy of a person link the user confirmed.
CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class CandidateAnswer:
    """What an answer did.

    Attributes:
        person_id: the person.
        group_id: its group.
        is_me: the answer.
        person_link: the ``confirmed`` person link (``is_me``), else ``None``.
        faces_rejected: face ids added to the user's rejections (``not is_me``).
    """

    person_id: str
    group_id: str
    is_me: bool
    person_link: PersonLink | None
    faces_rejected: int


def list_candidates(
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    principal: Principal,
    group_id: str,
    *,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """Up to ``limit`` candidate persons of the caller in ``group_id``, best first.

    Raises:
        NotFoundError: unknown group.
        PermissionDeniedError: the policy (READ: members only).
    """
    authorize(metadata, principal, group_id, Need.READ)
    found = match_user(metadata, vectors, settings, principal.user_id, [group_id])
    return found.candidates[:limit]


def answer_candidate(
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    principal: Principal,
    person_id: str,
    *,
    is_me: bool,
) -> CandidateAnswer:
    """Record the caller's answer about ``person_id`` (module docstring).

    Raises:
        NotFoundError: unknown person.
        PermissionDeniedError: the policy's ``access_denied`` for a person of a group the
            caller is not a member of (admins included: they answer only for themselves);
            ``not_a_candidate``: the person is neither offered nor matched to the caller.
        ConflictError: ``person_assigned``: ``is_me`` for a person a curator or another
            user already holds.
    """
    try:
        person = metadata.get_person(person_id)
    except NotFoundError:
        raise NotFoundError("No such person", person_id=person_id) from None
    group_id = person.group_id
    membership = metadata.get_membership(group_id, principal.user_id)
    if membership is None:
        raise denied(Need.READ, None, "Only the group's members answer for themselves")
    found = match_user(metadata, vectors, settings, principal.user_id, [group_id])
    offered = {c.person_id for c in found.candidates} | set(found.persons)
    existing = [
        a for a in metadata.list_person_links(group_id=group_id) if a.person_id == person_id
    ]
    mine = [a for a in existing if a.user_id == principal.user_id]
    if person_id not in offered and not mine:
        raise PermissionDeniedError(
            "This person is not offered to you", code="not_a_candidate", person_id=person_id
        )
    faces = [f for f in metadata.list_faces_of_person(person_id) if f.group_id == group_id]
    if is_me:
        others = [a for a in existing if a.user_id != principal.user_id]
        if any(a.strategy not in AUTOMATIC_STRATEGIES for a in others):
            raise ConflictError(
                "This person is already assigned to someone else", code="person_assigned"
            )
        evidence = {c.person_id: c.score for c in found.candidates} | found.persons
        link = PersonLink(
            group_id=group_id,
            person_id=person_id,
            user_id=principal.user_id,
            similarity=round(evidence.get(person_id, 0.0), 4),
            strategy=CONFIRMED,
        )
        metadata.put_person_link(link)
        if person.linked_user_id != principal.user_id:
            metadata.update_person(person_id, linked_user_id=principal.user_id, updated_at=utcnow())
        face_ids = {f.face_id for f in faces}
        if face_ids & set(membership.rejected_face_ids):
            membership.rejected_face_ids = [
                f for f in membership.rejected_face_ids if f not in face_ids
            ]
            metadata.put_membership(membership)
        return CandidateAnswer(person_id, group_id, True, link, 0)
    added = _reject(membership.rejected_face_ids, faces)
    metadata.put_membership(membership)
    if mine:  # the person link goes, and the person is unlinked from the user
        delete_person_link(metadata, group_id, person_id)
    return CandidateAnswer(person_id, group_id, False, None, added)


def _reject(rejected: list[str], faces: list[Face]) -> int:
    """Append the faces' ids to ``rejected`` (newest kept when over the cap)."""
    known = set(rejected)
    new = [f.face_id for f in faces if f.face_id not in known]
    rejected.extend(new)
    if len(rejected) > MAX_REJECTED_FACES:
        del rejected[: len(rejected) - MAX_REJECTED_FACES]
    return len(new)
