"""Every DynamoDB table of FindMe as plain data: the one source of truth for its schema.

Three readers build the same tables from :data:`TABLES`:

- the adapters: ``findme.adapters.dynamodb.models`` (PynamoDB models; ``tests/unit/data/
  test_table_spec.py`` checks that each model's keys, indexes and TTL attribute match this
  spec) and, for :data:`RATE_LIMITS` (``pynamodb_model=False``), the plain boto3 client of
  ``findme.adapters.ratelimit`` (the same test runs it against a table built from the spec),
- the CDK app in ``infra/`` (``dynamodb.Table`` + ``add_global_secondary_index``),
- the local stack and the tests (:func:`create_table_kwargs` -> boto3 ``create_table``).

Every table is on-demand (``PAY_PER_REQUEST``); table names are
``Settings.table_name(spec.name)`` (e.g. ``findme-images``). Each key and index carries the
access pattern it serves (``serves``), so the design can be reviewed here, in one place.

Design notes:

- One table per entity (PynamoDB's natural shape) rather than a single-table design: the
  access patterns are few and simple, and per-entity tables keep TTL and streams per entity.
- Uniqueness of a phone number is enforced with a *lock item* in ``user-phones`` written in
  the same ``TransactWriteItems`` as the user, conditional on ``attribute_not_exists``; a
  GSI cannot enforce uniqueness (it is eventually consistent and accepts duplicates).
- GSI keys must not be empty strings: optional keys (``invite_code``, ``person_id``) are
  omitted when unset, which makes those indexes *sparse*.
- Timestamps are PynamoDB ``UTCDateTimeAttribute`` strings (``%Y-%m-%dT%H:%M:%S.%f+0000``,
  fixed width), so they sort chronologically as ``S`` range keys.
- TTL attributes hold epoch seconds (``N``); DynamoDB deletes expired items lazily (within
  about 48 hours), so readers also compare the expiry time themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]
ProjectionType = Literal["ALL", "KEYS_ONLY", "INCLUDE"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key attribute: DynamoDB name and scalar type (``S`` string, ``N`` number)."""

    name: str
    type: AttributeType = "S"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A global secondary index; ``serves`` is the access pattern it exists for."""

    name: str
    hash_key: KeySpec
    range_key: KeySpec | None
    serves: str
    projection: ProjectionType = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table: ``name`` is the entity suffix passed to ``Settings.table_name``."""

    name: str
    hash_key: KeySpec
    range_key: KeySpec | None
    serves: str
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    billing_mode: Literal["PAY_PER_REQUEST"] = "PAY_PER_REQUEST"
    #: False for a table served by a plain boto3 client adapter instead of a PynamoDB model.
    pynamodb_model: bool = True

    def key_attributes(self) -> dict[str, AttributeType]:
        """Every attribute used as a key of the table or of an index -> its type."""
        keys = [self.hash_key, self.range_key]
        for index in self.indexes:
            keys += [index.hash_key, index.range_key]
        return {k.name: k.type for k in keys if k is not None}


USERS = TableSpec(
    name="users",
    hash_key=KeySpec("user_id"),
    range_key=None,
    serves="user by id (GetItem); all users for admins (Scan, paginated)",
)

USER_PHONES = TableSpec(
    name="user-phones",
    hash_key=KeySpec("phone_number"),
    range_key=None,
    serves=(
        "user by phone number (GetItem -> user_id); uniqueness of phone numbers: the lock item "
        "is put with attribute_not_exists(phone_number) in one transaction with the user"
    ),
)

OTP = TableSpec(
    name="otp",
    hash_key=KeySpec("phone_number"),
    range_key=None,
    serves="the current OTP challenge of a phone number (GetItem, consistent read)",
    ttl_attribute="ttl",
)

REFERENCE_FACES = TableSpec(
    name="reference-faces",
    hash_key=KeySpec("user_id"),
    range_key=KeySpec("face_id"),
    serves="reference (selfie) faces of a user (Query user_id)",
)

GROUPS = TableSpec(
    name="groups",
    hash_key=KeySpec("group_id"),
    range_key=None,
    serves="group by id (GetItem)",
    indexes=(
        IndexSpec(
            name="invite_code-index",
            hash_key=KeySpec("invite_code"),
            range_key=None,
            serves="group by invite code (Query invite_code; sparse: groups without a code "
            "are not indexed)",
        ),
        IndexSpec(
            name="photographer_invite_code-index",
            hash_key=KeySpec("photographer_invite_code"),
            range_key=None,
            serves="group by photographer invite code (Query photographer_invite_code; "
            "sparse: most groups have none)",
        ),
    ),
)

