"""Users administration (admins)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.domain.records import Role, User
from findme.services import users_admin as svc
from findme.web.schemas.common import PageOut


class AdminUserOut(BaseModel):
    user_id: str
    phone_number: str
    name: str
    role: Role
    created_at: datetime


class UserCreate(BaseModel):
    phone_number: str = Field(examples=["+14155550123"], description="E.164.")
    name: str = Field(min_length=1, max_length=svc.MAX_USER_NAME)
    role: Role = Role.MEMBER


class UserPage(PageOut[AdminUserOut]):
    """A page of users."""


class MembershipOut(BaseModel):
    group_id: str
    role: str
    joined_at: datetime


class UserDetailOut(AdminUserOut):
    groups: list[MembershipOut]


class RoleIn(BaseModel):
    role: Role


class UserDeletedOut(BaseModel):
    user_id: str
    reference_faces: int
    assignments: int = Field(description="Person links deleted (the field keeps its former name).")
    memberships: int


def user_out(user: User) -> AdminUserOut:
    return AdminUserOut.model_validate(user, from_attributes=True)
