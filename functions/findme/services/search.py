"""Finding a user's photos, and searching a group by a face photo.

*Personal photos* of a user in a set of groups (:func:`personal_matches`), most similar first:

1. every reference embedding of the user (their selfies) is queried against the group
   faces (``kind="face"``, filtered by the groups) at cosine similarity ≥
   ``Settings.match_threshold`` (0.40 ≈ FAR 1e-3 for SFace on LFW);
2. each matched face's *person* (cluster) adds the person's other photos, scored by their
   own face's best similarity to a reference (so a profile shot the selfie does not match
   directly is still found, as Rekognition "Users" and Immich do);
3. persons assigned to the user by the cluster-to-user assignment add theirs too.

Scores are cosine similarities of L2-normalised 128-d SFace embeddings.

Visibility (:func:`visible_image_ids` and :func:`photos_for`): admin sees every image;
owners/photographers every image of their groups; members their personal photos and the
common photos of their groups. A member asking for somebody else gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from findme.config import Settings
from findme.domain.records import GroupRole, Image
from findme.errors import NotFoundError, PermissionDeniedError
from findme.ports import FaceVector, MetadataStore, VectorIndex
from findme.services.auth import Principal, normalize_phone
from findme.services.groups import CURATORS, GroupAccess, authorize_group, iter_group_images
from findme.services.users import reference_vectors

#: Nearest faces fetched per reference embedding and group query.
QUERY_LIMIT = 1000


@dataclass(slots=True)
class PhotoMatch:
    """An image matched to a user: best cosine similarity and how it was found."""

    image_id: str
    group_id: str
    similarity: float
    matched_by: str  # "face" | "person" | "assignment"


@dataclass(slots=True)
class PhotoSet:
    """What ``GET /get`` returns, before URLs are signed."""

    personal: list[tuple[Image, float | None]] = field(default_factory=list)
    common: list[Image] = field(default_factory=list)


def personal_matches(
    metadata: MetadataStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_ids: Sequence[str],
) -> dict[str, PhotoMatch]:
    """image id -> :class:`PhotoMatch` for the user's photos within ``group_ids``."""
    if not group_ids:
        return {}
    refs = reference_vectors(metadata, vectors, user_id)
    matches: dict[str, PhotoMatch] = {}
    person_scores: dict[str, float] = {}

    def offer(image_id: str, group_id: str, score: float, how: str) -> None:
        old = matches.get(image_id)
        if old is None or score > old.similarity:
            matches[image_id] = PhotoMatch(image_id, group_id, score, how)

    for ref in refs:
        hits = vectors.query(
            ref.vector,
            group_ids=list(group_ids),
            limit=QUERY_LIMIT,
            score_threshold=settings.match_threshold,
            kind="face",
        )
        for hit in hits:
            offer(hit.image_id, hit.group_id, hit.score, "face")
            if hit.person_id:
                person_scores[hit.person_id] = max(
                    person_scores.get(hit.person_id, -1.0), hit.score
                )
    wanted = set(group_ids)
    for assignment in metadata.list_assignments(user_id=user_id):
        if assignment.group_id in wanted:
            person_scores.setdefault(assignment.person_id, assignment.similarity)
    # Other photos of matched persons: scored by their own face's best similarity to a
    # reference (so a profile shot ranks below the frontal ones), or the person's score
    # when the vector is unavailable. Direct matches keep their own score.
    expanded = [
        face
        for person_id in person_scores
        for face in metadata.list_faces_of_person(person_id)
        if face.group_id in wanted and face.image_id not in matches
    ]
    own = (
        {v.face_id: v.vector for v in vectors.get([f.face_id for f in expanded])}
        if expanded
        else {}
    )
    for face in expanded:
        vector = own.get(face.face_id)
        fallback = person_scores.get(face.person_id or "", 0.0)
        score = best_similarity(vector, refs) if vector is not None and refs else fallback
        offer(face.image_id, face.group_id, score, "person")
    return matches


def best_similarity(probe: NDArray[np.float32], refs: Iterable[FaceVector]) -> float:
    """Highest cosine similarity of ``probe`` ``(128,)`` to any reference (−1 if none)."""
    best = -1.0
    for ref in refs:
        best = max(best, float(np.dot(probe, ref.vector)))
    return best


def _common_images(metadata: MetadataStore, group_ids: Iterable[str]) -> list[Image]:
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


def _load(metadata: MetadataStore, matches: dict[str, PhotoMatch]) -> list[tuple[Image, float]]:
    ranked = sorted(matches.values(), key=lambda m: -m.similarity)
    # Images deleted since they were indexed are skipped by get_images.
    images = {i.image_id: i for i in metadata.get_images(m.image_id for m in ranked)}
    return [(images[m.image_id], round(m.similarity, 4)) for m in ranked if m.image_id in images]


