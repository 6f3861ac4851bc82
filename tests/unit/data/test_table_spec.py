"""The table spec (findme.tables) and the adapters describe the same tables.

Tables with a PynamoDB model are compared model-to-spec; ``rate-limits`` is served by a plain
boto3 client (``findme.adapters.ratelimit``), so that adapter is run against a moto table
created from the spec.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from findme import tables
from findme.adapters.dynamodb import MODELS, bind_model
from findme.adapters.ratelimit import DynamoRateLimiter
from findme.config import Settings
from moto import mock_aws
from pynamodb.attributes import TTLAttribute

MODEL_TABLES = tuple(spec for spec in tables.TABLES if spec.pynamodb_model)


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def _model_schema(spec: tables.TableSpec) -> dict[str, Any]:
    model = bind_model(MODELS[spec.name], Settings(), spec.name)
    schema: dict[str, Any] = model._get_schema()
    return schema


def test_every_table_has_exactly_one_model_or_is_a_client_table() -> None:
    assert set(MODELS) == {spec.name for spec in MODEL_TABLES}
    assert {s.name for s in tables.TABLES if not s.pynamodb_model} == {tables.RATE_LIMITS.name}
    assert len(tables.TABLES_BY_NAME) == len(tables.TABLES)


@pytest.mark.parametrize("spec", MODEL_TABLES, ids=lambda s: s.name)
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


@pytest.mark.parametrize("spec", MODEL_TABLES, ids=lambda s: s.name)
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


@pytest.mark.parametrize("spec", MODEL_TABLES, ids=lambda s: s.name)
def test_model_ttl_attribute_matches_spec(spec: tables.TableSpec) -> None:
    model = MODELS[spec.name]
    ttl = [name for name, a in model.get_attributes().items() if isinstance(a, TTLAttribute)]
    assert ttl == ([spec.ttl_attribute] if spec.ttl_attribute else [])


def test_every_key_and_index_documents_its_access_pattern() -> None:
    for spec in tables.TABLES:
        assert spec.serves.strip()
        for index in spec.indexes:
            assert index.serves.strip()


def test_every_table_created_from_its_spec_is_on_demand() -> None:
    # Given every table created in (moto's) DynamoDB from its spec
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for spec in tables.TABLES:
            name = f"on-demand-{uuid.uuid4().hex[:8]}-{spec.name}"
            client.create_table(**tables.create_table_kwargs(spec, name))
            # Then DynamoDB reports it on demand: no provisioned capacity to run out of
            table = client.describe_table(TableName=name)["Table"]
            assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_create_table_kwargs_shape() -> None:
    kwargs = tables.create_table_kwargs(tables.FACES, "findme-faces")
    assert kwargs["TableName"] == "findme-faces"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert {"AttributeName": "face_index", "AttributeType": "N"} in kwargs["AttributeDefinitions"]
    names = [i["IndexName"] for i in kwargs["GlobalSecondaryIndexes"]]
    assert names == ["image_id-index", "person_id-index", "group_id-index"]
    assert "GlobalSecondaryIndexes" not in tables.create_table_kwargs(tables.USERS, "u")


def test_rate_limiter_counts_in_a_table_built_from_the_spec() -> None:
    # Given the rate-limits table created from its spec (moto checks UpdateItem's key names
    # against the table's key schema), with its TTL attribute enabled
    spec = tables.RATE_LIMITS
    with mock_aws():
        settings = Settings(aws_region="us-east-1", table_prefix="spec-")
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**tables.create_table_kwargs(spec, settings.table_name(spec.name)))
        limiter = DynamoRateLimiter(settings, client=client, clock=lambda: 600.0)
        # When one caller hits a route three times with a limit of two
        states = [limiter.hit("user:u|GET /x", 2) for _ in range(3)]
        # Then the counts were stored (a key mismatch would fail open: always allowed)
        assert [s.allowed for s in states] == [True, True, False]
        (item,) = client.scan(TableName=settings.table_name(spec.name))["Items"]
        assert set(item) == {spec.hash_key.name, "hits", spec.ttl_attribute}
        assert item["hits"] == {"N": "3"}
        assert int(item[str(spec.ttl_attribute)]["N"]) > 600
