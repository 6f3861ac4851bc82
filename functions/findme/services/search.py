"""Finding a user's photos, and searching a group by a face photo.

*Personal photos* of a user in a set of groups (:func:`match_user`, rule in
:mod:`findme.domain.matching`), group by group:

1. the bars: from the number of persons and unclustered faces in the group and the user's
   reference count, for a target number of expected false matches per search
   (``Settings.match_expected_false_persons`` / ``match_expected_false_faces``);
2. every reference embedding of the user (all their selfies) is queried against the group
   faces at the candidate bar; each hit's *person* gets its evidence (mean of its
   ``top_k`` best face scores over *all* its faces) and the other registered members'
   evidence for it (exclusivity);
3. persons at or above the person bar are the user's: all their photos, each scored by
   its own face's best similarity (a profile shot the selfie does not match directly is
   still found, as Rekognition "Users" and Immich do); faces in no person need the face bar;
4. persons between the candidate and person bars are *candidates* ("Is this you?",
   ``GET /users/me/candidates``); a person the user confirmed is a person link and always
   included, one they rejected (by face ids, on their membership) never again;
5. person links of persons to the user (curator, confirmed or automatic) add their photos.

Scores are cosine similarities of L2-normalised 128-d SFace embeddings.

Visibility (:func:`visible_image_ids` and :func:`photos_for`): admin sees every image;
owners/photographers every image of their groups; members their personal photos and the
common photos of their groups. A member asking for somebody else gets 403.

Why one module of about 660 lines: "my photos" and the face search share one matching rule (the
bars, the person evidence, the rival check); they stay together so the rule is read, and
changed, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from findme.config import Settings
from findme.domain.faces import stack_embeddings
from findme.domain.matching import MatchBars, MatchDecision, decide, face_scores, person_evidence
from findme.domain.records import Face, Image
from findme.errors import NotFoundError
from findme.ports import (
    FaceRepository,
    FaceVector,
    GroupRepository,
    ImageRepository,
    PersonLinkRepository,
    PersonRepository,
    UserRepository,
    VectorIndex,
)
from findme.services.auth import normalize_phone
from findme.services.groups import iter_group_images
from findme.services.person_links import AUTOMATIC_STRATEGIES
from findme.services.policy import GroupAccess, Need, Policy, denied
from findme.services.users import REFERENCE_GROUP, reference_vectors


class CommonImagesStore(GroupRepository, ImageRepository, Protocol):
    """The metadata repositories :func:`_common_images` uses."""


class MatchBarsStore(GroupRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`match_bars` uses."""


class RivalEvidenceStore(UserRepository, GroupRepository, Protocol):
    """The metadata repositories :func:`_rival_evidence` uses."""


class MatchUserStore(
    UserRepository,
    GroupRepository,
    FaceRepository,
    PersonRepository,
    PersonLinkRepository,
    Protocol,
):
    """The metadata repositories :func:`match_user`, :func:`personal_matches`,
    :func:`_match_in_group`, :func:`visible_image_ids` use.
    """


class PhotosForStore(MatchUserStore, ImageRepository, Protocol):
    """The metadata repositories :func:`photos_for`, :func:`_photo_set`,
    :func:`downloadable_image_ids` use.
    """


#: Nearest faces fetched per reference embedding and group query.
QUERY_LIMIT = 1000

#: Registered users whose selfies are compared with a person for exclusivity.
RIVAL_LIMIT = 20

#: A person is rejected for a user when at least this share of its faces were rejected.
REJECTED_SHARE = 0.5


