"""digest Lambda: S3 ObjectCreated notifications (via SQS) and Distributed Map item batches.

Two event shapes:
- an SQS batch (``{"Records": [{"eventSource": "aws:sqs", "body": <S3 event JSON>}, ...]}``):
  each message is digested on its own and the handler returns an SQS partial batch response
  (``{"batchItemFailures": [{"itemIdentifier": messageId}]}``), so one bad message never
  fails its neighbours. A permanently undecodable photo is marked ``failed`` and its message
  *succeeds* (no retry storm); ``s3:TestEvent`` messages are ignored. The records run
  ``Settings.digest_workers`` at a time on threads (:class:`ConcurrentBatchProcessor`).
- a Step Functions Distributed Map item batch (``{"Items": [{"Key": ..., "Size": ...}],
  "BatchInput": {"job_id": ..., "force": false}}``): returns the batch summary, or raises
  ``DigestBatchError`` when some items hit transient errors (the map retries the batch).
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.errors import InvalidInputError
from findme.observability import logger, metrics, tracer
from findme.services.digest import DigestDeps, digest_keys, digest_object, map_concurrently
from findme.services.events import parse_distributed_map_batch, parse_s3_notification

#: Powertools' metric set is a plain dict updated read-modify-write: records on threads
#: add their counts one at a time.
_METRICS_LOCK = threading.Lock()


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' SQS :class:`BatchProcessor` with the records handled ``workers`` at a time.

    Each record still goes through ``_process_record``, so a record that raises is reported
    in ``batchItemFailures`` and the others succeed, exactly as one after another;
    ``success_handler``/``failure_handler`` only append to lists (atomic under the GIL).
    """

    def __init__(self, *, workers: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._workers = workers

    def process(self) -> list[tuple[Any, ...]]:
        return map_concurrently(
            self._process_record, list(self.records), self._workers, name="digest-record"
        )


def deps() -> DigestDeps:
    """Ports and settings, built once per execution environment (models load lazily)."""
    return wiring.digest_deps()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """Digest every ObjectCreated object of one SQS message; raise to retry the message."""
    try:
        objects = parse_s3_notification(record.body, bucket=deps().settings.bucket)
    except InvalidInputError:  # a poison message never parses: drop it rather than retry
        logger.exception("unparseable message dropped", extra={"message_id": record.message_id})
        return
    for key, size in objects:
        try:
            outcome = digest_object(key, deps(), size_bytes=size, force=True)
        except Exception:
            logger.exception("digest failed; the message will be retried", extra={"key": key})
            raise
        with _METRICS_LOCK:
            metrics.add_metric(name=f"Images{outcome.status.capitalize()}", unit="Count", value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Items" in event:
        batch = parse_distributed_map_batch(event)
        return digest_keys(batch.items, deps(), job_id=batch.job_id, force=batch.force).as_dict()
    # One processor per invocation: it keeps per-batch state, and the local stack may call
    # this handler from several threads (poller, orchestrator).
    processor = ConcurrentBatchProcessor(
        workers=deps().settings.digest_workers,
        event_type=EventType.SQS,
        raise_on_entire_batch_failure=False,
    )
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