MEMBERSHIPS = TableSpec(
    name="memberships",
    hash_key=KeySpec("group_id"),
    range_key=KeySpec("user_id"),
    serves="members of a group (Query group_id); one membership (GetItem group_id+user_id)",
    indexes=(
        IndexSpec(
            name="user_id-index",
            hash_key=KeySpec("user_id"),
            range_key=KeySpec("group_id"),
            serves="groups of a user (Query user_id)",
        ),
    ),
)

SECTIONS = TableSpec(
    name="sections",
    hash_key=KeySpec("group_id"),
    range_key=KeySpec("section_id"),
    serves="sections of a group (Query group_id)",
)

IMAGES = TableSpec(
    name="images",
    hash_key=KeySpec("image_id"),
    range_key=None,
    serves="image by id (GetItem)",
    indexes=(
        IndexSpec(
            name="group_id-created_at-index",
            hash_key=KeySpec("group_id"),
            range_key=KeySpec("created_at"),
            serves="images of a group, newest first (Query group_id, ScanIndexForward=false, "
            "paginated)",
        ),
    ),
)

FACES = TableSpec(
    name="faces",
    hash_key=KeySpec("face_id"),
    range_key=None,
    serves="face by id (GetItem / BatchGetItem)",
    indexes=(
        IndexSpec(
            name="image_id-index",
            hash_key=KeySpec("image_id"),
            range_key=KeySpec("face_index", "N"),
            serves="faces of an image, in detection order (Query image_id)",
        ),
        IndexSpec(
            name="person_id-index",
            hash_key=KeySpec("person_id"),
            range_key=KeySpec("face_id"),
            serves="faces of a person (Query person_id; sparse: unassigned faces are not indexed)",
        ),
        IndexSpec(
            name="group_id-index",
            hash_key=KeySpec("group_id"),
            range_key=KeySpec("face_id"),
            serves="faces of a group (Query group_id): clustering, review, delete_group",
        ),
    ),
)

PERSONS = TableSpec(
    name="persons",
    hash_key=KeySpec("person_id"),
    range_key=None,
    serves="person by id (GetItem)",
    indexes=(
        IndexSpec(
            name="group_id-index",
            hash_key=KeySpec("group_id"),
            range_key=KeySpec("person_id"),
            serves="persons of a group (Query group_id)",
        ),
    ),
)

PERSON_LINKS = TableSpec(
    # a person linked to a user; the table keeps its deployed name "assignments"
    name="assignments",
    hash_key=KeySpec("group_id"),
    range_key=KeySpec("person_id"),
    serves="person links (person -> user) of a group (Query group_id); one (GetItem)",
    indexes=(
        IndexSpec(
            name="user_id-index",
            hash_key=KeySpec("user_id"),
            range_key=KeySpec("group_id"),
            serves="person links of a user across groups (Query user_id)",
        ),
    ),
)

JOBS = TableSpec(
    name="jobs",
    hash_key=KeySpec("job_id"),
    range_key=None,
    serves="job by id (GetItem); progress counters by atomic UpdateItem ADD",
    ttl_attribute="expires_at",
)

RATE_LIMITS = TableSpec(
    name="rate-limits",
    hash_key=KeySpec("key"),
    range_key=None,
    serves="api rate-limit counters and hourly SMS budgets: one item per key "
    "(route|caller, sms|country, sms|all) and fixed window (UpdateItem ADD hits), shared by "
    "every api Lambda instance (findme.adapters.ratelimit.DynamoRateLimiter)",
    ttl_attribute="expires_at",
    pynamodb_model=False,
)

#: Every table, in creation order.
TABLES: tuple[TableSpec, ...] = (
    USERS,
    USER_PHONES,
    OTP,
    REFERENCE_FACES,
    GROUPS,
    MEMBERSHIPS,
    SECTIONS,
    IMAGES,
    FACES,
    PERSONS,
    PERSON_LINKS,
    JOBS,
    RATE_LIMITS,
)

TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}


def _key_schema(hash_key: KeySpec, range_key: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def create_table_kwargs(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """Keyword arguments for boto3 ``DynamoDB.Client.create_table`` built from ``spec``.

    TTL is not part of ``CreateTable``: call ``update_time_to_live`` with
    ``spec.ttl_attribute`` afterwards (see :func:`findme.local.stack.create_tables`).
    """
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": spec.billing_mode,
        "KeySchema": _key_schema(spec.hash_key, spec.range_key),
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": type_}
            for name, type_ in spec.key_attributes().items()
        ],
    }
    if spec.indexes:
        indexes = []
        for index in spec.indexes:
            projection: dict[str, Any] = {"ProjectionType": index.projection}
            if index.projection == "INCLUDE":
                projection["NonKeyAttributes"] = list(index.non_key_attributes)
            indexes.append(
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.hash_key, index.range_key),
                    "Projection": projection,
                }
            )
        kwargs["GlobalSecondaryIndexes"] = indexes
    return kwargs
