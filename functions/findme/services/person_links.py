"""Person links: link a group's persons (clusters) to registered users by their selfies.

:func:`link_persons_to_users` matches each person of a group to at most one user
(:func:`findme.domain.user_matching.match_persons_to_users`, strategy ``evidence``,
``centroid`` or ``vote``), stores one :class:`~findme.domain.records.PersonLink` per matched
person and sets ``Person.linked_user_id``. A run replaces the group's earlier automatic links
(strategies ``evidence``, ``centroid`` and ``vote``); any other link (a curator's ``manual``
one, a user's ``confirmed`` one) is kept and its person is not re-matched.
:func:`list_person_links` and :func:`delete_person_link` serve the API.

Candidates are the group's members by default (``GroupRepository.list_members``); their
reference vectors are read by id (``UserRepository.list_reference_faces`` then
``VectorIndex.get``), whatever group the selfie points carry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from findme.config import Settings
from findme.domain.faces import stack_embeddings
from findme.domain.records import PersonLink, utcnow
from findme.domain.user_matching import Strategy, UserMatch, match_persons_to_users
from findme.errors import InvalidInputError, NotFoundError
from findme.ports import (
    FaceVector,
    GroupRepository,
    PersonLinkRepository,
    PersonRepository,
    UserRepository,
    VectorIndex,
)


class PersonLinkStatsStore(PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`_store_run`, :func:`user_person_link_stats`,
    :func:`delete_person_link` use.
    """


class LinkPersonsToUsersStore(
    UserRepository, GroupRepository, PersonRepository, PersonLinkRepository, Protocol
):
    """The metadata repositories :func:`link_persons_to_users` uses."""


#: Strategies whose person links a new run replaces.
AUTOMATIC_STRATEGIES = frozenset(s.value for s in Strategy)


@dataclass(slots=True)
class PersonLinkRun:
    """What one run did.

    Attributes:
        group_id: the group.
        strategy: ``evidence``, ``centroid`` or ``vote``.
        threshold: cosine similarity used.
        links: the person links stored by this run.
        removed: earlier automatic links that no longer hold (deleted).
        persons_considered: persons with at least one face vector.
        users_considered: candidate users with at least one reference vector.
    """

    group_id: str
    strategy: str
    threshold: float
    links: list[PersonLink] = field(default_factory=list)
    removed: int = 0
    persons_considered: int = 0
    users_considered: int = 0


