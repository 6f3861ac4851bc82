"""Groups (events, albums): creation, details, membership (invite codes and the members
routes), common photos.

Who may do what is :mod:`findme.services.policy` (one policy, one refusal code); these use
cases take the caller's :class:`~findme.services.policy.Policy` and ask it for the
:class:`~findme.services.policy.Need` of each step.

Members and roles: an owner (or admin) adds a registered user with a role, changes a role or
removes a member; anyone may leave. A group always keeps at least one owner (409
``last_owner``). Invite codes carry a role: the group's ``invite_code`` makes members, its
``photographer_invite_code`` (made or replaced by an owner) makes photographers; joining
never lowers a role someone already has.

Why one module of about 470 lines: groups, memberships and invite codes are one aggregate
(``GroupRepository``) with one permission story.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from findme.domain.cursors import paginate
from findme.domain.records import Group, GroupRole, Image, ImageStatus, Membership, Page, User
from findme.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from findme.ports import (
    GroupRepository,
    ImageRepository,
    PersonLinkRepository,
    PersonRepository,
    UserRepository,
)
from findme.services.auth import Principal
from findme.services.policy import GroupAccess, Need, Policy, denied, higher_role, role_allows


class ListMembersStore(UserRepository, GroupRepository, Protocol):
    """The metadata repositories :func:`list_members`, :func:`get_member`, :func:`add_member`,
    :func:`set_member_role` use.
    """


class ListMyGroupsStore(GroupRepository, ImageRepository, Protocol):
    """The metadata repositories :func:`list_my_groups`, :func:`update_group`,
    :func:`new_group_invite_code`, :func:`set_common_photos` use.
    """


class RemoveMemberStore(GroupRepository, PersonRepository, PersonLinkRepository, Protocol):
    """The metadata repositories :func:`remove_member` uses."""


#: Invite codes: 10 characters from an alphabet without look-alikes (0/O, 1/I/L); ~50 bits.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 10
#: Roles an invite code can carry (owners are made by an owner, never by a code).
INVITE_ROLES: tuple[GroupRole, ...] = (GroupRole.MEMBER, GroupRole.PHOTOGRAPHER)
MAX_GROUP_NAME = 200
MAX_GROUP_DESCRIPTION = 2000


@dataclass(slots=True)
class GroupSummary:
    """A group as its reader sees it: the caller's role, counts, and the codes they may see."""

    group: Group
    role: GroupRole | None
    image_counts: dict[str, int] = field(default_factory=dict)
    #: Whether the caller administers the group (and so sees the photographer code).
    administers: bool = False


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def create_group(
    metadata: GroupRepository, principal: Principal, name: str, description: str = ""
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


def list_my_groups(metadata: ListMyGroupsStore, principal: Principal) -> list[GroupSummary]:
    """Groups the caller belongs to, with the caller's role and each group's image counts,
    oldest membership first."""
    out: list[GroupSummary] = []
    for membership in metadata.list_groups_of_user(principal.user_id):
        try:
            group = metadata.get_group(membership.group_id)
        except NotFoundError:
            continue  # a group deleted after the membership was listed
        role = GroupRole(membership.role)
        out.append(
            GroupSummary(
                group,
                role,
                image_counts(metadata, group.group_id),
                administers=principal.is_admin or role_allows(role, Need.ADMINISTER),
            )
        )
    return out


def iter_group_images(metadata: ImageRepository, group_id: str) -> Iterator[Image]:
    """Every image of a group, newest first, following the store's cursor pages."""
    cursor: str | None = None
    while True:
        page = metadata.list_images(group_id, limit=200, cursor=cursor)
        yield from page.items
        if not page.cursor:
            return
        cursor = page.cursor


def image_counts(metadata: ImageRepository, group_id: str) -> dict[str, int]:
    """``{"uploaded", "processing", "processed", "failed", "total"}`` counts of a group.

    O(images) reads; fine for events of thousands of photos. A counter item updated by the
    digest pipeline would make it O(1) for very large groups.
    """
    counts = {status.value: 0 for status in ImageStatus}
    for image in iter_group_images(metadata, group_id):
        counts[str(image.status)] = counts.get(str(image.status), 0) + 1
    counts["total"] = sum(counts.values())
    return counts


def group_summary(metadata: ImageRepository, access: GroupAccess) -> GroupSummary:
    """The group, the caller's role and its image counts (for a caller with READ)."""
    return GroupSummary(
        access.group,
        access.role,
        image_counts(metadata, access.group.group_id),
        administers=access.allows(Need.ADMINISTER),
    )


def update_group(
    metadata: ListMyGroupsStore,
    access: GroupAccess,
    *,
    name: str | None = None,
    description: str | None = None,
) -> GroupSummary:
    """Rename the group or change its description; fields left ``None`` stay.

    Args:
        access: the caller's access, with ADMINISTER.

    Raises:
        InvalidInputError: a blank name.
    """
    _check(access, Need.ADMINISTER)
    group = access.group
    if name is not None:
        cleaned = " ".join(name.split())
        if not cleaned:
            raise InvalidInputError("group_name must not be empty", field="group_name")
        group.name = cleaned[:MAX_GROUP_NAME]
    if description is not None:
        group.description = description.strip()[:MAX_GROUP_DESCRIPTION]
    metadata.put_group(group)
    return group_summary(metadata, access)


def _check(access: GroupAccess, need: Need) -> None:
    """Raises the policy's refusal unless ``access`` grants ``need``."""
    if not access.allows(need):
        raise denied(need, access.role)


def _invite_role(group: Group, invite_code: str) -> GroupRole | None:
    """The role ``invite_code`` carries in ``group`` (compared in constant time), or ``None``."""
    given = invite_code.strip().upper().encode()
    role: GroupRole | None = None
    for code, carries in (
        (group.invite_code, GroupRole.MEMBER),
        (group.photographer_invite_code, GroupRole.PHOTOGRAPHER),
    ):
        if code and hmac.compare_digest(code.encode(), given):
            role = carries
    return role


def join_group(
    metadata: GroupRepository, principal: Principal, group_id: str, invite_code: str
) -> Membership:
    """Join ``group_id`` with one of its invite codes, in the role the code carries.

    Idempotent; a member joining with a code of a higher role is raised to it, and no code
    lowers a role (an owner stays owner).

    Raises:
        NotFoundError: no such group.
        PermissionDeniedError: ``invalid_invite_code``.
    """
    group = metadata.get_group(group_id)
    role = _invite_role(group, invite_code)
    if role is None:
        raise PermissionDeniedError("Invalid invite code", code="invalid_invite_code")
    existing = metadata.get_membership(group_id, principal.user_id)
    if existing is not None:
        raised = higher_role(GroupRole(existing.role), role)
        if raised is existing.role:
            return existing
        existing.role = raised
        metadata.put_membership(existing)
        return existing
    membership = Membership(group_id, principal.user_id, role)
    metadata.put_membership(membership)
    return membership


def join_by_invite(
    metadata: GroupRepository, principal: Principal, invite_code: str
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


def new_group_invite_code(
    metadata: ListMyGroupsStore, access: GroupAccess, role: GroupRole
) -> GroupSummary:
    """Make (or replace) the group's invite code for ``role``; the old code stops working at
    once.

    Args:
        access: the caller's access, with ADMINISTER.

    Raises:
        InvalidInputError: ``role`` is ``owner`` (owners are named, not invited by code).
    """
    _check(access, Need.ADMINISTER)
    if role not in INVITE_ROLES:
        raise InvalidInputError(
            "Invite codes make members or photographers; promote owners by hand", field="role"
        )
    group = access.group
    if role is GroupRole.PHOTOGRAPHER:
        group.photographer_invite_code = new_invite_code()
    else:
        group.invite_code = new_invite_code()
    metadata.put_group(group)
    return group_summary(metadata, access)


# --- members ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Member:
    """A membership with the member's name (``None`` when the user is gone)."""

    membership: Membership
    name: str | None


def _member(metadata: UserRepository, membership: Membership) -> Member:
    try:
        user: User | None = metadata.get_user(membership.user_id)
    except NotFoundError:
        user = None
    return Member(membership, user.name if user else None)


def list_members(
    metadata: ListMembersStore,
    access: GroupAccess,
    *,
    role: GroupRole | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Member]:
    """A group's members (``access`` with ADMINISTER), owners first, then photographers, then
    members, each by join time; ``role`` keeps one role only."""
    _check(access, Need.ADMINISTER)
    group_id = access.group.group_id
    order = {GroupRole.OWNER: 0, GroupRole.PHOTOGRAPHER: 1, GroupRole.MEMBER: 2}
    found = sorted(
        (m for m in metadata.list_members(group_id) if role is None or m.role is role),
        key=lambda m: (order[GroupRole(m.role)], m.joined_at, m.user_id),
    )
    page = paginate(found, limit=limit, cursor=cursor)
    return Page([_member(metadata, m) for m in page.items], page.cursor)


def _membership(metadata: GroupRepository, group_id: str, user_id: str) -> Membership:
    membership = metadata.get_membership(group_id, user_id)
    if membership is None:
        raise NotFoundError("This user is not a member of the group", code="member_not_found")
    return membership


def get_member(metadata: ListMembersStore, policy: Policy, group_id: str, user_id: str) -> Member:
    """One member: any member may read their own membership, administrators anyone's.

    Raises:
        NotFoundError: no such group, or the user is not in it (``member_not_found``).
    """
    if user_id == policy.user_id:
        policy.authorize(group_id, Need.READ)
    else:
        policy.authorize(group_id, Need.ADMINISTER)
    return _member(metadata, _membership(metadata, group_id, user_id))


def add_member(
    metadata: ListMembersStore,
    access: GroupAccess,
    *,
    role: GroupRole,
    user_id: str | None = None,
    phone_number: str | None = None,
) -> Member:
    """Add a registered user to the group with ``role``.

    Args:
        access: the caller's access, with ADMINISTER.
        user_id / phone_number: who (exactly one; the phone in E.164).

    Raises:
        NotFoundError: no such group, or no registered user (``user_not_found``).
        ConflictError: already a member (``already_member``; change the role with
            :func:`set_member_role`).
    """
    _check(access, Need.ADMINISTER)
    group_id = access.group.group_id
    user = _find_user(metadata, user_id=user_id, phone_number=phone_number)
    if metadata.get_membership(group_id, user.user_id) is not None:
        raise ConflictError(
            "Already a member: change the role with PATCH",
            code="already_member",
            user_id=user.user_id,
        )
    membership = Membership(group_id, user.user_id, role)
    metadata.put_membership(membership)
    return Member(membership, user.name)


def _find_user(metadata: UserRepository, *, user_id: str | None, phone_number: str | None) -> User:
    from findme.services.auth import normalize_phone

    if (user_id is None) == (phone_number is None):
        raise InvalidInputError("Give user_id or phone_number", field="user_id")
    if phone_number is not None:
        user = metadata.find_user_by_phone(normalize_phone(phone_number))
        if user is None:
            raise NotFoundError("No registered user with this phone number", code="user_not_found")
        return user
    assert user_id is not None
    try:
        return metadata.get_user(user_id)
    except NotFoundError as exc:
        raise NotFoundError("No such user", code="user_not_found") from exc


def _check_owner_left(metadata: GroupRepository, group_id: str, leaving: Membership) -> None:
    """Raises ConflictError ``last_owner`` when ``leaving`` is the group's only owner."""
    if leaving.role is not GroupRole.OWNER:
        return
    owners = [m for m in metadata.list_members(group_id) if m.role is GroupRole.OWNER]
    if len(owners) <= 1:
        raise ConflictError(
            "A group keeps at least one owner: make another owner first", code="last_owner"
        )


def set_member_role(
    metadata: ListMembersStore, access: GroupAccess, user_id: str, role: GroupRole
) -> Member:
    """Promote or demote a member (``access`` with ADMINISTER); the last owner cannot be
    demoted.

    Raises:
        NotFoundError: ``member_not_found``. ConflictError: ``last_owner``.
    """
    _check(access, Need.ADMINISTER)
    group_id = access.group.group_id
    membership = _membership(metadata, group_id, user_id)
    if membership.role is not role:
        if role is not GroupRole.OWNER:
            _check_owner_left(metadata, group_id, membership)
        membership.role = role
        metadata.put_membership(membership)
    return _member(metadata, membership)


def remove_member(metadata: RemoveMemberStore, policy: Policy, group_id: str, user_id: str) -> None:
    """Remove a member (ADMINISTER), or leave the group (any member, for themselves).

    The member's person links in the group go with the membership (deleted, and the linked
    persons unlinked); photos stay.

    Raises:
        NotFoundError: ``member_not_found``. ConflictError: ``last_owner``.
    """
    if user_id == policy.user_id:
        policy.authorize(group_id, Need.READ)
    else:
        policy.authorize(group_id, Need.ADMINISTER)
    membership = _membership(metadata, group_id, user_id)
    _check_owner_left(metadata, group_id, membership)
    for link in metadata.list_person_links(group_id=group_id, user_id=user_id):
        metadata.delete_person_link(group_id, link.person_id)
    for person in metadata.list_persons(group_id):
        if person.linked_user_id == user_id:
            metadata.update_person(person.person_id, linked_user_id=None)
    metadata.delete_membership(group_id, user_id)


def set_common_photos(
    metadata: ListMyGroupsStore, policy: Policy, group_id: str, image_ids: list[str]
) -> Group:
    """Replace the group's common photos, shown to every member (CURATE).

    Keeps ``Group.common_photo_ids`` and each ``Image.common`` flag in step.

    Raises:
        InvalidInputError: an id that is not an image of this group (``code="unknown_image"``).
        NotFoundError: no such group. PermissionDeniedError: the policy.
    """
    access = policy.authorize(group_id, Need.CURATE)
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


def set_image_common(metadata: GroupRepository, image: Image, common: bool) -> None:
    """Flip one image's common flag and keep the group's ``common_photo_ids`` in step."""
    group = metadata.get_group(image.group_id)
    ids = [i for i in group.common_photo_ids if i != image.image_id]
    if common:
        ids.append(image.image_id)
    if ids != group.common_photo_ids:
        group.common_photo_ids = ids
        metadata.put_group(group)
