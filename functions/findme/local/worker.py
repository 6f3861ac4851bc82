"""Local SQS poller: feeds the digest handler from the digest queue, as Lambda's event source would.

The local bucket sends ``s3:ObjectCreated:*`` notifications for ``originals/`` to the digest
queue (moto implements S3 -> SQS notifications). The poller long-polls the queue, calls the
digest handler with a Lambda-shaped SQS batch event, deletes the messages that succeeded and
leaves those listed in ``batchItemFailures`` to reappear after the visibility timeout (and
reach the dead-letter queue after ``maxReceiveCount``), exactly like the Lambda SQS event
source mapping with ``ReportBatchItemFailures``. When the queue runs empty it re-clusters the
groups that received photos (``auto_cluster``), so a local upload ends up in persons.

Threads, not processes: Qdrant local mode allows one process per storage path, so the
workers run inside the API server's process (``start_workers`` from ``findme local run``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.errors import InvalidInputError
from findme.observability import logger
from findme.ports import MessageQueue, QueueMessage
from findme.services.events import parse_s3_notification

Handler = Callable[[dict[str, Any], Any], Any]
#: Seconds to back off after an SQS error before polling again.
ERROR_BACKOFF_S = 2.0


@dataclass(slots=True)
class PollStats:
    """Counters since the worker started (read by tests and ``findme local status``)."""

    batches: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: int = 0
    #: group id -> result of the last re-clustering the poller ran for it (auto_cluster).
    clustered: dict[str, dict[str, Any]] = field(default_factory=dict)


def sqs_event(messages: list[QueueMessage], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda SQS event for ``messages`` (shape of the SQS event source mapping)."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": m.attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class DigestPoller:
    """Polls one queue and hands batches to ``handler`` (the digest Lambda handler)."""

    def __init__(
        self,
        queue: MessageQueue,
        handler: Handler,
        *,
        region: str,
        max_messages: int = 10,
        wait_s: int = 1,
        on_idle: Callable[[set[str]], dict[str, dict[str, Any]]] | None = None,
        keys: KeyScheme | None = None,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._region = region
        self._max_messages = max_messages
        self._wait_s = wait_s
        self._on_idle = on_idle
        self._keys = keys or KeyScheme()
        self._touched: set[str] = set()
        self.stats = PollStats()
        #: Held while a batch is handled (``Workers.paused`` waits for it).
        self.busy = threading.Lock()

    def poll_once(self) -> int:
        """Receive one batch, process it, delete what succeeded -> messages received."""
        messages = self._queue.receive(max_messages=self._max_messages, wait_s=self._wait_s)
        if not messages:
            self._idle()
            return 0
        self.stats.batches += 1
        self.stats.received += len(messages)
        event = sqs_event(messages, queue_arn=self._queue.arn, region=self._region)
        from findme.local.orchestrator import LocalContext

        context = LocalContext(function_name="findme-digest", aws_request_id=messages[0].message_id)
        try:
            response = self._handler(event, context) or {}
        except Exception:
            # Lambda semantics: an invocation error returns the whole batch to the queue.
            logger.exception("digest handler raised; the batch will be retried")
            self.stats.failed += len(messages)
            return len(messages)
        failed_ids = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        done = [m.receipt_handle for m in messages if m.message_id not in failed_ids]
        if done:
            self._queue.delete(done)
            self._touched.update(
                self._groups_of(m for m in messages if m.message_id not in failed_ids)
            )
        self.stats.succeeded += len(done)
        self.stats.failed += len(messages) - len(done)
        return len(messages)

    def _groups_of(self, messages: Iterable[QueueMessage]) -> set[str]:
        groups: set[str] = set()
        for message in messages:
            try:
                objects = parse_s3_notification(message.body)
            except InvalidInputError:
                continue
            groups.update(
                self._keys.parse_original(key).group_id
                for key, _ in objects
                if self._keys.is_original(key)
            )
        return groups

    def _idle(self) -> None:
        """The queue is empty: hand the groups digested since the last idle to ``on_idle``."""
        if not self._touched or self._on_idle is None:
            return
        groups, self._touched = self._touched, set()
        try:
            self.stats.clustered.update(self._on_idle(groups))
        except Exception:
            logger.exception("idle callback failed", extra={"groups": sorted(groups)})

    def run(self, stop: threading.Event, active: threading.Event | None = None) -> None:
        """Poll until ``stop`` is set (idle while ``active`` is clear); SQS errors are logged
        and retried after a pause."""
        while not stop.is_set():
            if active is not None and not active.is_set():
                stop.wait(0.2)
                continue
            try:
                with self.busy:
                    self.poll_once()
            except Exception:
                self.stats.errors += 1
                logger.exception("digest poller error")
                stop.wait(ERROR_BACKOFF_S)


def start_workers(
    settings: Settings,
    *,
    queue: MessageQueue | None = None,
    handler: Handler | None = None,
    wait_s: int = 1,
    auto_cluster: bool = True,
) -> Workers:
    """Start the digest poller thread; returns ``stop`` (call it to stop and join the thread).

    Args:
        settings: needs ``digest_queue_url`` (or pass ``queue``).
        queue: the queue to poll (default: ``SqsQueue`` on ``settings.digest_queue_url``).
        handler: the digest handler (default: ``functions/digest/handler.py``).
        wait_s: long-poll wait per receive, seconds (bounds how long ``stop()`` takes).
        auto_cluster: when the queue runs empty, re-cluster the groups that got photos since
            (the cluster handler, in the poller thread), so uploaded photos end up in persons
            with no further command; placing new faces alone only joins known persons.

    Raises:
        DependencyError: the queue is not configured or unreachable.
    """
    if queue is None:
        from findme.adapters.sqs import SqsQueue

        queue = SqsQueue(settings)
    if handler is None:
        from findme.local.orchestrator import load_handler

        handler = load_handler("digest")
    poller = DigestPoller(
        queue,
        handler,
        region=settings.aws_region,
        wait_s=wait_s,
        on_idle=cluster_groups if auto_cluster else None,
        keys=KeyScheme.from_settings(settings),
    )
    workers = Workers(poller)
    logger.info("digest poller started", extra={"queue": queue.arn})
    return workers


def cluster_groups(group_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Re-cluster each group with the cluster handler (one at a time, in this thread).

    Returns:
        group id -> the cluster handler's result.
    """
    from findme.local.orchestrator import invoke

    results: dict[str, dict[str, Any]] = {}
    for group_id in sorted(group_ids):
        results[group_id] = invoke("cluster", {"group_id": group_id})
        logger.info("group re-clustered after uploads", extra={"group_id": group_id})
    return results


class Workers:
    """Running poller threads; calling the object stops them (``stop()``)."""

    def __init__(self, poller: DigestPoller, *, join_timeout_s: float = 60.0) -> None:
        self.poller = poller
        self._stop = threading.Event()
        self._active = threading.Event()
        self._active.set()
        self._join_timeout_s = join_timeout_s
        self._thread = threading.Thread(
            target=poller.run, args=(self._stop, self._active), name="digest-poller", daemon=True
        )
        self._thread.start()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop taking messages (after the batch in hand) inside the ``with`` block."""
        self._active.clear()
        with self.poller.busy:
            pass
        try:
            yield
        finally:
            self._active.set()

    def __call__(self) -> None:
        """Stop polling and wait for the batch in hand to finish."""
        self._stop.set()
        self._thread.join(timeout=self._join_timeout_s)
