"""Sections of a group over DynamoDB."""

from __future__ import annotations

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Section


class DynamoSections(DynamoBase):
    """:class:`findme.ports.SectionRepository`."""

    def put_section(self, section: Section) -> None:
        self._call(_to_model(self.sections, section).save, "put section")

    def list_sections(self, group_id: str) -> list[Section]:
        if not _storable(group_id):
            return []
        items = self._call(lambda: list(self.sections.query(group_id)), "list sections")
        return [_from_model(Section, item) for item in items]

    def delete_section(self, group_id: str, section_id: str) -> None:
        item = self.sections(group_id=group_id, section_id=section_id)
        self._call(item.delete, "delete section")
