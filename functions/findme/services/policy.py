"""The one access policy: who may do what in a group, and the one answer when they may not.

Every route that touches a group asks :meth:`Policy.require` (or :func:`authorize`) for a
:class:`Need`; a refusal is always :class:`~findme.errors.PermissionDeniedError` with the code
:data:`ACCESS_DENIED` (HTTP 403) and the details ``need`` and ``role`` (the caller's group role,
``null`` outside the group). Unknown groups are 404 before any rights are weighed.

=============  ==================================================================================
need           what it covers
=============  ==================================================================================
READ           be in the group: the group, its sections, the common photos, your own photos
               and persons, "Is this you?"
UPLOAD         the crew's work: upload (multipart, Drive, presigned, digest), reprocess, delete
               faces and photos; and so see every photo, face, person and statistic of the group
CURATE         decide who is who and what is shown: rename/hide/merge persons, move faces,
               clustering, person links, common photos, sections, image tags, consistency repair
ADMINISTER     the group itself: name and description, members and their roles, invite codes,
               deleting the group
=============  ==================================================================================

Group roles grant needs (:data:`GRANTS`): ``member`` READ; ``photographer`` READ and UPLOAD;
``owner`` everything. A platform ``admin`` has every need in every group without being a
member. The platform role ``photographer`` grants nothing by itself: rights in a group come
from a membership, given by an owner (``/groups/{group_id}/members``) or by a photographer
invite code.

:class:`Policy` is built once per request (``findme.web.deps.Rights``); it reads the caller's
membership of each group it is asked about once (one GetItem), and lists the caller's
memberships (one Query) only for routes that span "all my groups". The contract, every route
against every role, is ``tests/unit/api/test_api_permissions.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from findme.domain.records import Group, GroupRole
from findme.errors import InvalidInputError, PermissionDeniedError
from findme.ports import GroupRepository
from findme.services.auth import Principal

#: The one error code of every refusal by the policy.
ACCESS_DENIED = "access_denied"


class Need(enum.StrEnum):
    """What a request needs in a group (see the module docstring)."""

    READ = "read"
    UPLOAD = "upload"
    CURATE = "curate"
    ADMINISTER = "administer"


#: Needs each group role grants in its group.
GRANTS: Mapping[GroupRole, frozenset[Need]] = {
    GroupRole.MEMBER: frozenset({Need.READ}),
    GroupRole.PHOTOGRAPHER: frozenset({Need.READ, Need.UPLOAD}),
    GroupRole.OWNER: frozenset(Need),
}

#: What each need lets a caller do, for refusal messages.
_DOING: Mapping[Need, str] = {
    Need.READ: "Seeing this group",
    Need.UPLOAD: "Uploading, reprocessing, deleting and reviewing photos and faces",
    Need.CURATE: "Curating persons, sections and common photos",
    Need.ADMINISTER: "Administering the group (details, members, invite codes, deletion)",
}

#: Group role rank: an invite code never lowers a member's role (:func:`higher_role`).
_RANK: Mapping[GroupRole, int] = {
    GroupRole.MEMBER: 0,
    GroupRole.PHOTOGRAPHER: 1,
    GroupRole.OWNER: 2,
}


def role_allows(role: GroupRole | None, need: Need) -> bool:
    """Whether the group role ``role`` (``None``: not a member) grants ``need``."""
    return role is not None and need in GRANTS[role]


def roles_with(need: Need) -> list[GroupRole]:
    """The group roles that grant ``need``, lowest first."""
    return sorted((r for r, needs in GRANTS.items() if need in needs), key=_RANK.__getitem__)


def higher_role(a: GroupRole, b: GroupRole) -> GroupRole:
    """The stronger of two group roles."""
    return a if _RANK[a] >= _RANK[b] else b


def denied(
    need: Need | str, role: GroupRole | None, message: str | None = None, **details: Any
) -> PermissionDeniedError:
    """The policy's refusal: 403 :data:`ACCESS_DENIED` with ``need`` and ``role`` details (and
    any ``details`` given, e.g. the ids refused)."""
    if message is None:
        if isinstance(need, Need):
            allowed = " or ".join(map(str, roles_with(need)))
            who = f"your role is {role}" if role is not None else "you are not a member"
            message = f"{_DOING[need]} needs the group role {allowed} (or admin); {who}"
        else:
            message = "This needs a platform admin"
    return PermissionDeniedError(
        message,
        code=ACCESS_DENIED,
        need=str(need),
        role=None if role is None else str(role),
        **details,
    )


@dataclass(frozen=True, slots=True)
class GroupAccess:
    """The caller's standing in one group; ``role`` is ``None`` for an admin outsider."""

    group: Group
    role: GroupRole | None
    is_admin: bool
    user_id: str

    def allows(self, need: Need) -> bool:
        return self.is_admin or role_allows(self.role, need)


