"""Shared by the DynamoDB repositories: record <-> model conversion, cursors, and
:class:`DynamoBase`, which binds every model and translates SDK errors into domain errors.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from findme import tables
from findme.adapters.dynamodb.models import (
    FaceModel,
    GroupModel,
    ImageModel,
    JobModel,
    M,
    MembershipModel,
    OtpModel,
    PersonLinkModel,
    PersonModel,
    PhoneLockModel,
    ReferenceFaceModel,
    SectionModel,
    UserModel,
    _storable,
    bind_model,
)
from findme.config import Settings
from findme.domain.records import (
    GroupRole,
    Image,
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    Membership,
    Page,
    Role,
    User,
    utcnow,
)
from findme.errors import ConflictError, DependencyError, InvalidInputError, NotFoundError

R = TypeVar("R")

_CONDITION_FAILED = {"ConditionalCheckFailedException", "TransactionCanceledException"}


# --- record <-> model conversion --------------------------------------------------------------
#: Record fields holding enums, converted back from their stored string values.
_ENUM_FIELDS: dict[type[Any], dict[str, type[enum.Enum]]] = {
    User: {"role": Role},
    Membership: {"role": GroupRole},
    Image: {"status": ImageStatus},
    Job: {"job_type": JobType, "status": JobStatus},
}


def _to_model(model_cls: type[M], record: Any, **extra: Any) -> M:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        values[f.name] = value
    values.update(extra)
    return model_cls(**values)


def _from_model(record_cls: type[R], item: Model) -> R:
    enums = _ENUM_FIELDS.get(record_cls, {})
    values: dict[str, Any] = {}
    for f in dataclasses.fields(record_cls):  # type: ignore[arg-type]
        value = getattr(item, f.name, None)
        if value is None:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue  # absent optional attribute: the record's default
        elif f.name in enums:
            value = enums[f.name](value)
        values[f.name] = value
    return record_cls(**values)


def _encode_cursor(key: dict[str, dict[str, Any]] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str | None) -> dict[str, dict[str, Any]] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("malformed pagination cursor", field="cursor") from exc
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise InvalidInputError("malformed pagination cursor", field="cursor")
    return key


def _is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code in _CONDITION_FAILED


class DynamoBase:
    """The bound models and the helpers every repository mixin uses.

    Args:
        settings: table names via ``Settings.table_name``; endpoint via
            ``Settings.dynamodb_endpoint_url`` (``None`` = AWS); region ``aws_region``.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        b = settings
        self.users = bind_model(UserModel, b, tables.USERS.name)
        self.phones = bind_model(PhoneLockModel, b, tables.USER_PHONES.name)
        self.otps = bind_model(OtpModel, b, tables.OTP.name)
        self.refs = bind_model(ReferenceFaceModel, b, tables.REFERENCE_FACES.name)
        self.groups = bind_model(GroupModel, b, tables.GROUPS.name)
        self.memberships = bind_model(MembershipModel, b, tables.MEMBERSHIPS.name)
        self.sections = bind_model(SectionModel, b, tables.SECTIONS.name)
        self.images = bind_model(ImageModel, b, tables.IMAGES.name)
        self.faces = bind_model(FaceModel, b, tables.FACES.name)
        self.persons = bind_model(PersonModel, b, tables.PERSONS.name)
        self.person_links = bind_model(PersonLinkModel, b, tables.PERSON_LINKS.name)
        self.jobs = bind_model(JobModel, b, tables.JOBS.name)
        self._connection = Connection(
            region=settings.aws_region, host=settings.dynamodb_endpoint_url, max_retry_attempts=3
        )

    @staticmethod
    def _call(fn: Callable[[], R], what: str) -> R:
        """Run a PynamoDB call, translating SDK errors into domain errors."""
        try:
            return fn()
        except DoesNotExist as exc:
            raise NotFoundError(f"{what} not found") from exc
        except PynamoDBException as exc:
            if _is_condition_failure(exc):
                raise ConflictError(f"{what}: conditional write failed") from exc
            raise DependencyError(f"DynamoDB failed: {what}", cause=str(exc)) from exc

    def _get(self, model_cls: type[M], what: str, hash_key: str, range_key: str | None = None) -> M:
        # Ids come from paths and bodies: one DynamoDB cannot store is not found (404, not 503).
        if not _storable(hash_key, range_key):
            raise NotFoundError(f"{what} not found", id=hash_key[:100])
        try:
            return model_cls.get(hash_key, range_key, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError(f"{what} not found", id=hash_key) from exc
        except PynamoDBException as exc:
            raise DependencyError(f"DynamoDB failed: get {what}", cause=str(exc)) from exc

    def _get_or_none(
        self, model_cls: type[M], what: str, hash_key: str, range_key: str | None = None
    ) -> M | None:
        try:
            return self._get(model_cls, what, hash_key, range_key)
        except NotFoundError:
            return None

    def _page(
        self,
        query: Callable[[int, dict[str, dict[str, Any]] | None], Iterator[M]],
        key_names: Sequence[str],
        record_cls: type[R],
        limit: int,
        cursor: str | None,
        expect: dict[str, str] | None = None,
    ) -> Page[R]:
        """Read ``limit + 1`` items so the last page reliably has ``cursor=None``.

        A cursor must name exactly ``key_names`` and agree with ``expect`` (the queried
        partition, e.g. ``{"group_id": ...}``): a cursor from another listing is refused.
        """
        if limit < 1:
            raise InvalidInputError("limit must be >= 1", field="limit")
        start = _decode_cursor(cursor)
        if start is not None:
            wrong_keys = set(start) != set(key_names)
            wrong_partition = any(
                start.get(name, {}).get("S") != value for name, value in (expect or {}).items()
            )
            if wrong_keys or wrong_partition:
                raise InvalidInputError("cursor does not belong to this listing", field="cursor")
        items = self._call(lambda: list(query(limit + 1, start)), "query")
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            raw = items[-1].serialize()
            next_cursor = _encode_cursor({name: raw[name] for name in key_names})
        return Page([_from_model(record_cls, item) for item in items], next_cursor)

    def _batch_get(
        self, model_cls: type[M], key_name: str, record_cls: type[R], keys: Iterable[str], what: str
    ) -> list[R]:
        """Items by hash key in the order given, unknown keys skipped (PynamoDB batches 100)."""
        ids = [k for k in dict.fromkeys(keys) if _storable(k)]
        if not ids:
            return []
        items = self._call(lambda: list(model_cls.batch_get(ids)), what)
        by_id = {getattr(item, key_name): item for item in items}
        return [_from_model(record_cls, by_id[i]) for i in ids if i in by_id]

    def _batch_delete(self, model_cls: type[M], items: Iterable[M]) -> None:
        def run() -> None:
            with model_cls.batch_write() as batch:
                for item in items:
                    batch.delete(item)

        self._call(run, f"batch delete {model_cls.Meta.table_name}")

    def _update(
        self,
        model: type[M],
        record_cls: type[Any],
        what: str,
        key: str,
        changes: dict[str, Any],
    ) -> M:
        """UpdateItem with SET/REMOVE actions, conditional on the item existing."""
        fields = {f.name for f in dataclasses.fields(record_cls)}
        hash_name = str(model._hash_keyname)
        unknown = set(changes) - fields | ({hash_name} & set(changes))
        if unknown:
            raise InvalidInputError(f"cannot update {what} fields {sorted(unknown)}")
        changes = {**changes, "updated_at": changes.get("updated_at") or utcnow()}
        actions: list[Action] = []
        for name, value in changes.items():
            attr: Attribute[Any] = getattr(model, name)
            if isinstance(value, enum.Enum):
                value = value.value
            actions.append(attr.remove() if value is None else attr.set(value))
        item = model(**{hash_name: key})  # type: ignore[arg-type]
        hash_attr: Attribute[Any] = getattr(model, hash_name)
        try:
            self._call(lambda: item.update(actions, condition=hash_attr.exists()), f"update {what}")
        except ConflictError as exc:
            raise NotFoundError(f"{what} not found", id=key) from exc
        return item
