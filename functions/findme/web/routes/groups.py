"""Groups: create (caller becomes owner), list mine, read and edit one, join by invite code,
invite codes that carry a role, members and their roles, common photos.

Paths::

    POST   /create-group                          create (you become its owner)
    GET    /groups                                my groups, with my role and image counts
    GET    /groups/{group_id}                     one group (READ)
    PATCH  /groups/{group_id}                     name, description (ADMINISTER)
    POST   /groups/{group_id}/join                join with an invite code (its role)
    POST   /groups/{group_id}/invite-codes        a new code for members or photographers
    GET    /groups/{group_id}/members             members with roles (ADMINISTER)
    POST   /groups/{group_id}/members             add a registered user with a role
    GET    /groups/{group_id}/members/{user_id}   one member (ADMINISTER, or yourself)
    PATCH  /groups/{group_id}/members/{user_id}   promote / demote (ADMINISTER)
    DELETE /groups/{group_id}/members/{user_id}   remove (ADMINISTER), or leave (yourself)
    POST   /update-group                          set the common photos (CURATE)

Needs (READ, UPLOAD, CURATE, ADMINISTER) and roles: :mod:`findme.services.policy`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from findme.domain.records import GroupRole
from findme.services import groups as groups_service
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import LIMIT_WRITE
from findme.web.schemas.common import MessageOut
from findme.web.schemas.groups import (
    GroupCreate,
    GroupCreated,
    GroupList,
    GroupOut,
    GroupUpdate,
    InviteCodeRequest,
    JoinOut,
    JoinRequest,
    MemberAdd,
    MemberOut,
    MemberPage,
    MemberRole,
    UpdateGroup,
    group_out,
    member_out,
)

router = APIRouter(tags=["groups"])


@router.post(
    "/create-group",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupCreated,
    summary="Create a group (you become its owner)",
    responses=error_responses(400, 401, 422),
)
def create_group(
    body: GroupCreate, principal: deps.CurrentUser, metadata: deps.Metadata
) -> GroupCreated:
    """``{"group_id", "group_name"}`` plus the ``invite_code`` attendees join with; a blank
    ``group_name`` is 400 ``invalid_input``."""
    group = groups_service.create_group(metadata, principal, body.group_name, body.description)
    return GroupCreated(
        group_id=group.group_id, group_name=group.name, invite_code=group.invite_code
    )


@router.get("/groups", response_model=GroupList, summary="My groups, with my role and image counts")
def list_groups(principal: deps.CurrentUser, metadata: deps.Metadata) -> GroupList:
    """Each group as ``GET /groups/{group_id}`` shows it, ``image_counts`` included."""
    summaries = groups_service.list_my_groups(metadata, principal)
    return GroupList(groups=[group_out(s) for s in summaries])


@router.get(
    "/groups/{group_id}",
    response_model=GroupOut,
    summary="A group with its invite code and image counts",
    responses=error_responses(401, 403, 404),
)
def get_group(group: deps.GroupReader, metadata: deps.Metadata) -> GroupOut:
    """Members only (READ; 403 ``access_denied`` otherwise). ``image_counts``: ``uploaded``,
    ``processing``, ``processed``, ``failed`` (and ``total``) — poll it after uploading.
    ``photographer_invite_code`` is shown to owners and admins only."""
    return group_out(groups_service.group_summary(metadata, group))


@router.patch(
    "/groups/{group_id}",
    response_model=GroupOut,
    summary="Rename a group or change its description (owner)",
    responses=error_responses(400, 401, 403, 404, 422),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def update_group(body: GroupUpdate, group: deps.GroupAdmin, metadata: deps.Metadata) -> GroupOut:
    """ADMINISTER. Only the fields sent change; a blank ``group_name`` is 400."""
    summary = groups_service.update_group(
        metadata, group, name=body.group_name, description=body.description
    )
    return group_out(summary)


@router.post(
    "/groups/{group_id}/join",
    response_model=JoinOut,
    summary="Join a group with an invite code (in the role the code carries)",
    responses=error_responses(401, 403, 404, 422),
)
def join_group(
    group_id: str, body: JoinRequest, principal: deps.CurrentUser, metadata: deps.Metadata
) -> JoinOut:
    """The group's ``invite_code`` makes the caller a ``member``, its
    ``photographer_invite_code`` a ``photographer``. Idempotent; a code never lowers a role
    (an owner stays owner), a photographer code raises a member. A wrong code is 403
    ``invalid_invite_code``."""
    membership = groups_service.join_group(metadata, principal, group_id, body.invite_code)
    return JoinOut(group_id=group_id, role=membership.role, message="Joined the group.")


@router.post(
    "/join",
    response_model=JoinOut,
    summary="Join a group by its invite code alone (invite links, QR codes)",
    responses=error_responses(401, 403, 422),
)
def join_by_invite(
    body: JoinRequest, principal: deps.CurrentUser, metadata: deps.Metadata
) -> JoinOut:
    """What an invite link ``/e/{invite_code}`` does once the attendee is signed in: makes
    the caller a member of the code's group in the role the code carries (``invite_code``:
    ``member``; ``photographer_invite_code``: ``photographer``; idempotent, never lowers a
    role) and names the group. An unknown
    code is 403 ``invalid_invite_code``; signing in first keeps codes from being probed
    anonymously (every call counts against the caller's rate limit)."""
    group, membership = groups_service.join_by_invite(metadata, principal, body.invite_code)
    return JoinOut(
        group_id=group.group_id,
        group_name=group.name,
        role=membership.role,
        message="Joined the group.",
    )


@router.post(
    "/groups/{group_id}/invite-codes",
    response_model=GroupOut,
    summary="Make or replace the invite code of a role (owner)",
    responses=error_responses(400, 401, 403, 404, 422),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def new_invite_code(
    body: InviteCodeRequest, group: deps.GroupAdmin, metadata: deps.Metadata
) -> GroupOut:
    """ADMINISTER. ``{"role": "photographer"}`` makes the code a crew joins with as
    photographers (``photographer_invite_code``); ``{"role": "member"}`` replaces the
    attendees' ``invite_code``. The old code of that role stops working. ``owner`` is 400:
    owners are promoted by hand (``PATCH /groups/{group_id}/members/{user_id}``)."""
    return group_out(groups_service.new_group_invite_code(metadata, group, body.role))


@router.get(
    "/groups/{group_id}/members",
    response_model=MemberPage,
    summary="A group's members with their roles (owner)",
    responses=error_responses(400, 401, 403, 404, 422),
)
def list_members(
    group: deps.GroupAdmin,
    metadata: deps.Metadata,
    page: deps.Page,
    role: Annotated[GroupRole | None, Query(description="Only this role.")] = None,
) -> MemberPage:
    """ADMINISTER. Owners first, then photographers, then members, each by join time."""
    found = groups_service.list_members(
        metadata, group, role=role, limit=page.limit, cursor=page.cursor
    )
    return MemberPage(items=[member_out(m) for m in found.items], next_cursor=found.cursor)


@router.post(
    "/groups/{group_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    summary="Add a registered user to the group with a role (owner)",
    responses=error_responses(400, 401, 403, 404, 409, 422),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def add_member(body: MemberAdd, group: deps.GroupAdmin, metadata: deps.Metadata) -> MemberOut:
    """ADMINISTER. By ``user_id`` or ``phone_number`` (E.164); 404 ``user_not_found`` for
    someone not registered, 409 ``already_member`` for a member (change the role with
    ``PATCH``)."""
    member = groups_service.add_member(
        metadata,
        group,
        role=body.role,
        user_id=body.user_id,
        phone_number=body.phone_number,
    )
    return member_out(member)


@router.get(
    "/groups/{group_id}/members/{user_id}",
    response_model=MemberOut,
    summary="One member and their role (owner, or yourself)",
    responses=error_responses(401, 403, 404),
)
def get_member(
    group_id: str, user_id: str, policy: deps.Rights, metadata: deps.Metadata
) -> MemberOut:
    """ADMINISTER, or READ for your own membership; 404 ``member_not_found``."""
    return member_out(groups_service.get_member(metadata, policy, group_id, user_id))


@router.patch(
    "/groups/{group_id}/members/{user_id}",
    response_model=MemberOut,
    summary="Promote or demote a member (owner)",
    responses=error_responses(400, 401, 403, 404, 409, 422),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def set_member_role(
    user_id: str, body: MemberRole, group: deps.GroupAdmin, metadata: deps.Metadata
) -> MemberOut:
    """ADMINISTER. ``photographer`` uploads, reprocesses and deletes faces and photos of the
    group; ``owner`` may do everything an owner does. The last owner cannot be demoted
    (409 ``last_owner``)."""
    member = groups_service.set_member_role(metadata, group, user_id, body.role)
    return member_out(member)


@router.delete(
    "/groups/{group_id}/members/{user_id}",
    response_model=MessageOut,
    summary="Remove a member (owner), or leave the group (yourself)",
    responses=error_responses(401, 403, 404, 409),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def remove_member(
    group_id: str, user_id: str, policy: deps.Rights, metadata: deps.Metadata
) -> MessageOut:
    """ADMINISTER, or READ to leave. The member's person links in the group go too; photos
    stay. The last owner cannot leave (409 ``last_owner``)."""
    groups_service.remove_member(metadata, policy, group_id, user_id)
    return MessageOut(message="Member removed.")


@router.post(
    "/update-group",
    response_model=MessageOut,
    summary="Set the group's common photos (shown to every member)",
    responses=error_responses(400, 401, 403, 404, 422),
)
def update_group_photos(
    body: UpdateGroup, policy: deps.Rights, metadata: deps.Metadata
) -> MessageOut:
    """CURATE (owner or admin). Replaces the list; every id must be an image of the group
    (400 ``unknown_image``)."""
    groups_service.set_common_photos(metadata, policy, body.group_id, body.common_photo_ids)
    return MessageOut(message="Group updated successfully.")