#: A sentinel for "not read yet" in the membership cache.
_UNREAD = object()


class Policy:
    """One caller's rights, asked group by group (memberships cached for the request).

    Args:
        metadata: where memberships live.
        principal: the authenticated caller.
    """

    def __init__(self, metadata: GroupRepository, principal: Principal) -> None:
        self.metadata = metadata
        self.principal = principal
        self._roles: dict[str, GroupRole | None] = {}
        self._listed = False

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    def role_in(self, group_id: str) -> GroupRole | None:
        """The caller's group role in ``group_id`` (``None``: not a member); read once."""
        role = self._roles.get(group_id, _UNREAD)
        if role is _UNREAD:
            membership = (
                None if self._listed else self.metadata.get_membership(group_id, self.user_id)
            )
            role = GroupRole(membership.role) if membership is not None else None
            self._roles[group_id] = role
        assert role is None or isinstance(role, GroupRole)
        return role

    def allows(self, group_id: str, need: Need) -> bool:
        """Whether the caller has ``need`` in ``group_id`` (the group is not loaded)."""
        return self.is_admin or role_allows(self.role_in(group_id), need)

    def require(self, group_id: str, need: Need, message: str | None = None) -> None:
        """Raises the policy's 403 unless the caller has ``need`` in ``group_id``."""
        if not self.allows(group_id, need):
            raise denied(need, self.role_in(group_id), message)

    def authorize(self, group_id: str, need: Need) -> GroupAccess:
        """Load the group and check ``need`` in it.

        Raises:
            NotFoundError: no such group (whoever asks).
            PermissionDeniedError: :data:`ACCESS_DENIED`.
        """
        group = self.metadata.get_group(group_id)
        self.require(group_id, need)
        return GroupAccess(group, self.role_in(group_id), self.is_admin, self.user_id)

    def require_admin(self) -> None:
        """Raises the policy's 403 unless the caller is a platform admin."""
        if not self.is_admin:
            raise denied("platform_admin", None)

    def require_self_or_admin(self, user_id: str, message: str) -> None:
        """Raises the policy's 403 unless ``user_id`` is the caller or the caller is an admin."""
        if user_id != self.user_id and not self.is_admin:
            raise denied("platform_admin", None, message)

    def my_groups(self) -> dict[str, GroupRole]:
        """Every group the caller belongs to -> role (one Query; later lookups are cached)."""
        if not self._listed:
            for m in self.metadata.list_groups_of_user(self.user_id):
                self._roles[m.group_id] = GroupRole(m.role)
            self._listed = True
        return {g: r for g, r in self._roles.items() if r is not None}

    def groups(self, need: Need, requested: Sequence[str] | None, *, param: str) -> list[str]:
        """The groups a multi-group request covers: each requested one (checked), or, when
        none is named, every group where the caller has ``need``.

        Args:
            need: what the request does in each group.
            requested: the groups the caller named (``None`` or empty: all theirs).
            param: the request parameter naming groups (for the error message).

        Raises:
            PermissionDeniedError: a named group where the caller lacks ``need``.
            InvalidInputError: an admin named no group (there is no listing across every
                tenant; admins name the group with ``param``).
        """
        if requested:
            for group_id in requested:
                self.require(group_id, need)
            return list(dict.fromkeys(requested))
        mine = sorted(g for g, r in self.my_groups().items() if role_allows(r, need))
        if not mine and self.is_admin:
            raise InvalidInputError(
                f"Admins name the group: give {param}", code="group_required", field=param
            )
        return mine


def authorize(
    metadata: GroupRepository, principal: Principal, group_id: str, need: Need
) -> GroupAccess:
    """:meth:`Policy.authorize` for a one-off check (routes use ``findme.web.deps``)."""
    return Policy(metadata, principal).authorize(group_id, need)
