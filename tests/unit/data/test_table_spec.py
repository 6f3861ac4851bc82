"""The table spec (findme.tables) and the PynamoDB models describe the same tables."""

from __future__ import annotations

from typing import Any

import pytest
from findme import tables
from findme.adapters.dynamodb import MODELS, bind_model
from findme.config import Settings
from pynamodb.attributes import TTLAttribute


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def _model_schema(spec: tables.TableSpec) -> dict[str, Any]:
    model = bind_model(MODELS[spec.name], Settings(), spec.name)
    schema: dict[str, Any] = model._get_schema()
    return schema


def test_every_table_has_exactly_one_model() -> None:
    assert set(MODELS) == {spec.name for spec in tables.TABLES}
    assert len(tables.TABLES_BY_NAME) == len(tables.TABLES)


@pytest.mark.parametrize("spec", tables.TABLES, ids=lambda s: s.name)
def test_model_keys_and_attribute_types_match_spec(spec: tables.TableSpec) -> None:
    # Given the spec's create_table arguments and the model's schema
    kwargs = tables.create_table_kwargs(spec, "t")
    schema = _model_schema(spec)
    # Then the table keys and every key attribute's type agree
    assert _keys(schema["key_schema"]) == _keys(kwargs["KeySchema"])
    model_types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    for index in schema["global_secondary_indexes"]:
        model_types.update(
            {a["AttributeName"]: a["AttributeType"] for a in index["attribute_definitions"]}
        )
    assert model_types == spec.key_attributes()


@pytest.mark.parametrize("spec", tables.TABLES, ids=lambda s: s.name)
def test_model_indexes_match_spec(spec: tables.TableSpec) -> None:
    kwargs = tables.create_table_kwargs(spec, "t")
    schema = _model_schema(spec)
    model_indexes = {
        i["index_name"]: (_keys(i["key_schema"]), i["projection"]["ProjectionType"])
        for i in schema["global_secondary_indexes"]
    }
    spec_indexes = {
        i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in kwargs.get("GlobalSecondaryIndexes", [])
    }
    assert model_indexes == spec_indexes
    assert schema["local_secondary_indexes"] == []


@pytest.mark.parametrize("spec", tables.TABLES, ids=lambda s: s.name)
def test_model_ttl_attribute_matches_spec(spec: tables.TableSpec) -> None:
    model = MODELS[spec.name]
    ttl = [name for name, a in model.get_attributes().items() if isinstance(a, TTLAttribute)]
    assert ttl == ([spec.ttl_attribute] if spec.ttl_attribute else [])


def test_every_key_and_index_documents_its_access_pattern() -> None:
    for spec in tables.TABLES:
        assert spec.serves.strip()
        for index in spec.indexes:
            assert index.serves.strip()
    assert all(spec.billing_mode == "PAY_PER_REQUEST" for spec in tables.TABLES)


def test_create_table_kwargs_shape() -> None:
    kwargs = tables.create_table_kwargs(tables.FACES, "findme-faces")
    assert kwargs["TableName"] == "findme-faces"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert {"AttributeName": "face_index", "AttributeType": "N"} in kwargs["AttributeDefinitions"]
    names = [i["IndexName"] for i in kwargs["GlobalSecondaryIndexes"]]
    assert names == ["image_id-index", "person_id-index", "group_id-index"]
    assert "GlobalSecondaryIndexes" not in tables.create_table_kwargs(tables.USERS, "u")
