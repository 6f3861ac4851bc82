"""Groups: create (caller becomes owner), list mine, read one with processing counts, join by
invite code, set common photos."""

from __future__ import annotations

from fastapi import APIRouter, status

from findme.services import groups as groups_service
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.schemas import (
    GroupCreate,
    GroupCreated,
    GroupList,
    GroupOut,
    JoinOut,
    JoinRequest,
    MessageOut,
    UpdateGroup,
    group_out,
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


@router.get("/groups", response_model=GroupList, summary="My groups, with my role in each")
def list_groups(principal: deps.CurrentUser, metadata: deps.Metadata) -> GroupList:
    summaries = groups_service.list_my_groups(metadata, principal)
    return GroupList(groups=[group_out(s) for s in summaries])


@router.get(
    "/groups/{group_id}",
    response_model=GroupOut,
    summary="A group with its invite code and image counts",
    responses=error_responses(401, 403, 404),
)
def get_group(group_id: str, principal: deps.CurrentUser, metadata: deps.Metadata) -> GroupOut:
    """Members only (403 ``not_group_member`` otherwise). ``image_counts``: ``uploaded``,
    ``processing``, ``processed``, ``failed`` (and ``total``) — poll it after uploading."""
    return group_out(groups_service.group_detail(metadata, principal, group_id))


@router.post(
    "/groups/{group_id}/join",
    response_model=JoinOut,
    summary="Join a group with its invite code",
    responses=error_responses(401, 403, 404, 422),
)
def join_group(
    group_id: str, body: JoinRequest, principal: deps.CurrentUser, metadata: deps.Metadata
) -> JoinOut:
    """Makes the caller a ``member`` (idempotent; an existing role is kept). A wrong code is
    403 ``invalid_invite_code``."""
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
    the caller a ``member`` of the code's group (idempotent) and names the group. An unknown
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
    "/update-group",
    response_model=MessageOut,
    summary="Set the group's common photos (shown to every member)",
    responses=error_responses(400, 401, 403, 404, 422),
)
def update_group(
    body: UpdateGroup, principal: deps.CurrentUser, metadata: deps.Metadata
) -> MessageOut:
    """Owner/photographer (or admin). Replaces the list; every id must be an image of the
    group (400 ``unknown_image``)."""
    groups_service.set_common_photos(metadata, principal, body.group_id, body.common_photo_ids)
    return MessageOut(message="Group updated successfully.")