@dataclass(slots=True)
class PhotoMatch:
    """An image matched to a user: best cosine similarity and how it was found."""

    image_id: str
    group_id: str
    similarity: float
    matched_by: str  # "face" | "person" | "person_link"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person that may be the user ("Is this you?").

    Attributes:
        person_id: the person.
        group_id: its group.
        score: its evidence for the user (mean of its best face scores, cosine similarity).
        cover_face: the face to show (the person's cover, else its best-scoring face).
        face_count: faces of the person.
    """

    person_id: str
    group_id: str
    score: float
    cover_face: Face | None
    face_count: int


@dataclass(slots=True)
class UserMatches:
    """What :func:`match_user` found.

    Attributes:
        matches: image id -> :class:`PhotoMatch`, the user's photos.
        persons: person id -> evidence, for the persons found to be the user's (by the rule;
            linked persons are in ``matches`` only).
        candidates: persons between the candidate and person bars, best first.
        bars: group id -> the bars used there.
    """

    matches: dict[str, PhotoMatch] = field(default_factory=dict)
    persons: dict[str, float] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    bars: dict[str, MatchBars] = field(default_factory=dict)


@dataclass(slots=True)
class PhotoSet:
    """What ``GET /get`` returns, before URLs are signed."""

    personal: list[tuple[Image, float | None]] = field(default_factory=list)
    common: list[Image] = field(default_factory=list)


def personal_matches(
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_ids: Sequence[str],
) -> dict[str, PhotoMatch]:
    """image id -> :class:`PhotoMatch` for the user's photos within ``group_ids``."""
    return match_user(metadata, vectors, settings, user_id, group_ids).matches


def match_bars(
    metadata: MatchBarsStore,
    vectors: VectorIndex,
    settings: Settings,
    group_id: str,
    references: int,
) -> MatchBars:
    """The bars of a search of ``references`` selfies in ``group_id`` (module docstring).

    The gallery size comes from the group's last clustering (``Group.person_count``,
    ``clustered_face_count``: one item read) and the vector count; a group never clustered
    lists its persons instead.

    Raises:
        NotFoundError: unknown group.
    """
    group = metadata.get_group(group_id)
    if group.gallery_updated_at is not None:
        persons, clustered = group.person_count, group.clustered_face_count
    else:
        found = metadata.list_persons(group_id)
        persons, clustered = len(found), sum(p.face_count for p in found)
    unclustered = max(0, vectors.count(group_id) - clustered)
    return MatchBars.for_gallery(
        persons=persons,
        unclustered_faces=unclustered,
        references=references,
        expected_false_matches=settings.match_expected_false_persons,
        face_expected_false_matches=settings.match_expected_false_faces,
        candidate_false_matches=settings.match_candidate_false_matches,
        floor=settings.match_threshold,
        candidate_floor=settings.match_candidate_floor,
    )


def match_user(
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_ids: Sequence[str],
) -> UserMatches:
    """The user's photos and candidate persons in ``group_ids`` (module docstring).

    Raises:
        DependencyError: from the stores.
    """
    out = UserMatches()
    if not group_ids:
        return out
    refs = reference_vectors(metadata, vectors, user_id)
    ref_matrix = stack_embeddings([r.vector for r in refs])
    for group_id in dict.fromkeys(group_ids):
        _match_in_group(metadata, vectors, settings, user_id, group_id, refs, ref_matrix, out)
    out.candidates.sort(key=lambda c: (-c.score, c.person_id))
    return out


@dataclass(slots=True)
class _Scored:
    """The persons and lone faces one search in one group looked at."""

    faces: dict[str, list[Face]] = field(default_factory=dict)  # person id -> its faces
    scores: dict[str, NDArray[np.float32]] = field(default_factory=dict)  # person -> (n,)
    vectors: dict[str, NDArray[np.float32]] = field(default_factory=dict)  # person -> (n, 128)
    own: dict[str, float] = field(default_factory=dict)  # face id -> score
    lone: dict[str, float] = field(default_factory=dict)  # face in no person -> score
    lone_image: dict[str, str] = field(default_factory=dict)  # its image


