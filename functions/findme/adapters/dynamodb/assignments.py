"""Assignments (a person linked to a user) over DynamoDB."""

from __future__ import annotations

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Assignment
from findme.errors import InvalidInputError


class DynamoAssignments(DynamoBase):
    """:class:`findme.ports.AssignmentRepository`."""

    def put_assignment(self, assignment: Assignment) -> None:
        self._call(_to_model(self.assignments, assignment).save, "put assignment")

    def list_assignments(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[Assignment]:
        """Assignments of a group, of a user, or of a user in a group.

        Raises:
            InvalidInputError: neither ``group_id`` nor ``user_id`` given.
        """
        model = self.assignments
        if group_id is None and user_id is None:
            raise InvalidInputError("list_assignments needs group_id or user_id")
        if not _storable(group_id if group_id is not None else user_id):
            return []
        if group_id is not None:
            condition = None if user_id is None else model.user_id == user_id
            items = self._call(
                lambda: list(model.query(group_id, filter_condition=condition)), "list assignments"
            )
        else:
            items = self._call(lambda: list(model.user_index.query(user_id)), "list assignments")
        return [_from_model(Assignment, item) for item in items]

    def delete_assignment(self, group_id: str, person_id: str) -> None:
        item = self.assignments(group_id=group_id, person_id=person_id)
        self._call(item.delete, "delete assignment")
