"""Persons (clusters of faces in a group) over DynamoDB."""

from __future__ import annotations

from typing import Any

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Person


class DynamoPersons(DynamoBase):
    """:class:`findme.ports.PersonRepository`."""

    def put_person(self, person: Person) -> None:
        self._call(_to_model(self.persons, person).save, "put person")

    def get_person(self, person_id: str) -> Person:
        return _from_model(Person, self._get(self.persons, "person", person_id))

    def list_persons(self, group_id: str) -> list[Person]:
        if not _storable(group_id):
            return []
        index = self.persons.group_index
        items = self._call(lambda: list(index.query(group_id)), "list persons")
        return [_from_model(Person, item) for item in items]

    def update_person(self, person_id: str, **changes: Any) -> Person:
        """Set some fields of a person (``updated_at`` is set too) and return it.

        Fields set to ``None`` are removed. Raises NotFoundError, InvalidInputError (unknown
        or key field).
        """
        item = self._update(self.persons, Person, "person", person_id, changes)
        return _from_model(Person, item)

    def delete_person(self, person_id: str) -> None:
        self._call(lambda: self.persons(person_id=person_id).delete(), "delete person")
