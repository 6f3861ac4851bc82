"""DynamoDB tables built from the one spec of every table, :data:`findme.tables.TABLES`
(the api's rate-limit counters, :data:`findme.tables.RATE_LIMITS`, included)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb
from constructs import Construct
from findme.tables import TABLES, KeySpec, TableSpec

from findme_infra.stage import StageConfig

_TYPES = {
    "S": aws_dynamodb.AttributeType.STRING,
    "N": aws_dynamodb.AttributeType.NUMBER,
    "B": aws_dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": aws_dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": aws_dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": aws_dynamodb.ProjectionType.INCLUDE,
}


def _attribute(key: KeySpec) -> aws_dynamodb.Attribute:
    return aws_dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def _optional(key: KeySpec | None) -> aws_dynamodb.Attribute | None:
    return None if key is None else _attribute(key)


class Tables(Construct):
    """One on-demand table per :data:`findme.tables.TABLES` spec, with PITR and TTL.

    Table names are ``Settings.table_name(spec.name)`` with ``table_prefix`` =
    ``config.prefix`` (e.g. ``findme-prod-images``). In ``prod`` tables have deletion
    protection and are retained when the stack is deleted.

    Attributes:
        tables: spec name (``"images"``) -> table.
        specs: spec name -> :class:`TableSpec` (index names for IAM statements).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.table_prefix = config.prefix
        self.tables: dict[str, aws_dynamodb.Table] = {}
        self.specs: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
        for spec in TABLES:
            table = aws_dynamodb.Table(
                self,
                "".join(part.capitalize() for part in spec.name.split("-")),
                table_name=f"{config.prefix}{spec.name}",
                partition_key=_attribute(spec.hash_key),
                sort_key=_optional(spec.range_key),
                billing_mode=aws_dynamodb.BillingMode.PAY_PER_REQUEST,
                # Always encrypted at rest; the AWS-owned key adds no KMS calls or cost.
                encryption=aws_dynamodb.TableEncryption.DEFAULT,
                point_in_time_recovery_specification=aws_dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=config.protect_data,
                removal_policy=config.removal_policy,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.hash_key),
                    sort_key=_optional(index.range_key),
                    projection_type=_PROJECTIONS[index.projection],
                    non_key_attributes=list(index.non_key_attributes) or None,
                )
            self.tables[spec.name] = table