def photos_for(
    *,
    metadata: MetadataStore,
    vectors: VectorIndex,
    settings: Settings,
    principal: Principal,
    user_id: str | None = None,
    phone_number: str | None = None,
    group_id: str | None = None,
) -> PhotoSet:
    """The photos ``GET /get`` returns (a common photo may also be personal: both lists).

    - No target (or the caller): the caller's personal photos in their groups (or in
      ``group_id``) plus those groups' common photos.
    - Another user (``user_id`` / ``phone_number``): admin, or owner/photographer of a group
      the user belongs to; only such groups are searched. Otherwise 403.
    - (A curator asking for a whole group is :func:`group_photos`.)

    Raises:
        NotFoundError: unknown user or group.
        PermissionDeniedError: ``not_your_photos`` or group-role errors.
    """
    target = principal.user_id
    if phone_number:
        user = metadata.find_user_by_phone(normalize_phone(phone_number))
        if user is None:
            if not principal.is_admin:
                raise PermissionDeniedError(
                    "You may only ask for your own photos", code="not_your_photos"
                )
            raise NotFoundError("No user with this phone number")
        target = user.user_id
    elif user_id:
        target = user_id

    if target == principal.user_id:
        if group_id:
            authorize_group(metadata, principal, group_id)
            scope = [group_id]
        else:
            scope = [m.group_id for m in metadata.list_groups_of_user(principal.user_id)]
        return _photo_set(metadata, vectors, settings, target, scope)

    # Someone else's photos: only admins and curators of the groups searched.
    if not principal.is_admin:
        mine = {
            m.group_id
            for m in metadata.list_groups_of_user(principal.user_id)
            if GroupRole(m.role) in CURATORS
        }
    target_groups = [m.group_id for m in metadata.list_groups_of_user(target)]
    if not target_groups and not principal.is_admin:
        raise PermissionDeniedError("You may only ask for your own photos", code="not_your_photos")
    scope = target_groups if principal.is_admin else [g for g in target_groups if g in mine]
    if group_id:
        scope = [g for g in scope if g == group_id]
    if not scope:
        raise PermissionDeniedError("You may only ask for your own photos", code="not_your_photos")
    return _photo_set(metadata, vectors, settings, target, scope)


def _photo_set(
    metadata: MetadataStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    group_ids: Sequence[str],
) -> PhotoSet:
    """``user_id``'s personal photos in ``group_ids`` plus those groups' common photos."""
    matches = personal_matches(metadata, vectors, settings, user_id, group_ids)
    personal: list[tuple[Image, float | None]] = list(_load(metadata, matches))
    return PhotoSet(personal=personal, common=_common_images(metadata, group_ids))


def group_photos(metadata: MetadataStore, access: GroupAccess) -> PhotoSet:
    """Every image of a group for its curators (any status; newest first) as ``personal``,
    except the common photos, which are listed apart as ``common``.

    Args:
        access: the caller's access from :func:`~findme.services.groups.authorize_group`
            (already loaded: the group is not read again).

    Raises:
        PermissionDeniedError: ``group_role_required`` unless ``access`` may curate.
    """
    if not access.can_curate:
        raise PermissionDeniedError(
            "Only the group's owner or photographer (or an admin) may list every photo",
            code="group_role_required",
        )
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
    metadata: MetadataStore,
    vectors: VectorIndex,
    settings: Settings,
    principal: Principal,
    images: Sequence[Image],
) -> set[str]:
    """Which of ``images`` the caller may see (admin; curator of the group; member: own or
    common photos). Personal matches are computed only when a member-only group needs them."""
    if principal.is_admin:
        return {image.image_id for image in images}
    roles = {m.group_id: GroupRole(m.role) for m in metadata.list_groups_of_user(principal.user_id)}
    visible: set[str] = set()
    member_groups: set[str] = set()
    for image in images:
        role = roles.get(image.group_id)
        if role is None:
            continue
        if role in CURATORS or image.common:
            visible.add(image.image_id)
        else:
            member_groups.add(image.group_id)
    if member_groups:
        mine = personal_matches(
            metadata, vectors, settings, principal.user_id, sorted(member_groups)
        )
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


@dataclass(frozen=True, slots=True)
class FaceMatch:
    face_id: str
    image_id: str
    group_id: str
    similarity: float
    person_id: str | None


def search_by_face(
    *,
    metadata: MetadataStore,
    vectors: VectorIndex,
    settings: Settings,
    principal: Principal,
    probes: Sequence[NDArray[np.float32]],
    threshold: float,
    group_id: str | None = None,
    limit: int = 100,
) -> list[FaceMatch]:
    """Faces similar to the probe faces (``(128,) float32`` each) in the groups the caller
    may search, best first, at most ``limit``.

    Admins search every group they name (``group_id`` required for them when they belong to
    no group); curators their groups; in groups where the caller is only a member, a probe
    must match the caller's own reference faces (members may find themselves, nobody else).

    Raises:
        PermissionDeniedError: ``group_id`` given that the caller is not in.
    """
    memberships = {
        m.group_id: GroupRole(m.role) for m in metadata.list_groups_of_user(principal.user_id)
    }
    if group_id:
        authorize_group(metadata, principal, group_id)  # 404 unknown group, 403 non-member
        # An admin outside the group searches it as a curator would.
        memberships = {group_id: memberships.get(group_id, GroupRole.OWNER)}
    curated = [g for g, r in memberships.items() if r in CURATORS or principal.is_admin]
    member_only = [g for g in memberships if g not in curated]
    refs = reference_vectors(metadata, vectors, principal.user_id) if member_only else []
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