def link_persons_to_users(
    group_id: str,
    *,
    metadata: LinkPersonsToUsersStore,
    vectors: VectorIndex,
    threshold: float | None = None,
    strategy: Strategy | str = Strategy.EVIDENCE,
    min_vote_fraction: float = 0.5,
    user_ids: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> PersonLinkRun:
    """Match the group's persons to users and store the person links.

    Args:
        group_id: the group.
        metadata: metadata store.
        vectors: vector index (face vectors of the group, users' reference vectors).
        threshold: cosine similarity in ``[-1, 1]``; default: for ``evidence`` the group's
            person bar (:func:`findme.services.search.match_bars`, the rule of ``GET /get``),
            else ``Settings.match_threshold``.
        strategy: ``evidence`` (default), ``centroid`` or ``vote``
            (see :mod:`findme.domain.user_matching`).
        min_vote_fraction: ``vote``: share of a person's faces that must match the user.
        user_ids: candidate users, all members of the group; default: every member.
        settings: matching settings (default: ``Settings()``).

    Returns:
        An :class:`PersonLinkRun`.

    Raises:
        NotFoundError: unknown group.
        InvalidInputError: unknown strategy, threshold outside ``[-1, 1]``,
            ``min_vote_fraction`` outside ``(0, 1]``, or ``not_group_member``: a ``user_ids``
            entry that is not a member of the group.
    """
    strategy = _strategy(strategy)
    settings = settings or Settings()
    if threshold is not None and not -1.0 <= threshold <= 1.0:
        raise InvalidInputError("threshold must be in [-1, 1]", field="threshold")
    if not 0.0 < min_vote_fraction <= 1.0:
        raise InvalidInputError("min_vote_fraction must be in (0, 1]", field="min_vote_fraction")
    metadata.get_group(group_id)
    candidates = _candidates(metadata, group_id, user_ids)
    owner, refs = _reference_vectors(metadata, vectors, candidates)
    previous = metadata.list_person_links(group_id=group_id)
    fixed = {a.person_id for a in previous if a.strategy not in AUTOMATIC_STRATEGIES}
    face_vectors = [
        v
        for v in vectors.scroll_group(group_id, with_vectors=True)
        if v.person_id is not None and v.person_id not in fixed
    ]
    if threshold is None:
        if strategy is Strategy.EVIDENCE:
            from findme.services.search import match_bars

            most_refs = max(Counter(owner.values()).values(), default=1)
            threshold = match_bars(metadata, vectors, settings, group_id, most_refs).person
        else:
            threshold = settings.match_threshold
    matches = match_persons_to_users(
        stack_embeddings([v.vector for v in face_vectors]),
        [v.person_id for v in face_vectors],
        stack_embeddings([v.vector for v in refs]),
        [owner[v.face_id] for v in refs],
        strategy=strategy,
        threshold=threshold,
        min_vote_fraction=min_vote_fraction,
        top_k=settings.match_top_k,
    )
    run = PersonLinkRun(
        group_id=group_id,
        strategy=strategy.value,
        threshold=threshold,
        persons_considered=len({v.person_id for v in face_vectors}),
        users_considered=len({owner[v.face_id] for v in refs}),
    )
    _store_run(metadata, run, matches, previous, fixed)
    return run


def _candidates(
    metadata: GroupRepository, group_id: str, user_ids: Sequence[str] | None
) -> list[str]:
    """The users to match: ``user_ids`` (each a member, else ``not_group_member``) or every
    member of the group."""
    members = [m.user_id for m in metadata.list_members(group_id)]
    if user_ids is None:
        return members
    candidates = list(dict.fromkeys(user_ids))
    outsiders = sorted(set(candidates) - set(members))
    if outsiders:
        # a selfie of a non-member must not be probed against the group's faces
        raise InvalidInputError(
            "user_ids must be members of the group",
            code="not_group_member",
            field="user_ids",
            user_ids=outsiders[:20],
        )
    return candidates


def _reference_vectors(
    metadata: UserRepository, vectors: VectorIndex, user_ids: Sequence[str]
) -> tuple[dict[str, str], list[FaceVector]]:
    """The users' selfie vectors -> ``(owner, refs)``: reference face id -> user id, and the
    stored ``reference`` vectors (ids without a vector are left out)."""
    owner: dict[str, str] = {}
    for user_id in user_ids:
        for ref in metadata.list_reference_faces(user_id):
            owner[ref.face_id] = user_id
    refs = [v for v in vectors.get(list(owner)) if v.face_id in owner and v.kind == "reference"]
    return owner, refs


def _store_run(
    metadata: PersonLinkStatsStore,
    run: PersonLinkRun,
    matches: Sequence[UserMatch],
    previous: Sequence[PersonLink],
    fixed: set[str],
) -> None:
    """Replace the group's earlier automatic person links by ``matches``: delete those that no
    longer hold (unlinking their persons), store the new ones and link their persons. Fills
    ``run.links`` and ``run.removed``."""
    group_id = run.group_id
    matched = {m.person_id: m for m in matches}
    persons = {p.person_id: p for p in metadata.list_persons(group_id)}
    for old in previous:
        if old.person_id in fixed or old.person_id in matched:
            continue
        metadata.delete_person_link(group_id, old.person_id)
        run.removed += 1
        person = persons.get(old.person_id)
        if person is not None and person.linked_user_id == old.user_id:
            person.linked_user_id = None
            person.updated_at = utcnow()
            metadata.put_person(person)
    for m in matches:
        person = persons.get(m.person_id)
        if person is None:  # vector payload points at a person since removed
            continue
        link = PersonLink(
            group_id=group_id,
            person_id=m.person_id,
            user_id=m.user_id,
            similarity=round(m.similarity, 4),
            strategy=run.strategy,
            vote_share=None if m.vote_share is None else round(m.vote_share, 4),
        )
        metadata.put_person_link(link)
        run.links.append(link)
        if person.linked_user_id != m.user_id:
            person.linked_user_id = m.user_id
            person.updated_at = utcnow()
            metadata.put_person(person)


def list_person_links(
    metadata: PersonLinkRepository, *, group_id: str | None = None, user_id: str | None = None
) -> list[PersonLink]:
    """Person links of a group, of a user, or of a user in a group (most similar first).

    Raises:
        InvalidInputError: neither ``group_id`` nor ``user_id``.
    """
    if group_id is None and user_id is None:
        raise InvalidInputError("Give a group_id or a user_id")
    found = metadata.list_person_links(group_id=group_id, user_id=user_id)
    return sorted(found, key=lambda a: (-a.similarity, a.person_id))


@dataclass(slots=True)
class UserPersonLinkStats:
    """A user's person links summed up (``GET /users/{user_id}/person-links/stats``).

    Attributes:
        links: persons linked to the user, in every group.
        groups: groups with at least one of them.
        faces: faces in those persons (the photos "of me" come from them).
        images: images of those persons, summed per person.
        by_strategy: links per strategy (``evidence``, ``confirmed``, ...).
        mean_similarity: mean cosine similarity of the links (``None``: none).
        last_linked_at: the newest link's time (``None``: none).
    """

    user_id: str
    links: int = 0
    groups: int = 0
    faces: int = 0
    images: int = 0
    by_strategy: dict[str, int] = field(default_factory=dict)
    mean_similarity: float | None = None
    last_linked_at: datetime | None = None


def user_person_link_stats(metadata: PersonLinkStatsStore, user_id: str) -> UserPersonLinkStats:
    """Sum up a user's person links (one Query, then one read per linked person)."""
    found = metadata.list_person_links(user_id=user_id)
    stats = UserPersonLinkStats(user_id=user_id, links=len(found))
    if not found:
        return stats
    stats.groups = len({a.group_id for a in found})
    stats.by_strategy = dict(Counter(a.strategy for a in found))
    stats.mean_similarity = round(sum(a.similarity for a in found) / len(found), 4)
    stats.last_linked_at = max(a.created_at for a in found)
    for link in found:
        try:
            person = metadata.get_person(link.person_id)
        except NotFoundError:
            continue  # a person removed since; the consistency check reports it
        stats.faces += person.face_count
        stats.images += person.image_count
    return stats


def delete_person_link(metadata: PersonLinkStatsStore, group_id: str, person_id: str) -> None:
    """Delete a person's link and unlink the person from the user.

    Raises:
        NotFoundError: the person has no link in this group.
    """
    existing = [
        a for a in metadata.list_person_links(group_id=group_id) if a.person_id == person_id
    ]
    if not existing:
        raise NotFoundError("assignment not found", group_id=group_id, person_id=person_id)
    metadata.delete_person_link(group_id, person_id)
    try:
        person = metadata.get_person(person_id)
    except NotFoundError:
        return
    if person.linked_user_id is not None:
        person.linked_user_id = None
        person.updated_at = utcnow()
        metadata.put_person(person)


def _strategy(value: Strategy | str) -> Strategy:
    try:
        return Strategy(value)
    except ValueError as exc:
        raise InvalidInputError(
            "strategy must be 'evidence', 'centroid' or 'vote'", field="strategy"
        ) from exc
