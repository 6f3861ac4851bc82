"""The events that start pipeline work, one pydantic model per event source.

Every Lambda handler parses its event with one of these models (never ``isinstance`` checks
or ``dict.get`` chains), and a malformed event is an :class:`~findme.errors.InvalidInputError`
naming what is wrong:

=================================  =====================================  ====================
source                             model                                  handler
=================================  =====================================  ====================
SQS message body: S3 notification  :class:`S3Notification` (in an SNS     digest (SQS records:
                                   :class:`SnsEnvelope` when fanned out)  Powertools
                                                                          ``SQSRecord``)
Distributed Map ``ItemBatcher``    :class:`MapBatchEvent`                 digest
Step Functions task input          :class:`ZipTask`                       zip
Step Functions task input          ``ClusterTask``                        cluster
                                   (:mod:`findme.services.cluster`)
Step Functions task input / map    ``CurationEvent``                      curation
                                   (:mod:`findme.services.curation_jobs`)
API Gateway HTTP API v2 / REST v1  Mangum                                 api
=================================  =====================================  ====================

Sources: the S3 event message structure (AWS S3 User Guide, "Event message structure",
version 2.1: keys are URL-encoded with ``+`` for spaces), the ``s3:TestEvent`` S3 sends when a
notification is configured, SNS envelopes (S3 -> SNS -> SQS fan-out), and the Step Functions
Distributed Map ``ItemBatcher`` input (``{"Items": [...], "BatchInput": {...}}``) whose items,
from an S3 ``ListObjectsV2`` item reader, carry ``Key`` and ``Size``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from findme.errors import InvalidInputError

_M = TypeVar("_M", bound=BaseModel)


def parse_event(model: type[_M], event: object, what: str) -> _M:
    """``event`` validated as ``model``.

    Raises:
        InvalidInputError: the event does not fit (``errors``: pydantic's list, without the
            input values).
    """
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        first = errors[0] if errors else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise InvalidInputError(f"bad {what}: {where}: {first['msg']}", errors=errors) from exc


class _Event(BaseModel):
    """Event models ignore fields they do not use (AWS adds fields over time)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- S3 notifications (SQS message bodies) -------------------------------------------------
class S3Bucket(_Event):
    name: str


class S3Object(_Event):
    key: str = Field(description="URL-encoded (``+`` for spaces), as S3 sends it.")
    size: int | None = Field(default=None, ge=0, description="Bytes.")


class S3Entity(_Event):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(_Event):
    event_name: str = Field(validation_alias="eventName")
    s3: S3Entity


class S3Notification(_Event):
    """An S3 event message (``Records``), or S3's ``s3:TestEvent`` (no records)."""

    records: list[S3EventRecord] = Field(default_factory=list, validation_alias="Records")
    event: str | None = Field(default=None, validation_alias="Event")

    def created(self, bucket: str | None = None) -> list[tuple[str, int | None]]:
        """``(key, size_bytes or None)`` of each ``ObjectCreated:*`` record (in ``bucket``
        when given), keys URL-decoded; empty for ``s3:TestEvent``."""
        return [
            (unquote_plus(r.s3.object.key), r.s3.object.size)
            for r in self.records
            if r.event_name.startswith("ObjectCreated:")
            and (bucket is None or r.s3.bucket.name == bucket)
        ]


class SnsEnvelope(_Event):
    """An SNS notification delivered to SQS (raw delivery off): the S3 event in ``Message``."""

    type: Literal["Notification"] = Field(validation_alias="Type")
    message: str = Field(validation_alias="Message")


def parse_s3_notification(
    body: str | dict[str, Any], *, bucket: str | None = None
) -> list[tuple[str, int | None]]:
    """Objects created, from one SQS message body holding an S3 event.

    Args:
        body: the message body (JSON text or already parsed).
        bucket: when set, records of other buckets are ignored.

    Returns:
        ``(key, size_bytes or None)`` for each ``ObjectCreated:*`` record, keys URL-decoded;
        empty for ``s3:TestEvent`` and for other event types.

    Raises:
        InvalidInputError: the body is not JSON or not an S3 event (a poison message).
    """
    event = _json(body)
    if isinstance(event, dict) and event.get("Type") == "Notification":
        event = _json(parse_event(SnsEnvelope, event, "SNS envelope").message)
    if not isinstance(event, dict):
        raise InvalidInputError("SQS message body is not an S3 event object")
    if event.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(event.get("Records"), list):
        raise InvalidInputError("SQS message body is not an S3 event (no Records)")
    return parse_event(S3Notification, event, "S3 event").created(bucket)


# --- Distributed Map item batches ------------------------------------------------------------
class MapItem(_Event):
    """An S3 listing item (``{"Key", "Size", ...}``) or ``{"key", "size"}``."""

    key: str = Field(min_length=1, validation_alias=AliasChoices("Key", "key"))
    size: int | None = Field(default=None, ge=0, validation_alias=AliasChoices("Size", "size"))


class MapBatchInput(_Event):
    job_id: str | None = None
    force: bool = False


class MapBatchEvent(_Event):
    """A Distributed Map ``ItemBatcher`` invocation: items are S3 listing items, ``{"key"}``
    objects or plain key strings (an id-list map)."""

    items: list[MapItem | str] = Field(validation_alias="Items")
    batch_input: MapBatchInput = Field(default_factory=MapBatchInput, validation_alias="BatchInput")


@dataclass(frozen=True, slots=True)
class MapBatch:
    """A Distributed Map item batch: ``(key, size or None)`` items and the shared batch input."""

    items: list[tuple[str, int | None]]
    job_id: str | None = None
    force: bool = False


def parse_distributed_map_batch(event: dict[str, Any]) -> MapBatch:
    """Items and batch input of a Distributed Map ``ItemBatcher`` invocation
    (:class:`MapBatchEvent`; ``BatchInput`` may carry ``job_id`` and ``force``).

    Raises:
        InvalidInputError: ``Items`` is not a list or an item has no key.
    """
    batch = parse_event(MapBatchEvent, event, "Distributed Map batch")
    items: list[tuple[str, int | None]] = []
    for item in batch.items:
        if isinstance(item, str):
            if not item:
                raise InvalidInputError("Distributed Map item with an empty key")
            items.append((item, None))
        else:
            items.append((item.key, item.size))
    job_id = batch.batch_input.job_id
    return MapBatch(items=items, job_id=job_id or None, force=batch.batch_input.force)


# --- Step Functions task inputs ----------------------------------------------------------------
class ZipTask(_Event):
    """The zip task's input: ``{"job_id": "<download job id>"}`` (other keys ignored)."""

    job_id: str = Field(min_length=1)


def _json(value: str | dict[str, Any] | Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("message body is not JSON") from exc
