"""Users administration (platform admins only).

Paths::

    POST   /admin/users                    create a user (phone, name, role)
    GET    /admin/users                    list, cursor paging
    GET    /admin/users/{user_id}          one user with their groups
    PUT    /admin/users/{user_id}/role     set the platform role
    DELETE /admin/users/{user_id}          delete the user and their own data
"""

from __future__ import annotations

from fastapi import APIRouter, status

from findme.services import users_admin as svc
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import AUTH_ERRORS, INPUT_ERRORS, LIMIT_WRITE
from findme.web.schemas.admin import (
    AdminUserOut,
    MembershipOut,
    RoleIn,
    UserCreate,
    UserDeletedOut,
    UserDetailOut,
    UserPage,
    user_out,
)

router = APIRouter(prefix="/admin", tags=["admin"], responses=AUTH_ERRORS)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses={**INPUT_ERRORS, **error_responses(409)},
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def create_user(body: UserCreate, admin: deps.AdminUser, metadata: deps.Metadata) -> AdminUserOut:
    """409 ``phone_taken`` when the phone number is registered."""
    return user_out(
        svc.create_user(metadata, phone_number=body.phone_number, name=body.name, role=body.role)
    )


@router.get("/users", summary="List users", responses=INPUT_ERRORS)
def list_users(admin: deps.AdminUser, metadata: deps.Metadata, page: deps.Page) -> UserPage:
    result = svc.list_users(metadata, limit=page.limit, cursor=page.cursor)
    return UserPage(items=[user_out(u) for u in result.items], next_cursor=result.cursor)


@router.get("/users/{user_id}", summary="A user and their groups", responses=AUTH_ERRORS)
def get_user(user_id: str, admin: deps.AdminUser, metadata: deps.Metadata) -> UserDetailOut:
    user = metadata.get_user(user_id)
    groups = [
        MembershipOut(group_id=m.group_id, role=str(m.role), joined_at=m.joined_at)
        for m in metadata.list_groups_of_user(user_id)
    ]
    return UserDetailOut(**user_out(user).model_dump(), groups=groups)


@router.put(
    "/users/{user_id}/role",
    summary="Set a user's platform role",
    responses=INPUT_ERRORS,
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def set_role(
    user_id: str, body: RoleIn, admin: deps.AdminUser, metadata: deps.Metadata
) -> AdminUserOut:
    """403 when an admin would remove their own admin role."""
    return user_out(svc.set_role(metadata, admin.user_id, user_id, body.role))


@router.delete(
    "/users/{user_id}",
    summary="Delete a user and their own data",
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def delete_user(
    user_id: str,
    admin: deps.AdminUser,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    objects: deps.Objects,
) -> UserDeletedOut:
    """Selfies, their embeddings, person links and memberships; group photos stay."""
    result = svc.delete_user(metadata, vectors, objects, admin.user_id, user_id)
    return UserDeletedOut(
        user_id=result.user_id,
        reference_faces=result.reference_faces,
        assignments=result.person_links,
        memberships=result.memberships,
    )