def _match_in_group(
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_id: str,
    refs: Sequence[FaceVector],
    ref_matrix: NDArray[np.float32],
    out: UserMatches,
) -> None:
    """One group of :func:`match_user`: hits, scores, rivals, decision, photos, candidates."""
    membership = metadata.get_membership(group_id, user_id)
    rejected = set(membership.rejected_face_ids) if membership is not None else set()
    links = metadata.list_person_links(group_id=group_id)
    linked = {a.person_id: a.similarity for a in links if a.user_id == user_id}
    # persons a curator (or another user's "that's me") gave to someone else: not the user's
    held = {
        a.person_id
        for a in links
        if a.user_id != user_id and a.strategy not in AUTOMATIC_STRATEGIES
    }
    seen = _Scored()
    decision = MatchDecision()
    if refs:
        bars = match_bars(metadata, vectors, settings, group_id, len(refs))
        out.bars[group_id] = bars
        hit_persons = _gallery_hits(vectors, group_id, refs, bars, rejected, seen)
        for person_id in sorted(hit_persons - held - set(linked)):
            _score_person(metadata, vectors, group_id, person_id, ref_matrix, rejected, seen)
        rivals = _rival_evidence(
            metadata, vectors, settings, user_id, group_id, seen.vectors, seen.scores, bars
        )
        decision = decide(
            seen.scores, seen.lone, bars, rival_evidence=rivals, top_k=settings.match_top_k
        )
    for person_id in linked:  # always the user's: scored for ranking, not decided
        _score_person(metadata, vectors, group_id, person_id, ref_matrix, set(), seen)

    def offer(image_id: str, score: float, how: str) -> None:
        old = out.matches.get(image_id)
        if old is None or score > old.similarity:
            out.matches[image_id] = PhotoMatch(image_id, group_id, score, how)

    for face_id, score in decision.faces.items():
        offer(seen.lone_image[face_id], score, "face")
    out.persons.update(decision.persons)
    for person_id, evidence in {**decision.persons, **linked}.items():
        how = "person_link" if person_id in linked else "person"
        for face in seen.faces.get(person_id, []):
            offer(face.image_id, seen.own.get(face.face_id, evidence), how)
    for person_id, evidence in decision.candidates.items():
        out.candidates.append(_candidate(metadata, group_id, person_id, evidence, seen))


def _gallery_hits(
    vectors: VectorIndex,
    group_id: str,
    refs: Sequence[FaceVector],
    bars: MatchBars,
    rejected: set[str],
    seen: _Scored,
) -> set[str]:
    """Query every reference at the candidate bar: the persons hit (returned) and the lone
    faces hit (kept in ``seen`` with their best score), rejected faces left out."""
    hit_persons: set[str] = set()
    for ref in refs:
        for hit in vectors.query(
            ref.vector,
            group_ids=[group_id],
            limit=QUERY_LIMIT,
            score_threshold=bars.candidate,
            kind="face",
        ):
            if hit.person_id:
                hit_persons.add(hit.person_id)
            elif hit.face_id not in rejected and hit.score > seen.lone.get(hit.face_id, -1.0):
                seen.lone[hit.face_id] = hit.score
                seen.lone_image[hit.face_id] = hit.image_id
    return hit_persons


def _score_person(
    metadata: FaceRepository,
    vectors: VectorIndex,
    group_id: str,
    person_id: str,
    ref_matrix: NDArray[np.float32],
    rejected: set[str],
    seen: _Scored,
) -> None:
    """Read the person's faces and vectors and score each face against the references; a
    person the user rejected (by a share of its faces) is left unscored."""
    faces = [f for f in metadata.list_faces_of_person(person_id) if f.group_id == group_id]
    if not faces:
        return
    seen.faces[person_id] = faces
    if sum(f.face_id in rejected for f in faces) >= REJECTED_SHARE * len(faces):
        return
    stored = {v.face_id: v.vector for v in vectors.get([f.face_id for f in faces])}
    ids = [f.face_id for f in faces if f.face_id in stored]
    if not ids or ref_matrix.shape[0] == 0:
        return
    matrix = stack_embeddings([stored[i] for i in ids])
    scores = face_scores(matrix, ref_matrix)
    seen.own.update(zip(ids, scores.tolist(), strict=True))
    seen.scores[person_id] = scores
    seen.vectors[person_id] = matrix


