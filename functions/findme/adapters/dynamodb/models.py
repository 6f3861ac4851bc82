"""PynamoDB models over the tables of :mod:`findme.tables`, unbound (no table name).

Models are declared once (``*Model`` base classes with attributes and indexes) and bound to
concrete table names and an endpoint by :func:`bind_model` (PynamoDB copies indexes onto
subclasses), so tests and the local stack can use several prefixes and endpoints in one
process. Access patterns per key and index are written in :mod:`findme.tables`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar, cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from findme import tables
from findme.config import Settings

M = TypeVar("M", bound=Model)

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
    # stored under "is_manual_assignment": the name is kept for deployed data
    is_manual_placement = BooleanAttribute(default=False, attr_name="is_manual_assignment")
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


# the index and table keep their deployed names (user_id-index of the assignments table)
class UserPersonLinksIndex(GlobalSecondaryIndex["PersonLinkModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "user_id-index"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class PersonLinkModel(Model):
    group_id = UnicodeAttribute(hash_key=True)
    person_id = UnicodeAttribute(range_key=True)
    user_id = UnicodeAttribute()
    similarity = _Number()
    strategy = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    vote_share = _Number(null=True)
    user_index = UserPersonLinksIndex()


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
    tables.PERSON_LINKS.name: PersonLinkModel,
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
