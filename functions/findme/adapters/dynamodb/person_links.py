"""Person links (a person linked to a user) over DynamoDB, in the ``assignments`` table."""

from __future__ import annotations

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import PersonLink
from findme.errors import InvalidInputError


class DynamoPersonLinks(DynamoBase):
    """:class:`findme.ports.PersonLinkRepository`."""

    def put_person_link(self, link: PersonLink) -> None:
        self._call(_to_model(self.person_links, link).save, "put person link")

    def list_person_links(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[PersonLink]:
        """Person links of a group, of a user, or of a user in a group.

        Raises:
            InvalidInputError: neither ``group_id`` nor ``user_id`` given.
        """
        model = self.person_links
        if group_id is None and user_id is None:
            raise InvalidInputError("list_person_links needs group_id or user_id")
        if not _storable(group_id if group_id is not None else user_id):
            return []
        if group_id is not None:
            condition = None if user_id is None else model.user_id == user_id
            items = self._call(
                lambda: list(model.query(group_id, filter_condition=condition)), "list person links"
            )
        else:
            items = self._call(lambda: list(model.user_index.query(user_id)), "list person links")
        return [_from_model(PersonLink, item) for item in items]

    def delete_person_link(self, group_id: str, person_id: str) -> None:
        item = self.person_links(group_id=group_id, person_id=person_id)
        self._call(item.delete, "delete person link")