def _candidate(
    metadata: PersonRepository, group_id: str, person_id: str, evidence: float, seen: _Scored
) -> Candidate:
    """The "Is this you?" entry: the person's cover face, else its best-scoring face."""
    faces = seen.faces[person_id]
    try:
        cover_id = metadata.get_person(person_id).cover_face_id
    except NotFoundError:
        cover_id = None
    cover = next((f for f in faces if f.face_id == cover_id), None) or max(
        faces, key=lambda f: seen.own.get(f.face_id, -1.0)
    )
    return Candidate(person_id, group_id, round(evidence, 4), cover, len(faces))


def _rival_evidence(
    metadata: RivalEvidenceStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_id: str,
    person_vectors: dict[str, NDArray[np.float32]],
    person_scores: dict[str, NDArray[np.float32]],
    bars: MatchBars,
) -> dict[str, float]:
    """person id -> the highest evidence of another registered member of the group.

    Only persons that reach the candidate bar for the user are looked at: their best face is
    queried against every reference embedding (``kind="reference"``); the members found
    get their evidence over all the person's faces.
    """
    members: dict[str, bool] = {}
    rival_refs: dict[str, NDArray[np.float32]] = {}
    out: dict[str, float] = {}
    for person_id, scores in person_scores.items():
        if person_evidence(scores, settings.match_top_k) < bars.candidate:
            continue
        matrix = person_vectors[person_id]
        # the selfies nearest the person's best face: whoever could out-score the user
        found = {
            hit.user_id
            for hit in vectors.query(
                matrix[int(np.argmax(scores))],
                group_ids=[REFERENCE_GROUP],
                limit=RIVAL_LIMIT,
                score_threshold=bars.candidate,
                kind="reference",
            )
            if hit.user_id and hit.user_id != user_id
        }
        if not found:
            continue
        for other in sorted(found):
            if other not in members:
                members[other] = metadata.get_membership(group_id, other) is not None
            if not members[other]:
                continue
            if other not in rival_refs:
                rival_refs[other] = stack_embeddings(
                    [r.vector for r in reference_vectors(metadata, vectors, other)]
                )
            if rival_refs[other].shape[0] == 0:
                continue
            evidence = person_evidence(face_scores(matrix, rival_refs[other]), settings.match_top_k)
            out[person_id] = max(out.get(person_id, -1.0), evidence)
    return out


def best_similarity(probe: NDArray[np.float32], refs: Iterable[FaceVector]) -> float:
    """Highest cosine similarity of ``probe`` ``(128,)`` to any reference (−1 if none)."""
    best = -1.0
    for ref in refs:
        best = max(best, float(np.dot(probe, ref.vector)))
    return best


def _common_images(metadata: CommonImagesStore, group_ids: Iterable[str]) -> list[Image]:
    out: list[Image] = []
    seen: set[str] = set()
    for group_id in group_ids:
        try:
            group = metadata.get_group(group_id)
        except NotFoundError:
            continue
        wanted = [i for i in group.common_photo_ids if i not in seen]
        seen.update(wanted)
        out += [i for i in metadata.get_images(wanted) if i.group_id == group_id]
    return out


def _load(metadata: ImageRepository, matches: dict[str, PhotoMatch]) -> list[tuple[Image, float]]:
    ranked = sorted(matches.values(), key=lambda m: -m.similarity)
    # Images deleted since they were indexed are skipped by get_images.
    images = {i.image_id: i for i in metadata.get_images(m.image_id for m in ranked)}
    return [(images[m.image_id], round(m.similarity, 4)) for m in ranked if m.image_id in images]


