"""Users administration (platform admins only).

Paths::

    POST   /admin/users                    create a user (phone, name, role)
    GET    /admin/users                    list, cursor paging
    GET    /admin/users/{user_id}          one user with their groups
    PUT    /admin/users/{user_id}/role     set the platform role
    DELETE /admin/users/{user_id}          delete the user and their own data
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from findme.domain.records import Role, User
from findme.services import users_admin as svc
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import AUTH_ERRORS, INPUT_ERRORS, LIMIT_WRITE

router = APIRouter(prefix="/admin", tags=["admin"])


class UserOut(BaseModel):
    user_id: str
    phone_number: str
    name: str
    role: Role
    created_at: datetime


def _out(user: User) -> UserOut:
    return UserOut(
        user_id=user.user_id,
        phone_number=user.phone_number,
        name=user.name,
        role=Role(user.role),
        created_at=user.created_at,
    )


class UserCreate(BaseModel):
    phone_number: str = Field(examples=["+14155550123"], description="E.164.")
    name: str = Field(min_length=1, max_length=svc.MAX_USER_NAME)
    role: Role = Role.MEMBER


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def create_user(body: UserCreate, admin: deps.AdminUser, metadata: deps.Metadata) -> UserOut:
    """409 ``phone_taken`` when the phone number is registered."""
    return _out(
        svc.create_user(metadata, phone_number=body.phone_number, name=body.name, role=body.role)
    )


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = None


@router.get("/users", summary="List users", responses=INPUT_ERRORS)
def list_users(admin: deps.AdminUser, metadata: deps.Metadata, page: deps.Page) -> UserPage:
    result = svc.list_users(metadata, limit=page.limit, cursor=page.cursor)
    return UserPage(items=[_out(u) for u in result.items], next_cursor=result.cursor)


class MembershipOut(BaseModel):
    group_id: str
    role: str
    joined_at: datetime


class UserDetailOut(UserOut):
    groups: list[MembershipOut]


@router.get("/users/{user_id}", summary="A user and their groups", responses=AUTH_ERRORS)
def get_user(user_id: str, admin: deps.AdminUser, metadata: deps.Metadata) -> UserDetailOut:
    user = metadata.get_user(user_id)
    groups = [
        MembershipOut(group_id=m.group_id, role=str(m.role), joined_at=m.joined_at)
        for m in metadata.list_groups_of_user(user_id)
    ]
    return UserDetailOut(**_out(user).model_dump(), groups=groups)


class RoleIn(BaseModel):
    role: Role


@router.put(
    "/users/{user_id}/role",
    summary="Set a user's platform role",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def set_role(user_id: str, body: RoleIn, admin: deps.AdminUser, metadata: deps.Metadata) -> UserOut:
    """403 when an admin would remove their own admin role."""
    return _out(svc.set_role(metadata, admin.user_id, user_id, body.role))


class UserDeletedOut(BaseModel):
    user_id: str
    reference_faces: int
    assignments: int
    memberships: int


@router.delete(
    "/users/{user_id}",
    summary="Delete a user and their own data",
    responses=AUTH_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_user(
    user_id: str,
    admin: deps.AdminUser,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    objects: deps.Objects,
) -> UserDeletedOut:
    """Selfies, their embeddings, person assignments and memberships; group photos stay."""
    result = svc.delete_user(metadata, vectors, objects, admin.user_id, user_id)
    return UserDeletedOut(
        user_id=result.user_id,
        reference_faces=result.reference_faces,
        assignments=result.assignments,
        memberships=result.memberships,
    )
