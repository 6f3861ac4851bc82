"""The local SQS poller honours partial batch responses like Lambda's event source mapping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from findme.config import Settings
from findme.local.worker import DigestPoller, start_workers
from findme.ports import QueueMessage


class FakeQueue:
    arn = "arn:aws:sqs:us-east-1:000000000000:digest"

    def __init__(self, batches: list[list[QueueMessage]]) -> None:
        self._batches = batches
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def receive(self, *, max_messages: int = 10, wait_s: int = 1) -> list[QueueMessage]:
        with self._lock:
            if self._batches:
                return self._batches.pop(0)
        time.sleep(0.01)
        return []

    def delete(self, receipt_handles: Sequence[str]) -> None:
        self.deleted.extend(receipt_handles)


def msg(i: int) -> QueueMessage:
    return QueueMessage(message_id=f"m{i}", receipt_handle=f"rh{i}", body="{}")


def test_succeeded_messages_are_deleted_and_failures_left_for_retry() -> None:
    # Given three messages and a handler that reports m2 as failed
    queue = FakeQueue([[msg(1), msg(2), msg(3)]])
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    poller = DigestPoller(queue, handler, region="us-east-1")
    # When one poll runs
    assert poller.poll_once() == 3
    # Then the handler got a Lambda-shaped SQS event and only m1, m3 were deleted
    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert (record["messageId"], record["receiptHandle"]) == ("m1", "rh1")
    assert queue.deleted == ["rh1", "rh3"]
    assert (poller.stats.succeeded, poller.stats.failed) == (2, 1)


def test_handler_exception_leaves_the_whole_batch() -> None:
    # Given a handler that raises (an invocation error)
    queue = FakeQueue([[msg(1), msg(2)]])

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("crash")

    poller = DigestPoller(queue, handler, region="us-east-1")
    # When polled, Then nothing is deleted (both come back after the visibility timeout)
    poller.poll_once()
    assert queue.deleted == []
    assert poller.stats.failed == 2


def test_start_workers_polls_in_a_thread_until_stopped() -> None:
    # Given running workers on a queue with two batches
    queue = FakeQueue([[msg(1)], [msg(2)]])
    handled = threading.Event()
    calls: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event["Records"][0]["messageId"])
        if len(calls) == 2:
            handled.set()
        return {"batchItemFailures": []}

    stop = start_workers(Settings(), queue=queue, handler=handler, wait_s=0)
    # When both batches were handled and stop() is called
    assert handled.wait(5)
    stop()
    # Then both were deleted and the thread has ended
    assert queue.deleted == ["rh1", "rh2"]
    assert not stop._thread.is_alive()


def created_body(key: str) -> str:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": key}},
    }
    return json.dumps({"Records": [record]})


def test_idle_queue_reclusters_the_groups_that_got_photos() -> None:
    # Given two messages for photos of groups g1 and g2 (one fails and is left for retry),
    # then an empty queue
    queue = FakeQueue(
        [
            [
                QueueMessage("m1", "rh1", created_body("originals/g1/a.jpg")),
                QueueMessage("m2", "rh2", created_body("originals/g2/b.jpg")),
                QueueMessage("m3", "rh3", created_body("faces/g3/f.jpg")),
            ]
        ]
    )
    idle_calls: list[set[str]] = []

    def on_idle(groups: set[str]) -> dict[str, dict[str, Any]]:
        idle_calls.append(groups)
        return {g: {"faces_processed": 1} for g in groups}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    poller = DigestPoller(queue, handler, region="us-east-1", on_idle=on_idle)
    # When the batch is handled and the queue then polls empty twice
    poller.poll_once()
    assert idle_calls == []
    poller.poll_once()
    poller.poll_once()
    # Then only the group whose photo succeeded is re-clustered, once
    assert idle_calls == [{"g1"}]
    assert poller.stats.clustered == {"g1": {"faces_processed": 1}}