def photos_for(
    *,
    metadata: PhotosForStore,
    vectors: VectorIndex,
    settings: Settings,
    policy: Policy,
    user_id: str | None = None,
    phone_number: str | None = None,
    group_id: str | None = None,
) -> PhotoSet:
    """The photos ``GET /get`` returns (a common photo may also be personal: both lists).

    - No target (or the caller): the caller's personal photos in their groups (or in
      ``group_id``, READ) plus those groups' common photos.
    - Another user (``user_id`` / ``phone_number``): searched only in the user's groups
      where the caller has CURATE (admins: all the user's groups, or ``group_id``).
    - (Whoever sees a whole group asking for it is :func:`group_photos`.)

    Raises:
        NotFoundError: unknown group; for admins an unknown user (``user_not_found``).
        PermissionDeniedError: the policy: another user's photos outside the groups the
            caller curates (non-admins are not told whether such a user exists).
    """
    target = policy.user_id
    if phone_number or (user_id and user_id != policy.user_id):
        target = _other_user(metadata, policy, user_id=user_id, phone_number=phone_number)

    if target == policy.user_id:
        if group_id:
            policy.authorize(group_id, Need.READ)
            groups = [group_id]
        else:
            groups = sorted(policy.my_groups())
        return _photo_set(metadata, vectors, settings, target, groups)

    target_groups = [m.group_id for m in metadata.list_groups_of_user(target)]
    if group_id:
        policy.authorize(group_id, Need.CURATE)
        target_groups = [g for g in target_groups if g == group_id]
    groups = [g for g in target_groups if policy.allows(g, Need.CURATE)]
    if not groups and not policy.is_admin:
        raise denied(
            Need.CURATE,
            policy.role_in(group_id) if group_id else None,
            "Another user's photos are for the owners of that user's groups (and admins)"
            + (": the user is not in this group" if group_id else ""),
        )
    return _photo_set(metadata, vectors, settings, target, groups)


def _other_user(
    metadata: UserRepository, policy: Policy, *, user_id: str | None, phone_number: str | None
) -> str:
    """The user asked about by id or phone; unknown: 404 for admins, the policy's 403 for
    others (who may not learn who is registered)."""
    if phone_number:
        user = metadata.find_user_by_phone(normalize_phone(phone_number))
    else:
        assert user_id is not None
        try:
            user = metadata.get_user(user_id)
        except NotFoundError:
            user = None
    if user is not None:
        return user.user_id
    if policy.is_admin:
        raise NotFoundError("No such user", code="user_not_found")
    raise denied(
        Need.CURATE,
        None,
        "Another user's photos are for the owners of that user's groups (and admins)",
    )


def _photo_set(
    metadata: PhotosForStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_ids: Sequence[str],
) -> PhotoSet:
    """``user_id``'s personal photos in ``group_ids`` plus those groups' common photos."""
    matches = personal_matches(metadata, vectors, settings, user_id, group_ids)
    personal: list[tuple[Image, float | None]] = list(_load(metadata, matches))
    return PhotoSet(personal=personal, common=_common_images(metadata, group_ids))


def group_photos(metadata: ImageRepository, access: GroupAccess) -> PhotoSet:
    """Every image of a group (any status; newest first) as ``personal``, except the common
    photos, which are listed apart as ``common`` (UPLOAD).

    Args:
        access: the caller's access from :meth:`~findme.services.policy.Policy.authorize`
            (already loaded: the group is not read again).

    Raises:
        PermissionDeniedError: the policy, unless ``access`` allows UPLOAD.
    """
    if not access.allows(Need.UPLOAD):
        raise denied(Need.UPLOAD, access.role)
    group = access.group
    group_id = group.group_id
    commons = set(group.common_photo_ids)
    personal: list[tuple[Image, float | None]] = []
    common: list[Image] = []
    for image in iter_group_images(metadata, group_id):
        if image.image_id in commons:
            common.append(image)
        else:
            personal.append((image, None))
    return PhotoSet(personal=personal, common=common)


