"""Deployed names stay: the code says person link and manual placement, DynamoDB keeps the
table, index and attribute names deployed data has (renaming one would replace a table)."""

from __future__ import annotations

from findme import tables
from findme.adapters.dynamodb.models import FaceModel, PersonLinkModel


def test_person_links_live_in_the_deployed_assignments_table() -> None:
    # Given the person links' table spec and model, Then the names are the deployed ones
    assert tables.PERSON_LINKS.name == "assignments"
    assert [ix.name for ix in tables.PERSON_LINKS.indexes] == ["user_id-index"]
    assert PersonLinkModel.user_index.Meta.index_name == "user_id-index"
    assert "assignments" in {spec.name for spec in tables.TABLES}


def test_a_manual_placement_is_stored_as_is_manual_assignment() -> None:
    # Given the face model, Then the manual-placement flag keeps its stored attribute name
    attribute = FaceModel.get_attributes()["is_manual_placement"]
    assert attribute.attr_name == "is_manual_assignment"
    assert FaceModel.is_manual_placement.set(True).values[0].path == ["is_manual_assignment"]
