"""Users administration for platform admins: create, list (paged), get, set role, delete.

Also exposes the selfie-quality thresholds that registration applies (read-only settings).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from findme.config import Settings
from findme.domain.records import Page, Role, User
from findme.errors import InvalidInputError, PermissionDeniedError
from findme.ports import (
    ObjectStore,
    UserRepository,
    VectorIndex,
)
from findme.services import users
from findme.services.auth import Principal, normalize_phone

MAX_USER_NAME = 100


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= MAX_USER_NAME:
        raise InvalidInputError(f"name must be 1-{MAX_USER_NAME} characters", field="name")
    return cleaned


def create_user(metadata: UserRepository, *, phone_number: str, name: str, role: Role) -> User:
    """Create a user (the user signs in later with an OTP to that phone).

    Raises:
        InvalidInputError: bad phone number or name. ConflictError: the phone is taken.
    """
    user = User(
        user_id=str(uuid.uuid4()),
        phone_number=normalize_phone(phone_number),
        name=_check_name(name),
        role=role,
    )
    metadata.put_user(user)
    return user


def list_users(metadata: UserRepository, *, limit: int, cursor: str | None) -> Page[User]:
    """One page of users (the store's cursor)."""
    return metadata.list_users(limit=limit, cursor=cursor)


def set_role(metadata: UserRepository, admin_id: str, user_id: str, role: Role) -> User:
    """Change a user's platform role.

    Raises:
        NotFoundError: unknown user. PermissionDeniedError: an admin demoting themself (so
            the platform is never left without the admin who is acting).
    """
    user = metadata.get_user(user_id)
    if user_id == admin_id and role is not Role.ADMIN:
        raise PermissionDeniedError("Admins cannot remove their own admin role")
    user.role = role
    metadata.put_user(user)
    return user


@dataclass(slots=True)
class UserDeletion:
    user_id: str
    reference_faces: int
    person_links: int
    memberships: int


def delete_user(
    metadata: users.DeleteUserStore,
    vectors: VectorIndex,
    store: ObjectStore,
    admin_id: str,
    user_id: str,
) -> UserDeletion:
    """Admin deletes a user and their own data, exactly as ``DELETE /users/me`` does
    (:func:`findme.services.users.delete_user`); photos they uploaded to groups stay.

    Raises:
        NotFoundError: unknown user. PermissionDeniedError: self-deletion (use /users/me).
    """
    if user_id == admin_id:
        raise PermissionDeniedError("Use DELETE /users/me to delete your own account")
    user = metadata.get_user(user_id)
    counts = UserDeletion(
        user_id=user_id,
        reference_faces=len(metadata.list_reference_faces(user_id)),
        person_links=len(metadata.list_person_links(user_id=user_id)),
        memberships=len(metadata.list_groups_of_user(user_id)),
    )
    users.delete_user(
        metadata=metadata, objects=store, vectors=vectors, principal=Principal.from_user(user)
    )
    return counts


def selfie_quality_settings(settings: Settings) -> dict[str, float | int]:
    """The thresholds a registration selfie must meet (``Settings.selfie_*``)."""
    return {
        "min_face_size": settings.selfie_min_face_size_px,
        "min_confidence": settings.selfie_min_confidence,
        "blur_threshold": settings.selfie_blur_threshold,
    }
