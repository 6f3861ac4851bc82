"""Groups (events, albums): creation, membership by invite code, per-group roles, common photos.

Authorization rule, in one place (:func:`authorize_group`): a platform ``admin`` may do
anything in any group; otherwise the caller's :class:`~findme.domain.records.Membership`
role in the group must be one of the roles a use case allows. Owners and photographers
*curate* a group (see all its photos, upload, edit, delete); members see their own photos and
the group's common photos.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from findme.domain.records import CURATOR_ROLES, Group, GroupRole, Image, ImageStatus, Membership
from findme.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from findme.ports import MetadataStore
from findme.services.auth import Principal

CURATORS: frozenset[GroupRole] = CURATOR_ROLES
ANY_MEMBER: frozenset[GroupRole] = frozenset(GroupRole)
#: Invite codes: 10 characters from an alphabet without look-alikes (0/O, 1/I/L); ~50 bits.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 10


@dataclass(frozen=True, slots=True)
class GroupAccess:
    """The caller's standing in a group: ``role`` is ``None`` for an admin who is not a member."""

    group: Group
    role: GroupRole | None
    is_admin: bool

    @property
    def can_curate(self) -> bool:
        """Admin, owner or photographer."""
        return self.is_admin or self.role in CURATORS


@dataclass(slots=True)
class GroupSummary:
    group: Group
    role: GroupRole | None
    image_counts: dict[str, int] = field(default_factory=dict)


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def authorize_group(
    metadata: MetadataStore,
    principal: Principal,
    group_id: str,
    allowed: Collection[GroupRole] = ANY_MEMBER,
) -> GroupAccess:
    """Load the group and check the caller's role in it.

    Raises:
        NotFoundError: no such group.
        PermissionDeniedError: ``not_group_member`` (not in the group) or
            ``group_role_required`` (in the group, with a role not in ``allowed``).
    """
    group = metadata.get_group(group_id)
    membership = metadata.get_membership(group_id, principal.user_id)
    role = GroupRole(membership.role) if membership is not None else None
    if principal.is_admin:
        return GroupAccess(group, role, True)
    if role is None:
        raise PermissionDeniedError("You are not a member of this group", code="not_group_member")
    if role not in allowed:
        raise PermissionDeniedError(
            f"This needs one of the group roles: {', '.join(sorted(map(str, allowed)))}",
            code="group_role_required",
        )
    return GroupAccess(group, role, False)


def create_group(
    metadata: MetadataStore, principal: Principal, name: str, description: str = ""
) -> Group:
    """Create a group owned by the caller (who becomes its ``owner`` member)."""
    name = name.strip()
    if not name:
        raise InvalidInputError("group_name must not be empty", field="group_name")
    group = Group(
        group_id=str(uuid.uuid4()),
        name=name,
        owner_id=principal.user_id,
        description=description,
        invite_code=new_invite_code(),
    )
    metadata.put_group(group)
    metadata.put_membership(Membership(group.group_id, principal.user_id, GroupRole.OWNER))
    return group


def list_my_groups(metadata: MetadataStore, principal: Principal) -> list[GroupSummary]:
    """Groups the caller belongs to, with the caller's role, oldest membership first."""
    out: list[GroupSummary] = []
    for membership in metadata.list_groups_of_user(principal.user_id):
        try:
            group = metadata.get_group(membership.group_id)
        except NotFoundError:
            continue  # a group deleted after the membership was listed
        out.append(GroupSummary(group, GroupRole(membership.role)))
    return out


def iter_group_images(metadata: MetadataStore, group_id: str) -> Iterator[Image]:
    """Every image of a group, newest first, following the store's cursor pages."""
    cursor: str | None = None
    while True:
        page = metadata.list_images(group_id, limit=200, cursor=cursor)
        yield from page.items
        if not page.cursor:
            return
        cursor = page.cursor


def image_counts(metadata: MetadataStore, group_id: str) -> dict[str, int]:
    """``{"uploaded", "processing", "processed", "failed", "total"}`` counts of a group.

    O(images) reads; fine for events of thousands of photos. A counter item updated by the
    digest pipeline would make it O(1) for very large groups.
    """
    counts = {status.value: 0 for status in ImageStatus}
    for image in iter_group_images(metadata, group_id):
        counts[str(image.status)] = counts.get(str(image.status), 0) + 1
    counts["total"] = sum(counts.values())
    return counts


def group_detail(metadata: MetadataStore, principal: Principal, group_id: str) -> GroupSummary:
    """The group, the caller's role and its image counts (any member may read).

    The invite code is part of the group; routes show it to members only.
    """
    access = authorize_group(metadata, principal, group_id)
    return GroupSummary(access.group, access.role, image_counts(metadata, group_id))


def join_group(
    metadata: MetadataStore, principal: Principal, group_id: str, invite_code: str
) -> Membership:
    """Join ``group_id`` as ``member`` with its invite code; idempotent for existing members.

    Raises:
        NotFoundError: no such group.
        PermissionDeniedError: ``invalid_invite_code``.
    """
    group = metadata.get_group(group_id)
    if not hmac.compare_digest(group.invite_code.encode(), invite_code.strip().upper().encode()):
        raise PermissionDeniedError("Invalid invite code", code="invalid_invite_code")
    existing = metadata.get_membership(group_id, principal.user_id)
    if existing is not None:
        return existing
    membership = Membership(group_id, principal.user_id, GroupRole.MEMBER)
    metadata.put_membership(membership)
    return membership


def join_by_invite(
    metadata: MetadataStore, principal: Principal, invite_code: str
) -> tuple[Group, Membership]:
    """Join the group whose invite code this is (an invite link carries the code alone).

    Raises:
        PermissionDeniedError: ``invalid_invite_code`` when no group has it (the same answer
            as a wrong code for a known group, so codes cannot be told apart).
    """
    group = metadata.find_group_by_invite(invite_code.strip().upper())
    if group is None:
        raise PermissionDeniedError("Invalid invite code", code="invalid_invite_code")
    return group, join_group(metadata, principal, group.group_id, invite_code)


def set_common_photos(
    metadata: MetadataStore, principal: Principal, group_id: str, image_ids: list[str]
) -> Group:
    """Replace the group's common photos (shown to every member); curators only.

    Keeps ``Group.common_photo_ids`` and each ``Image.common`` flag in step.

    Raises:
        InvalidInputError: an id that is not an image of this group (``code="unknown_image"``).
    """
    access = authorize_group(metadata, principal, group_id, CURATORS)
    wanted = list(dict.fromkeys(image_ids))
    found = {i.image_id: i for i in metadata.get_images(wanted) if i.group_id == group_id}
    for image_id in wanted:
        if image_id not in found:
            raise InvalidInputError(
                f"{image_id} is not an image of this group", code="unknown_image", image_id=image_id
            )
    for image in found.values():
        if not image.common:
            image.common = True
            metadata.put_image(image)
    for old in metadata.get_images(sorted(set(access.group.common_photo_ids) - set(wanted))):
        if old.common:
            old.common = False
            metadata.put_image(old)
    group = access.group
    group.common_photo_ids = wanted
    metadata.put_group(group)
    return group


def set_image_common(metadata: MetadataStore, image: Image, common: bool) -> None:
    """Flip one image's common flag and keep the group's ``common_photo_ids`` in step."""
    group = metadata.get_group(image.group_id)
    ids = [i for i in group.common_photo_ids if i != image.image_id]
    if common:
        ids.append(image.image_id)
    if ids != group.common_photo_ids:
        group.common_photo_ids = ids
        metadata.put_group(group)
