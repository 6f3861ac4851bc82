"""DynamoDB tables from findme.tables.TABLES, rate-limits included (keys, PITR, TTL...)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from findme.tables import RATE_LIMITS, TABLES, TableSpec

pytestmark = pytest.mark.infra


def _tables_by_name(template: Template) -> dict[str, Any]:
    return {
        t["Properties"]["TableName"]: t
        for t in template.find_resources("AWS::DynamoDB::Table").values()
    }


def _key_schema(spec_hash: str, spec_range: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": spec_hash, "KeyType": "HASH"}]
    if spec_range:
        keys.append({"AttributeName": spec_range, "KeyType": "RANGE"})
    return keys


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_each_spec_table_is_on_demand_with_pitr_keys_indexes_and_ttl(
    dev: Template, spec: TableSpec
) -> None:
    """Given a table of the data layer's spec, when reading the dev template, then the table
    exists as findme-dev-<name>, on demand, with PITR, its keys, every GSI and its TTL."""
    table = _tables_by_name(dev)[f"findme-dev-{spec.name}"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["KeySchema"] == _key_schema(
        spec.hash_key.name, spec.range_key.name if spec.range_key else None
    )
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == (
        spec.key_attributes()
    )
    indexes = {ix["IndexName"]: ix for ix in table.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {ix.name for ix in spec.indexes}
    for ix in spec.indexes:
        assert indexes[ix.name]["KeySchema"] == _key_schema(
            ix.hash_key.name, ix.range_key.name if ix.range_key else None
        )
        assert indexes[ix.name]["Projection"]["ProjectionType"] == ix.projection
    if spec.ttl_attribute:
        assert table["TimeToLiveSpecification"] == {
            "AttributeName": spec.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in table


def test_prod_tables_are_protected_and_retained_dev_tables_are_not(
    dev: Template, prod: Template
) -> None:
    """Given both stages, then prod tables have deletion protection and are retained on stack
    deletion, while dev tables are deletable."""
    for table in _tables_by_name(prod).values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
    for table in _tables_by_name(dev).values():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False
        assert table["DeletionPolicy"] == "Delete"
    assert len(_tables_by_name(prod)) == len(TABLES)


def test_rate_limit_table_matches_what_the_api_limiter_writes() -> None:
    """Given the api's DynamoDB rate limiter, when it counts a hit, then it updates the table
    RATE_LIMITS describes (same name, hash key and TTL attribute), so the deployed api limits
    requests instead of failing open on a missing table."""
    from findme.adapters.ratelimit import DynamoRateLimiter
    from findme.config import Settings

    calls: list[dict[str, Any]] = []

    class Client:
        def update_item(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {"Attributes": {"hits": {"N": "1"}}}

    settings = Settings(stage="dev", table_prefix="findme-dev-")
    state = DynamoRateLimiter(settings, client=Client(), clock=lambda: 600.0).hit("u|/x", 5)
    assert state.allowed
    (call,) = calls
    assert call["TableName"] == f"findme-dev-{RATE_LIMITS.name}"
    assert set(call["Key"]) == {RATE_LIMITS.hash_key.name}
    assert f"{RATE_LIMITS.ttl_attribute} = " in call["UpdateExpression"]
