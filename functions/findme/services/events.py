"""Parse the events that start pipeline work: S3 notifications and Distributed Map batches.

Sources: the S3 event message structure (AWS S3 User Guide, "Event message structure",
version 2.1: keys are URL-encoded with ``+`` for spaces), the ``s3:TestEvent`` S3 sends when a
notification is configured, SNS envelopes (S3 -> SNS -> SQS fan-out), and the Step Functions
Distributed Map ``ItemBatcher`` input (``{"Items": [...], "BatchInput": {...}}``) whose items,
from an S3 ``ListObjectsV2`` item reader, carry ``Key`` and ``Size``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from findme.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class MapBatch:
    """A Distributed Map item batch: ``(key, size or None)`` items and the shared batch input."""

    items: list[tuple[str, int | None]]
    job_id: str | None = None
    force: bool = False


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
    if isinstance(event, dict) and event.get("Type") == "Notification" and "Message" in event:
        event = _json(event["Message"])  # SNS envelope
    if not isinstance(event, dict):
        raise InvalidInputError("SQS message body is not an S3 event object")
    if event.get("Event") == "s3:TestEvent":
        return []
    records = event.get("Records")
    if not isinstance(records, list):
        raise InvalidInputError("SQS message body is not an S3 event (no Records)")
    out: list[tuple[str, int | None]] = []
    for record in records:
        try:
            name = str(record["eventName"])
            s3 = record["s3"]
            record_bucket = str(s3["bucket"]["name"])
            raw_key = str(s3["object"]["key"])
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"malformed S3 event record: missing {exc}") from exc
        if not name.startswith("ObjectCreated:"):
            continue
        if bucket is not None and record_bucket != bucket:
            continue
        size = s3["object"].get("size")
        out.append((unquote_plus(raw_key), int(size) if size is not None else None))
    return out


def parse_distributed_map_batch(event: dict[str, Any]) -> MapBatch:
    """Items and batch input of a Distributed Map ``ItemBatcher`` invocation.

    Items may be S3 listing items (``{"Key", "Size", ...}``) or plain ``{"key": ...}`` /
    key strings (an id-list map). ``BatchInput`` may carry ``job_id`` and ``force``.

    Raises:
        InvalidInputError: ``Items`` is not a list or an item has no key.
    """
    items = event.get("Items")
    if not isinstance(items, list):
        raise InvalidInputError("Distributed Map batch without an Items list")
    batch_input = event.get("BatchInput") or {}
    out: list[tuple[str, int | None]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
            continue
        key = item.get("Key", item.get("key")) if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"Distributed Map item without a key: {item!r}"[:200])
        size = item.get("Size", item.get("size"))
        out.append((key, int(size) if size is not None else None))
    job_id = batch_input.get("job_id")
    return MapBatch(
        items=out,
        job_id=str(job_id) if job_id else None,
        force=bool(batch_input.get("force", False)),
    )


def _json(value: str | dict[str, Any] | Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("message body is not JSON") from exc