def visible_image_ids(
    *,
    metadata: MatchUserStore,
    vectors: VectorIndex,
    settings: Settings,
    policy: Policy,
    images: Sequence[Image],
) -> set[str]:
    """Which of ``images`` the caller may see: all of a group where they have UPLOAD (admins:
    all); in a group where they READ only, their own and the common photos. Personal matches
    are computed only when a member-only group needs them."""
    visible: set[str] = set()
    member_groups: set[str] = set()
    for image in images:
        if policy.allows(image.group_id, Need.UPLOAD):
            visible.add(image.image_id)
        elif policy.allows(image.group_id, Need.READ):
            if image.common:
                visible.add(image.image_id)
            else:
                member_groups.add(image.group_id)
    if member_groups:
        mine = personal_matches(metadata, vectors, settings, policy.user_id, sorted(member_groups))
        for image in images:
            if image.group_id in member_groups and image.image_id in mine:
                visible.add(image.image_id)
        for group_id in member_groups:
            try:
                commons = set(metadata.get_group(group_id).common_photo_ids)
            except NotFoundError:
                continue
            visible.update(i.image_id for i in images if i.image_id in commons)
    return visible


def downloadable_image_ids(
    *,
    metadata: PhotosForStore,
    vectors: VectorIndex,
    settings: Settings,
    policy: Policy,
    image_ids: Sequence[str],
) -> list[str]:
    """``image_ids`` (duplicates dropped, order kept) when the caller may see every one of
    them (:func:`visible_image_ids`): what ``POST /download`` may put in a ZIP.

    Raises:
        NotFoundError: some ids are not images (``image_ids``: the first 20).
        PermissionDeniedError: ``access_denied`` (need READ) for images the caller may not
            see (``image_ids``: the first 20).
    """
    ids = list(dict.fromkeys(image_ids))
    images = {i.image_id: i for i in metadata.get_images(ids)}
    unknown = [i for i in ids if i not in images]
    if unknown:
        raise NotFoundError(f"Unknown image ids: {', '.join(unknown[:5])}", image_ids=unknown[:20])
    visible = visible_image_ids(
        metadata=metadata,
        vectors=vectors,
        settings=settings,
        policy=policy,
        images=list(images.values()),
    )
    hidden = [i for i in ids if i not in visible]
    if hidden:
        raise denied(
            Need.READ,
            None,
            "You may download only photos you may see: yours and the common ones (all of a "
            "group where you upload)",
            image_ids=hidden[:20],
        )
    return ids


@dataclass(frozen=True, slots=True)
class FaceMatch:
    face_id: str
    image_id: str
    group_id: str
    similarity: float
    person_id: str | None


def search_by_face(
    *,
    metadata: UserRepository,
    vectors: VectorIndex,
    settings: Settings,
    policy: Policy,
    probes: Sequence[NDArray[np.float32]],
    threshold: float,
    group_id: str | None = None,
    limit: int = 100,
) -> list[FaceMatch]:
    """Faces similar to the probe faces (``(128,) float32`` each) in the groups the caller
    may search, best first, at most ``limit``.

    Admins search every group they name (``group_id`` required for them when they belong to
    no group); whoever sees a whole group (UPLOAD) searches all of it; in groups where the
    caller only READs, a probe must match the caller's own reference faces (members may find
    themselves, nobody else).

    Raises:
        PermissionDeniedError: ``group_id`` given that the caller is not in.
    """
    if group_id:
        policy.authorize(group_id, Need.READ)  # 404 unknown group, 403 non-member
        groups = [group_id]
    else:
        groups = sorted(policy.my_groups())
    curated = [g for g in groups if policy.allows(g, Need.UPLOAD)]
    member_only = [g for g in groups if g not in curated]
    refs = reference_vectors(metadata, vectors, policy.user_id) if member_only else []
    best: dict[str, FaceMatch] = {}
    for probe in probes:
        scope = list(curated)
        if member_only and best_similarity(probe, refs) >= settings.match_threshold:
            scope += member_only
        if not scope:
            continue
        for hit in vectors.query(
            probe, group_ids=scope, limit=limit, score_threshold=threshold, kind="face"
        ):
            old = best.get(hit.face_id)
            if old is None or hit.score > old.similarity:
                best[hit.face_id] = FaceMatch(
                    hit.face_id, hit.image_id, hit.group_id, round(hit.score, 4), hit.person_id
                )
    return sorted(best.values(), key=lambda m: -m.similarity)[:limit]
