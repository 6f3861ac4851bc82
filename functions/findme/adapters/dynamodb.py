"""DynamoDB metadata store: PynamoDB models over the tables of :mod:`findme.tables`.

Models are declared once (``*Model`` base classes with attributes and indexes) and bound to
concrete table names and an endpoint per :class:`DynamoMetadataStore` by subclassing with a
``Meta`` (PynamoDB copies indexes onto subclasses), so tests and the local stack can use
several prefixes and endpoints in one process.

Access patterns per key and index are written in :mod:`findme.tables`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar, cast

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from findme import tables
from findme.config import Settings
from findme.domain.records import (
    Assignment,
    Face,
    Group,
    GroupRole,
    Image,
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    Membership,
    OtpChallenge,
    Page,
    Person,
    ReferenceFace,
    Role,
    Section,
    User,
    utcnow,
)
from findme.errors import ConflictError, DependencyError, InvalidInputError, NotFoundError

R = TypeVar("R")
M = TypeVar("M", bound=Model)

_CONDITION_FAILED = {"ConditionalCheckFailedException", "TransactionCanceledException"}

#: One hour: the OTP send-rate window (``Settings.otp_sends_per_hour``).
OTP_SEND_WINDOW = timedelta(hours=1)

#: DynamoDB key value sizes, UTF-8 bytes: partition key 1-2048, sort key 1-1024 (AWS
#: DynamoDB developer guide, "Quotas": attributes). Larger or empty keys are rejected with a
#: ValidationException, so an id outside them names no item.
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024


def _storable(hash_key: str | None, range_key: str | None = None) -> bool:
    """Whether DynamoDB can hold these key values (an id it cannot hold names no item)."""
    if not hash_key or len(hash_key.encode()) > MAX_HASH_KEY_BYTES:
        return False
    return range_key is None or 0 < len(range_key.encode()) <= MAX_RANGE_KEY_BYTES


# --- PynamoDB models (unbound: no table name) -------------------------------------------------
class _Str(UnicodeAttribute):
    """A string attribute that may be absent (PynamoDB ``null=True``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(null=True, **kwargs)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python numbers/lists; datetimes -> ISO 8601 (JSON default)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Number(NumberAttribute):
    """A number attribute that also takes numpy scalars (e.g. ``np.float32`` scores)."""

    def serialize(self, value: Any) -> str:
        return json.dumps(value.item() if hasattr(value, "item") else value)


class _Json(JSONAttribute):
    """A JSON attribute that also takes numpy values and datetimes."""

    def serialize(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, default=_plain)


class UserModel(Model):
    user_id = UnicodeAttribute(hash_key=True)
    phone_number = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class PhoneLockModel(Model):
    phone_number = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


class OtpModel(Model):
    phone_number = UnicodeAttribute(hash_key=True)
    code_hash = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()
    attempts = _Number(default=0)
    sends_in_window = _Number(default=1)
    window_started_at = UTCDateTimeAttribute()
    ttl = TTLAttribute(null=True)


class ReferenceFaceModel(Model):
    user_id = UnicodeAttribute(hash_key=True)
    face_id = UnicodeAttribute(range_key=True)
    s3_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    thumbnail_key = _Str()


class InviteCodeIndex(GlobalSecondaryIndex["GroupModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "invite_code-index"
        projection = AllProjection()

    invite_code = UnicodeAttribute(hash_key=True)


class PhotographerInviteCodeIndex(GlobalSecondaryIndex["GroupModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "photographer_invite_code-index"
        projection = AllProjection()

    photographer_invite_code = UnicodeAttribute(hash_key=True)


def _first_hit(index: GlobalSecondaryIndex[Any], hash_key: str) -> list[Any]:
    """At most one item of ``index`` with ``hash_key``."""
    return list(index.query(hash_key, limit=1))


class GroupModel(Model):
    group_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    invite_code = _Str()
    photographer_invite_code = _Str()
    common_photo_ids = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UTCDateTimeAttribute()
    person_count = NumberAttribute(default=0)
    clustered_face_count = NumberAttribute(default=0)
    gallery_updated_at = UTCDateTimeAttribute(null=True)
    last_cluster_job_id = _Str()
    invite_code_index = InviteCodeIndex()
    photographer_invite_code_index = PhotographerInviteCodeIndex()


class UserGroupsIndex(GlobalSecondaryIndex["MembershipModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "user_id-index"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class MembershipModel(Model):
    group_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    role = UnicodeAttribute()
    joined_at = UTCDateTimeAttribute()
    rejected_face_ids = ListAttribute(of=UnicodeAttribute, default=list)
    user_index = UserGroupsIndex()


class SectionModel(Model):
    group_id = UnicodeAttribute(hash_key=True)
    section_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()


class GroupImagesIndex(GlobalSecondaryIndex["ImageModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "group_id-created_at-index"
        projection = AllProjection()

    group_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class ImageModel(Model):
    image_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute()
    s3_key = UnicodeAttribute()
    status = UnicodeAttribute()
    failure_reason = _Str()
    file_name = _Str()
    content_type = _Str()
    size_bytes = _Number(null=True)
    width = _Number(null=True)
    height = _Number(null=True)
    captured_at = UTCDateTimeAttribute(null=True)
    captured_utc_offset_min = _Number(null=True)
    face_count = _Number(default=0)
    common = BooleanAttribute(default=False)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    deleted_face_ids = ListAttribute(of=UnicodeAttribute, default=list)
    description = UnicodeAttribute(default="")
    section_id = _Str()
    uploaded_by = _Str()
    created_at = UTCDateTimeAttribute()
    processed_at = UTCDateTimeAttribute(null=True)
    thumbnail_key = _Str()
    preview_key = _Str()
    group_index = GroupImagesIndex()


class ImageFacesIndex(GlobalSecondaryIndex["FaceModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "image_id-index"
        projection = AllProjection()

    image_id = UnicodeAttribute(hash_key=True)
    face_index = _Number(range_key=True)


class PersonFacesIndex(GlobalSecondaryIndex["FaceModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "person_id-index"
        projection = AllProjection()

    person_id = UnicodeAttribute(hash_key=True)
    face_id = UnicodeAttribute(range_key=True)


class GroupFacesIndex(GlobalSecondaryIndex["FaceModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "group_id-index"
        projection = AllProjection()

    group_id = UnicodeAttribute(hash_key=True)
    face_id = UnicodeAttribute(range_key=True)


class FaceModel(Model):
    face_id = UnicodeAttribute(hash_key=True)
    image_id = UnicodeAttribute()
    group_id = UnicodeAttribute()
    face_index = _Number()
    bbox = _Json()
    landmarks = _Json()
    confidence = _Number()
    blur_score = _Number()
    brightness_score = _Number()
    overall_quality = _Number()
    quality_grade = UnicodeAttribute()
    issues = ListAttribute(of=UnicodeAttribute, default=list)
    person_id = _Str()
    is_manual_assignment = BooleanAttribute(default=False)
    thumbnail_key = _Str()
    attributes = _Json(default=dict)
    created_at = UTCDateTimeAttribute()
    image_index = ImageFacesIndex()
    person_index = PersonFacesIndex()
    group_index = GroupFacesIndex()


class GroupPersonsIndex(GlobalSecondaryIndex["PersonModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "group_id-index"
        projection = AllProjection()

    group_id = UnicodeAttribute(hash_key=True)
    person_id = UnicodeAttribute(range_key=True)


class PersonModel(Model):
    person_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute()
    name = _Str()
    hidden = BooleanAttribute(default=False)
    face_count = _Number(default=0)
    image_count = _Number(default=0)
    cover_face_id = _Str()
    linked_user_id = _Str()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    group_index = GroupPersonsIndex()


class UserAssignmentsIndex(GlobalSecondaryIndex["AssignmentModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "user_id-index"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class AssignmentModel(Model):
    group_id = UnicodeAttribute(hash_key=True)
    person_id = UnicodeAttribute(range_key=True)
    user_id = UnicodeAttribute()
    similarity = _Number()
    strategy = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    vote_share = _Number(null=True)
    user_index = UserAssignmentsIndex()


class JobModel(Model):
    job_id = UnicodeAttribute(hash_key=True)
    job_type = UnicodeAttribute()
    status = UnicodeAttribute()
    group_id = _Str()
    user_id = _Str()
    params = _Json(default=dict)
    total = _Number(default=0)
    done = _Number(default=0)
    failed = _Number(default=0)
    result = _Json(default=dict)
    error = _Str()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


#: Table spec name -> unbound model (``tests/unit/data/test_tables.py`` checks they agree).
MODELS: dict[str, type[Model]] = {
    tables.USERS.name: UserModel,
    tables.USER_PHONES.name: PhoneLockModel,
    tables.OTP.name: OtpModel,
    tables.REFERENCE_FACES.name: ReferenceFaceModel,
    tables.GROUPS.name: GroupModel,
    tables.MEMBERSHIPS.name: MembershipModel,
    tables.SECTIONS.name: SectionModel,
    tables.IMAGES.name: ImageModel,
    tables.FACES.name: FaceModel,
    tables.PERSONS.name: PersonModel,
    tables.ASSIGNMENTS.name: AssignmentModel,
    tables.JOBS.name: JobModel,
}


def bind_model(base: type[M], settings: Settings, table: str) -> type[M]:
    """A subclass of ``base`` bound to ``Settings.table_name(table)`` at the configured endpoint."""
    meta = type(
        "Meta",
        (),
        {
            "table_name": settings.table_name(table),
            "region": settings.aws_region,
            "host": settings.dynamodb_endpoint_url,
            "billing_mode": "PAY_PER_REQUEST",
            "max_retry_attempts": 3,
        },
    )
    return cast(type[M], type(base.__name__, (base,), {"Meta": meta, "__module__": __name__}))


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


class DynamoMetadataStore:
    """:class:`findme.ports.MetadataStore` over DynamoDB (or DynamoDB Local / moto).

    Args:
        settings: table names via ``Settings.table_name``; endpoint via
            ``Settings.dynamodb_endpoint_url`` (``None`` = AWS); region ``aws_region``.

    Errors: missing items raise :class:`NotFoundError`, failed conditions
    :class:`ConflictError`, any other DynamoDB failure :class:`DependencyError`.
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
        self.assignments = bind_model(AssignmentModel, b, tables.ASSIGNMENTS.name)
        self.jobs = bind_model(JobModel, b, tables.JOBS.name)
        self._connection = Connection(
            region=settings.aws_region, host=settings.dynamodb_endpoint_url, max_retry_attempts=3
        )

    # --- helpers ------------------------------------------------------------------------------
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

    # --- users and OTP ------------------------------------------------------------------------
    def put_user(self, user: User) -> None:
        """Create or update a user; its phone number stays unique.

        The user item and its ``user-phones`` lock item are written in one transaction; the
        lock is conditional on being absent or already this user's. A changed phone number
        releases the old lock in the same transaction.

        Raises:
            ConflictError: the phone number belongs to another user.
        """
        existing = self._get_or_none(self.users, "user", user.user_id)
        lock = self.phones(phone_number=user.phone_number, user_id=user.user_id)

        def run() -> None:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_model(self.users, user))
                tx.save(
                    lock,
                    condition=self.phones.phone_number.does_not_exist()
                    | (self.phones.user_id == user.user_id),
                )
                if existing is not None and existing.phone_number != user.phone_number:
                    tx.delete(
                        self.phones(phone_number=existing.phone_number),
                        condition=self.phones.user_id == user.user_id,
                    )

        try:
            self._call(run, "put user")
        except ConflictError as exc:
            raise ConflictError(
                "phone number already registered", code="phone_taken", field="phone_number"
            ) from exc

    def get_user(self, user_id: str) -> User:
        return _from_model(User, self._get(self.users, "user", user_id))

    def find_user_by_phone(self, phone_number: str) -> User | None:
        lock = self._get_or_none(self.phones, "phone", phone_number)
        if lock is None:
            return None
        user = self._get_or_none(self.users, "user", lock.user_id)
        return None if user is None else _from_model(User, user)

    def list_users(self, *, limit: int = 50, cursor: str | None = None) -> Page[User]:
        model = self.users
        return self._page(
            lambda n, start: model.scan(limit=n, last_evaluated_key=start),
            ("user_id",),
            User,
            limit,
            cursor,
        )

    def delete_user(self, user_id: str) -> None:
        """Delete a user and release its phone number (idempotent)."""
        existing = self._get_or_none(self.users, "user", user_id)
        if existing is None:
            return

        def run() -> None:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(existing)
                tx.delete(
                    self.phones(phone_number=existing.phone_number),
                    condition=self.phones.phone_number.does_not_exist()
                    | (self.phones.user_id == user_id),
                )

        self._call(run, "delete user")

    def put_reference_face(self, ref: ReferenceFace) -> None:
        self._call(lambda: _to_model(self.refs, ref).save(), "put reference face")

    def list_reference_faces(self, user_id: str) -> list[ReferenceFace]:
        if not _storable(user_id):
            return []
        items = self._call(lambda: list(self.refs.query(user_id)), "list reference faces")
        return [_from_model(ReferenceFace, item) for item in items]

    def delete_reference_face(self, user_id: str, face_id: str) -> None:
        item = self.refs(user_id=user_id, face_id=face_id)
        self._call(item.delete, "delete reference face")

    def delete_reference_faces(self, user_id: str) -> None:
        self._batch_delete(self.refs, self._call(lambda: list(self.refs.query(user_id)), "query"))

    def put_otp(self, otp: OtpChallenge) -> None:
        """Replace the phone's challenge.

        The item's TTL is the later of the code's expiry and the end of its one-hour send
        window, so the send-rate count survives the code; readers compare ``expires_at``.
        """
        ttl = max(otp.expires_at, otp.window_started_at + OTP_SEND_WINDOW)
        self._call(lambda: _to_model(self.otps, otp, ttl=ttl).save(), "put otp")

    def take_otp_attempt(self, phone_number: str, code_hash: str, max_attempts: int) -> bool:
        """Count one guess at the phone's current code, atomically (one conditional
        UpdateItem ``ADD attempts 1`` if ``attempts < max_attempts`` and the code is still
        ``code_hash``). True: the guess may be compared; False: the limit is reached or the
        code changed meanwhile. Concurrent guesses can never pass the limit together."""
        model = self.otps
        item = model(phone_number=phone_number)
        condition = (model.attempts < max_attempts) & (model.code_hash == code_hash)
        try:
            self._call(
                lambda: item.update([model.attempts.add(1)], condition=condition),
                "count otp attempt",
            )
        except ConflictError:
            return False
        return True

    def get_otp(self, phone_number: str) -> OtpChallenge | None:
        item = self._get_or_none(self.otps, "otp", phone_number)
        return None if item is None else _from_model(OtpChallenge, item)

    def delete_otp(self, phone_number: str) -> None:
        self._call(lambda: self.otps(phone_number=phone_number).delete(), "delete otp")

    # --- groups, memberships, sections --------------------------------------------------------
    def put_group(self, group: Group) -> None:
        # GSI keys cannot be empty strings: no invite code = not in the (sparse) index.
        model = _to_model(
            self.groups,
            group,
            invite_code=group.invite_code or None,
            photographer_invite_code=group.photographer_invite_code or None,
        )
        self._call(model.save, "put group")

    def set_group_gallery(self, group_id: str, *, persons: int, clustered_faces: int) -> None:
        """Record the gallery size of the last clustering (one UpdateItem; other fields of
        the group are left alone). NotFoundError when the group is gone."""
        model = self.groups
        item = model(group_id=group_id)
        actions: list[Action] = [
            model.person_count.set(persons),
            model.clustered_face_count.set(clustered_faces),
            model.gallery_updated_at.set(utcnow()),
        ]
        try:
            self._call(
                lambda: item.update(actions, condition=model.group_id.exists()), "update group"
            )
        except ConflictError as exc:
            raise NotFoundError("group not found", id=group_id) from exc

    def set_group_cluster_job(self, group_id: str, job_id: str) -> None:
        """Record the group's latest cluster job (one UpdateItem). NotFoundError: no group."""
        model = self.groups
        item = model(group_id=group_id)
        try:
            self._call(
                lambda: item.update(
                    [model.last_cluster_job_id.set(job_id)], condition=model.group_id.exists()
                ),
                "update group",
            )
        except ConflictError as exc:
            raise NotFoundError("group not found", id=group_id) from exc

    def get_group(self, group_id: str) -> Group:
        return self._group_record(self._get(self.groups, "group", group_id))

    @staticmethod
    def _group_record(item: Model) -> Group:
        group = _from_model(Group, item)
        group.invite_code = group.invite_code or ""
        group.photographer_invite_code = group.photographer_invite_code or ""
        return group

    def find_group_by_invite(self, invite_code: str) -> Group | None:
        """The group with this member or photographer invite code (two sparse GSIs)."""
        if not invite_code:
            return None
        indexes: tuple[GlobalSecondaryIndex[GroupModel], ...] = (
            self.groups.invite_code_index,
            self.groups.photographer_invite_code_index,
        )
        for index in indexes:
            items = self._call(partial(_first_hit, index, invite_code), "find group")
            if items:
                return self._group_record(items[0])
        return None

    def list_all_groups(self) -> Iterator[Group]:
        """Every group, streamed (Scan: admin statistics only)."""
        pages = self._call(lambda: self.groups.scan(), "scan groups")
        try:
            for item in pages:
                yield self._group_record(item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: scan groups") from exc

    def delete_group(self, group_id: str) -> None:
        """Delete the group item only; :func:`findme.services.catalog.delete_group` cascades."""
        self._call(lambda: self.groups(group_id=group_id).delete(), "delete group")

    def put_membership(self, membership: Membership) -> None:
        self._call(_to_model(self.memberships, membership).save, "put membership")

    def get_membership(self, group_id: str, user_id: str) -> Membership | None:
        item = self._get_or_none(self.memberships, "membership", group_id, user_id)
        return None if item is None else _from_model(Membership, item)

    def list_groups_of_user(self, user_id: str) -> list[Membership]:
        if not _storable(user_id):
            return []
        index = self.memberships.user_index
        items = self._call(lambda: list(index.query(user_id)), "list groups of user")
        return [_from_model(Membership, item) for item in items]

    def list_members(self, group_id: str) -> list[Membership]:
        if not _storable(group_id):
            return []
        items = self._call(lambda: list(self.memberships.query(group_id)), "list members")
        return [_from_model(Membership, item) for item in items]

    def delete_membership(self, group_id: str, user_id: str) -> None:
        item = self.memberships(group_id=group_id, user_id=user_id)
        self._call(item.delete, "delete membership")

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

    # --- images -------------------------------------------------------------------------------
    def put_image(self, image: Image) -> None:
        self._call(_to_model(self.images, image).save, "put image")

    def get_image(self, image_id: str) -> Image:
        return _from_model(Image, self._get(self.images, "image", image_id))

    def get_images(self, image_ids: Iterable[str]) -> list[Image]:
        """Images by id in the order given; unknown ids are skipped (BatchGetItem, 100 each)."""
        return self._batch_get(self.images, "image_id", Image, image_ids, "get images")

    def list_images(
        self, group_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Image]:
        """Images of a group, newest first (GSI ``group_id-created_at-index``, descending)."""
        if not _storable(group_id):
            return Page([], None)
        index = self.images.group_index
        return self._page(
            lambda n, start: index.query(
                group_id, scan_index_forward=False, limit=n, last_evaluated_key=start
            ),
            ("image_id", "group_id", "created_at"),
            Image,
            limit,
            cursor,
            expect={"group_id": group_id},
        )

    def delete_image(self, image_id: str) -> None:
        """Delete the image item only; :func:`findme.services.catalog.delete_image` cascades."""
        self._call(lambda: self.images(image_id=image_id).delete(), "delete image")

    # --- faces --------------------------------------------------------------------------------
    def put_faces(self, faces: Sequence[Face]) -> None:
        """Batch upsert (BatchWriteItem, 25 per request, unprocessed items retried)."""

        def run() -> None:
            with self.faces.batch_write() as batch:
                for face in faces:
                    batch.save(self._face_model(face))

        self._call(run, "put faces")

    def _face_model(self, face: Face) -> Model:
        return _to_model(self.faces, face, person_id=face.person_id or None)

    def get_face(self, face_id: str) -> Face:
        return _from_model(Face, self._get(self.faces, "face", face_id))

    def get_faces(self, face_ids: Iterable[str]) -> list[Face]:
        """Faces by id in the order given; unknown ids are skipped (BatchGetItem, 100 each)."""
        return self._batch_get(self.faces, "face_id", Face, face_ids, "get faces")

    def list_faces_of_image(self, image_id: str) -> list[Face]:
        if not _storable(image_id):
            return []
        index = self.faces.image_index
        items = self._call(lambda: list(index.query(image_id)), "list faces of image")
        return [_from_model(Face, item) for item in items]

    def list_faces_of_person(self, person_id: str) -> list[Face]:
        if not _storable(person_id):
            return []
        index = self.faces.person_index
        items = self._call(lambda: list(index.query(person_id)), "list faces of person")
        return [_from_model(Face, item) for item in items]

    def list_faces_of_group(self, group_id: str) -> Iterator[Face]:
        """Every face of a group, streamed page by page (GSI ``group_id-index``)."""
        if not _storable(group_id):
            return
        index = self.faces.group_index
        pages = self._call(lambda: index.query(group_id), "list faces of group")
        try:
            for item in pages:
                yield _from_model(Face, item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: list faces of group") from exc

    def update_face_person(self, face_id: str, person_id: str | None, *, manual: bool) -> None:
        """Set (or clear, with ``None``) a face's person. Raises NotFoundError."""
        model = self.faces
        person_action: Action = (
            model.person_id.set(person_id) if person_id else model.person_id.remove()
        )
        item = model(face_id=face_id)
        try:
            self._call(
                lambda: item.update(
                    [person_action, model.is_manual_assignment.set(manual)],
                    condition=model.face_id.exists(),
                ),
                "update face person",
            )
        except ConflictError as exc:
            raise NotFoundError("face not found", id=face_id) from exc

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        self._batch_delete(self.faces, (self.faces(face_id=i) for i in dict.fromkeys(face_ids)))

    # --- persons and assignments --------------------------------------------------------------
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

    def put_assignment(self, assignment: Assignment) -> None:
        self._call(_to_model(self.assignments, assignment).save, "put assignment")

    def list_assignments(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[Assignment]:
        """Assignments of a group, of a user, or of a user in a group.

        Raises:
            InvalidInputError: neither ``group_id`` nor ``user_id`` given.
        """
        model = self.assignments
        if group_id is None and user_id is None:
            raise InvalidInputError("list_assignments needs group_id or user_id")
        if not _storable(group_id if group_id is not None else user_id):
            return []
        if group_id is not None:
            condition = None if user_id is None else model.user_id == user_id
            items = self._call(
                lambda: list(model.query(group_id, filter_condition=condition)), "list assignments"
            )
        else:
            items = self._call(lambda: list(model.user_index.query(user_id)), "list assignments")
        return [_from_model(Assignment, item) for item in items]

    def delete_assignment(self, group_id: str, person_id: str) -> None:
        item = self.assignments(group_id=group_id, person_id=person_id)
        self._call(item.delete, "delete assignment")

    # --- jobs ---------------------------------------------------------------------------------
    def put_job(self, job: Job) -> None:
        self._call(_to_model(self.jobs, job).save, "put job")

    def get_job(self, job_id: str) -> Job:
        return _from_model(Job, self._get(self.jobs, "job", job_id))

    def list_unfinished_jobs(self) -> Iterator[Job]:
        """Jobs still ``pending`` or ``running``, streamed (Scan: local-stack recovery only)."""
        model = self.jobs
        unfinished = model.status.is_in(JobStatus.PENDING.value, JobStatus.RUNNING.value)
        pages = self._call(lambda: model.scan(filter_condition=unfinished), "scan jobs")
        try:
            for item in pages:
                yield _from_model(Job, item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: scan jobs") from exc

    def update_job(self, job_id: str, **changes: Any) -> Job:
        """Set some fields of a job (``updated_at`` is set too) and return the whole job.

        Fields set to ``None`` are removed. Raises NotFoundError, InvalidInputError.
        """
        return _from_model(Job, self._update(self.jobs, Job, "job", job_id, changes))

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        """Atomic ``ADD`` on the counters (safe under concurrent workers). Raises NotFoundError."""
        model = self.jobs
        item = model(job_id=job_id)
        actions: list[Action] = [
            model.done.add(done),
            model.failed.add(failed),
            model.updated_at.set(utcnow()),
        ]
        try:
            self._call(lambda: item.update(actions, condition=model.job_id.exists()), "job")
        except ConflictError as exc:
            raise NotFoundError("job not found", id=job_id) from exc

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
