"""Groups, invite codes, members and roles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.domain.records import Group, GroupRole
from findme.services.groups import GroupSummary, Member
from findme.web.schemas.common import PageOut, example

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class GroupCreate(BaseModel):
    model_config = example(group_name="Summer Gala 2026", description="Main hall, 21 June")
    group_name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class GroupCreated(BaseModel):
    model_config = example(group_id=_UUID, group_name="Summer Gala 2026", invite_code="K7QX2MPR9T")
    group_id: str
    group_name: str
    invite_code: str


class ImageCounts(BaseModel):
    model_config = example(uploaded=3, processing=1, processed=58, failed=2, total=64)
    uploaded: int = 0
    processing: int = 0
    processed: int = 0
    failed: int = 0
    total: int = 0


class GroupOut(BaseModel):
    model_config = example(
        group_id=_UUID,
        group_name="Summer Gala 2026",
        description="Main hall, 21 June",
        owner_id=_UUID,
        role="owner",
        invite_code="K7QX2MPR9T",
        photographer_invite_code="P4HW8ZJN3C",
        common_photo_ids=[],
        created_at="2026-11-22T10:00:00Z",
        image_counts={"uploaded": 0, "processing": 0, "processed": 64, "failed": 0, "total": 64},
    )
    group_id: str
    group_name: str
    description: str
    owner_id: str
    role: GroupRole | None = Field(description="The caller's role; null for an admin outsider.")
    invite_code: str = Field(description="Joining with it makes a member.")
    photographer_invite_code: str | None = Field(
        default=None,
        description="Joining with it makes a photographer; shown to those who administer the "
        "group (owners, admins), null for others or when none was made "
        "(`POST /groups/{group_id}/invite-codes`).",
    )
    common_photo_ids: list[str]
    created_at: datetime
    image_counts: ImageCounts | None = None


class GroupList(BaseModel):
    groups: list[GroupOut]


class GroupUpdate(BaseModel):
    """``PATCH /groups/{group_id}``: the fields to change; those left out are kept."""

    model_config = example(group_name="Summer Gala 2026 (day 2)", description="Garden")
    group_name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class InviteCodeRequest(BaseModel):
    model_config = example(role="photographer")
    role: GroupRole = Field(
        description="`member` or `photographer`: the role the new code gives (owners are "
        "promoted by hand)."
    )


class MemberOut(BaseModel):
    model_config = example(
        group_id=_UUID,
        user_id=_UUID,
        name="Grace",
        role="photographer",
        joined_at="2026-11-22T10:00:00Z",
    )
    group_id: str
    user_id: str
    name: str | None = Field(description="The user's name (null when the account is gone).")
    role: GroupRole
    joined_at: datetime


class MemberPage(PageOut[MemberOut]):
    """A page of a group's members."""

    model_config = example(
        items=[
            {
                "group_id": _UUID,
                "user_id": _UUID,
                "name": "Organiser",
                "role": "owner",
                "joined_at": "2026-11-22T10:00:00Z",
            },
            {
                "group_id": _UUID,
                "user_id": _UUID,
                "name": "Grace",
                "role": "photographer",
                "joined_at": "2026-11-22T10:05:00Z",
            },
        ],
        next_cursor=None,
    )


class MemberAdd(BaseModel):
    """Who (exactly one of ``user_id`` and ``phone_number``, a registered user) and the role."""

    model_config = example(phone_number="+14155550122", role="photographer")
    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    phone_number: str | None = Field(default=None, min_length=8, max_length=20)
    role: GroupRole = GroupRole.MEMBER


class MemberRole(BaseModel):
    model_config = example(role="owner")
    role: GroupRole


class JoinRequest(BaseModel):
    model_config = example(invite_code="K7QX2MPR9T")
    invite_code: str = Field(min_length=4, max_length=64)


class JoinOut(BaseModel):
    model_config = example(
        group_id=_UUID, group_name="Summer Gala", role="member", message="Joined the group."
    )
    group_id: str
    group_name: str | None = None
    role: GroupRole
    message: str


class UpdateGroup(BaseModel):
    model_config = example(group_id=_UUID, common_photo_ids=[_UUID])
    group_id: str
    common_photo_ids: list[str] = Field(max_length=1000)


def group_out(summary: GroupSummary) -> GroupOut:
    group: Group = summary.group
    counts = ImageCounts(**summary.image_counts) if summary.image_counts else None
    return GroupOut(
        group_id=group.group_id,
        group_name=group.name,
        description=group.description,
        owner_id=group.owner_id,
        role=summary.role,
        invite_code=group.invite_code,
        photographer_invite_code=(
            group.photographer_invite_code or None if summary.administers else None
        ),
        common_photo_ids=list(group.common_photo_ids),
        created_at=group.created_at,
        image_counts=counts,
    )


def member_out(member: Member) -> MemberOut:
    m = member.membership
    return MemberOut(
        group_id=m.group_id,
        user_id=m.user_id,
        name=member.name,
        role=GroupRole(m.role),
        joined_at=m.joined_at,
    )
