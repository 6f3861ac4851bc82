"""Groups (with their sparse invite-code indexes) and memberships over DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import GroupModel, _storable
from findme.domain.records import Group, Membership, utcnow
from findme.errors import ConflictError, DependencyError, NotFoundError


def _first_hit(index: GlobalSecondaryIndex[Any], hash_key: str) -> list[Any]:
    """At most one item of ``index`` with ``hash_key``."""
    return list(index.query(hash_key, limit=1))


class DynamoGroups(DynamoBase):
    """:class:`findme.ports.GroupRepository`: groups and memberships."""

    def put_group(self, group: Group) -> None:
        # GSI keys cannot be empty strings: no invite code = not in the (sparse) index.
        model = _to_model(
            self.groups,
            group,
            invite_code=group.invite_code or None,
            photographer_invite_code=group.photographer_invite_code or None,
        )
        self._call(model.save, "put group")

    def set_group_gallery(self, group_id: str, *, persons: int, clustered_faces: int) -> None:
        """Record the gallery size of the last clustering (one UpdateItem; other fields of
        the group are left alone). NotFoundError when the group is gone."""
        model = self.groups
        item = model(group_id=group_id)
        actions: list[Action] = [
            model.person_count.set(persons),
            model.clustered_face_count.set(clustered_faces),
            model.gallery_updated_at.set(utcnow()),
        ]
        try:
            self._call(
                lambda: item.update(actions, condition=model.group_id.exists()), "update group"
            )
        except ConflictError as exc:
            raise NotFoundError("group not found", id=group_id) from exc

    def set_group_cluster_job(self, group_id: str, job_id: str) -> None:
        """Record the group's latest cluster job (one UpdateItem). NotFoundError: no group."""
        model = self.groups
        item = model(group_id=group_id)
        try:
            self._call(
                lambda: item.update(
                    [model.last_cluster_job_id.set(job_id)], condition=model.group_id.exists()
                ),
                "update group",
            )
        except ConflictError as exc:
            raise NotFoundError("group not found", id=group_id) from exc

    def get_group(self, group_id: str) -> Group:
        return self._group_record(self._get(self.groups, "group", group_id))

    @staticmethod
    def _group_record(item: Model) -> Group:
        group = _from_model(Group, item)
        group.invite_code = group.invite_code or ""
        group.photographer_invite_code = group.photographer_invite_code or ""
        return group

    def find_group_by_invite(self, invite_code: str) -> Group | None:
        """The group with this member or photographer invite code (two sparse GSIs)."""
        if not invite_code:
            return None
        indexes: tuple[GlobalSecondaryIndex[GroupModel], ...] = (
            self.groups.invite_code_index,
            self.groups.photographer_invite_code_index,
        )
        for index in indexes:
            items = self._call(partial(_first_hit, index, invite_code), "find group")
            if items:
                return self._group_record(items[0])
        return None

    def list_all_groups(self) -> Iterator[Group]:
        """Every group, streamed (Scan: admin statistics only)."""
        pages = self._call(lambda: self.groups.scan(), "scan groups")
        try:
            for item in pages:
                yield self._group_record(item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: scan groups") from exc

    def delete_group(self, group_id: str) -> None:
        """Delete the group item only; :func:`findme.services.catalog.delete_group` cascades."""
        self._call(lambda: self.groups(group_id=group_id).delete(), "delete group")

    def put_membership(self, membership: Membership) -> None:
        self._call(_to_model(self.memberships, membership).save, "put membership")

    def get_membership(self, group_id: str, user_id: str) -> Membership | None:
        item = self._get_or_none(self.memberships, "membership", group_id, user_id)
        return None if item is None else _from_model(Membership, item)

    def list_groups_of_user(self, user_id: str) -> list[Membership]:
        if not _storable(user_id):
            return []
        index = self.memberships.user_index
        items = self._call(lambda: list(index.query(user_id)), "list groups of user")
        return [_from_model(Membership, item) for item in items]

    def list_members(self, group_id: str) -> list[Membership]:
        if not _storable(group_id):
            return []
        items = self._call(lambda: list(self.memberships.query(group_id)), "list members")
        return [_from_model(Membership, item) for item in items]

    def delete_membership(self, group_id: str, user_id: str) -> None:
        item = self.memberships(group_id=group_id, user_id=user_id)
        self._call(item.delete, "delete membership")
